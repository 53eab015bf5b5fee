"""The nesting-dependency artificial language of Ri & Tsuruoka (2022), reference §2.11.

Why this language: it has the dependency structure of natural language (properly nested head pairs, like
brackets) but no meaning, so pre-training on it isolates what structure alone transfers. One sentence is:

1. a length `L` drawn from `SENTENCE_LENGTH_PROBS`, a histogram over 6..60 tokens (see below);
2. `L // 2` head tokens, plus one more with probability 1/2 when `L` is odd ("about half the length, plus a
   random +1"), each drawn from `num_heads` heads with Zipf (rank^-1) or uniform frequencies;
3. a random, properly nested bracket sequence: while a head is left and the stack is non-empty, the next step
   opens a new pair with probability 0.4 and closes the innermost open pair otherwise; an empty stack must open,
   and when every head is placed the remaining pairs close. The k-th opening uses the k-th drawn head; a close
   repeats the head of the pair it closes.

Sentence-length histogram (our choice; the reference only says "Wikipedia-fitted, about 6-60 tokens"): a log-normal
with median 22 and shape 0.5 (mean 25, sd 13, close to English Wikipedia sentences in words), discretised to the
integers 6..60 and renormalised.

Id mapping (the reference's is unknown): with `num_heads = H = vocab_size / 2` (16,000 for the default 32,000), head
`h` (rank h + 1 under Zipf) opens with id `2 + h` and closes with id `2 + H + h`, so open ids are 2..H+1 and close
ids H+2..2H+1 (2..32001 by default). Pad (0) and EOS (1) are never used. Ids 32000/32001 coincide with
`<extra_id_99>`/`<extra_id_98>`, which span corruption only reaches with 98+ noise spans per chunk; the task checks
that the sentinels it uses stay above the language's ids.
"""

from __future__ import annotations

import numpy as np

from synpt.errors import SynptError
from synpt.synthetic.sampling import Ragged

OPEN_PROBABILITY = 0.4
FIRST_ID = 2
MIN_SENTENCE_LENGTH, MAX_SENTENCE_LENGTH = 6, 60
FREQUENCIES = ("zipf", "uniform")
DEFAULT_VOCAB_SIZE = 32000
ZIPF_EXPONENT = 1.0


def _sentence_length_probs() -> tuple[np.ndarray, np.ndarray]:
    lengths = np.arange(MIN_SENTENCE_LENGTH, MAX_SENTENCE_LENGTH + 1)
    median, shape = 22.0, 0.5
    density = np.exp(-((np.log(lengths) - np.log(median)) ** 2) / (2 * shape**2)) / lengths
    return lengths, density / density.sum()


SENTENCE_LENGTHS, SENTENCE_LENGTH_PROBS = _sentence_length_probs()


class NestingLanguage:
    """Sampler of nesting-language sentences as token ids; all randomness comes from the generator passed in."""

    def __init__(self, *, vocab_size: int = DEFAULT_VOCAB_SIZE, frequency: str = "zipf"):
        if frequency not in FREQUENCIES:
            raise SynptError(f"frequency={frequency!r}: choose one of {', '.join(FREQUENCIES)}")
        if vocab_size < 2 or vocab_size % 2:
            raise SynptError(f"vocab_size={vocab_size}: the nesting language needs an even size >= 2 (open/close)")
        self.vocab_size = vocab_size
        self.num_heads = vocab_size // 2
        self.frequency = frequency
        ranks = np.arange(1, self.num_heads + 1, dtype=np.float64)
        weights = ranks**-ZIPF_EXPONENT if frequency == "zipf" else np.ones_like(ranks)
        self.head_probs = weights / weights.sum()
        self._head_cdf = np.cumsum(self.head_probs)
        self._head_cdf[-1] = 1.0

    @property
    def max_id(self) -> int:
        return FIRST_ID + 2 * self.num_heads - 1

    def open_id(self, head: np.ndarray | int):
        return FIRST_ID + head

    def close_id(self, head: np.ndarray | int):
        return FIRST_ID + self.num_heads + head

    def is_open(self, ids: np.ndarray) -> np.ndarray:
        return np.asarray(ids) < FIRST_ID + self.num_heads

    def head_of(self, ids: np.ndarray) -> np.ndarray:
        ids = np.asarray(ids)
        return np.where(self.is_open(ids), ids - FIRST_ID, ids - FIRST_ID - self.num_heads)

    def draw_heads(self, rng: np.random.Generator, count: int) -> np.ndarray:
        if self.frequency == "uniform":
            return rng.integers(0, self.num_heads, size=count)
        return np.searchsorted(self._head_cdf, rng.random(count), side="right")

    def sentences(self, rng: np.random.Generator, count: int) -> Ragged:
        """`count` sentences, vectorized over the batch (one numpy step per token position)."""
        lengths = rng.choice(SENTENCE_LENGTHS, size=count, p=SENTENCE_LENGTH_PROBS)
        pairs = lengths // 2 + (lengths % 2) * rng.integers(0, 2, size=count)
        opens = _bracket_structure(rng, pairs)
        heads = self.draw_heads(rng, int(pairs.sum()))
        return Ragged(self._assign_heads(opens, heads), 2 * pairs.astype(np.int64))

    def _assign_heads(self, opens: Ragged, heads: np.ndarray) -> np.ndarray:
        """Token ids of bracket structures: the k-th open of the block takes heads[k], a close its partner's head.

        Matching without a stack: number each bracket by its nesting level (depth before an open, after a close);
        within one sentence and one level, opens and closes alternate in order, so a stable sort by
        (sentence, level) puts every open right before its close.
        """
        is_open = opens.values.astype(bool)
        step = np.where(is_open, 1, -1)
        depth_after = np.cumsum(step) - np.repeat(np.cumsum(step)[opens.offsets] - step[opens.offsets], opens.lengths)
        level = np.where(is_open, depth_after - 1, depth_after)
        order = np.argsort(opens.segment_ids.astype(np.int64) * (MAX_SENTENCE_LENGTH + 1) + level, kind="stable")
        open_positions, close_positions = order[0::2], order[1::2]
        head_at = np.empty(len(is_open), dtype=np.int64)
        head_at[is_open] = heads
        ids = np.empty(len(is_open), dtype=np.int32)
        ids[open_positions] = self.open_id(head_at[open_positions])
        ids[close_positions] = self.close_id(head_at[open_positions])
        return ids

    def is_well_nested(self, ids: np.ndarray) -> bool:
        """Whether `ids` is a properly nested sequence of matching open/close pairs of this language."""
        stack: list[int] = []
        for token in np.asarray(ids).tolist():
            if not FIRST_ID <= token <= self.max_id:
                return False
            if token < FIRST_ID + self.num_heads:
                stack.append(token - FIRST_ID)
            elif not stack or stack.pop() != token - FIRST_ID - self.num_heads:
                return False
        return not stack


def _bracket_structure(rng: np.random.Generator, pairs: np.ndarray) -> Ragged:
    """Per sentence, 1 (open) / 0 (close) for 2 * pairs[i] positions, properly nested (see module doc)."""
    count = len(pairs)
    steps = int(2 * pairs.max(initial=0))
    coins = rng.random((steps, count)) < OPEN_PROBABILITY
    opened = np.zeros(count, dtype=np.int64)
    depth = np.zeros(count, dtype=np.int64)
    out = np.zeros((count, steps), dtype=np.int32)
    for t in range(steps):
        left = pairs - opened
        do_open = (left > 0) & ((depth == 0) | coins[t])
        out[:, t] = do_open
        opened += do_open
        depth += np.where(do_open, 1, -1)
    lengths = 2 * pairs.astype(np.int64)
    valid = np.arange(steps)[None, :] < lengths[:, None]
    return Ragged(out[valid], lengths)
