"""T5 span corruption ("denoising" pre-training objective), seeded and vectorized with numpy.

Why here and not in a task: any task whose examples are plain token sequences can be turned into a denoising task
(the nesting language of reference §2.11 is the paper's case). The semantics follow T5's `span_corruption`
preprocessor:

1. `select_random_chunk`: a sequence longer than `max_chunk_length` (65,536) is cut to a random window;
2. `reduce_concat_tokens`: groups of `group_size` (128) sequences are concatenated;
3. `split_tokens_to_inputs_length`: each group is split into chunks of `raw_length` tokens, where `raw_length` is
   the longest chunk whose noised input (plus EOS) still fits `inputs_length` (512 -> 568, 256 -> 284); the
   last, shorter piece of a group is kept;
4. `random_spans_noise_mask`: ~15% of a chunk's tokens, in spans of mean length 3, are noise; the mask alternates
   non-noise / noise spans and always starts with non-noise;
5. inputs = the chunk with each noise span replaced by one sentinel, targets = each non-noise span replaced by
   one sentinel followed by the noise tokens; sentinels count down from `first_sentinel` (32099 =
   `<extra_id_0>`), so the k-th noise span is marked by `first_sentinel - k` on both sides;
6. EOS (1) is appended after trimming to the feature lengths.

Randomness: in `span_corruption_examples`, chunk number `c` of a stream is noised with its own generator
`noise_rng(seed, c, stream)`, so a stream can be restarted at any chunk (`start`) and gives the same examples
(reference quirk 4: T5 used no seed). A generator that cuts its own equal-length chunks noises a whole block of them
in one vectorized call with `corrupt_chunks`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

import numpy as np

from synpt.errors import SynptError
from synpt.tasks import host_slice
from synpt.vocab import EOS_ID

NOISE_DENSITY = 0.15
MEAN_NOISE_SPAN_LENGTH = 3.0
FIRST_SENTINEL = 32099  # <extra_id_0> of the T5 vocabulary; the next spans use 32098, 32097, ...
MAX_CHUNK_LENGTH = 65536
GROUP_SIZE = 128

# Seed-sequence stream tags: keep the per-chunk noise independent of anything else seeded with the same seed.
_NOISE_STREAM = 0x5A1
_CHUNK_STREAM = 0x5A2


@dataclass(frozen=True)
class SpanCorruptionLengths:
    """Lengths of one full chunk: `raw_length` tokens in, `inputs_length` / `targets_length` out (EOS included)."""

    raw_length: int
    inputs_length: int
    targets_length: int
    num_noise_tokens: int
    num_noise_spans: int


def _span_counts(length: int, noise_density: float, mean_noise_span_length: float) -> tuple[int, int]:
    """(noise tokens, noise spans) of a chunk of `length` tokens, as T5 rounds them (at least 1 of each)."""
    length = max(length, 2)
    num_noise_tokens = min(max(int(round(length * noise_density)), 1), length - 1)
    num_noise_spans = max(int(round(num_noise_tokens / mean_noise_span_length)), 1)
    return num_noise_tokens, num_noise_spans


def corrupted_lengths(
    raw_length: int, *, noise_density: float = NOISE_DENSITY, mean_noise_span_length: float = MEAN_NOISE_SPAN_LENGTH
) -> SpanCorruptionLengths:
    """Input and target lengths (each with its EOS) that a chunk of `raw_length` tokens turns into."""
    num_noise_tokens, num_noise_spans = _span_counts(raw_length, noise_density, mean_noise_span_length)
    return SpanCorruptionLengths(
        raw_length=raw_length,
        inputs_length=raw_length - num_noise_tokens + num_noise_spans + 1,
        targets_length=num_noise_tokens + num_noise_spans + 1,
        num_noise_tokens=num_noise_tokens,
        num_noise_spans=num_noise_spans,
    )


def random_spans_lengths(
    inputs_length: int,
    *,
    noise_density: float = NOISE_DENSITY,
    mean_noise_span_length: float = MEAN_NOISE_SPAN_LENGTH,
) -> SpanCorruptionLengths:
    """The longest raw chunk whose noised input exactly fills `inputs_length` (T5's `random_spans_helper`).

    512 -> 568 raw tokens -> 512 inputs / 114 targets; 256 -> 284 -> 256 / 58.
    """
    if inputs_length < 3:
        raise SynptError(f"inputs_length={inputs_length}: span corruption needs at least 3 input positions")
    if not 0.0 < noise_density < 1.0:
        raise SynptError(f"noise_density={noise_density}: choose a value strictly between 0 and 1")
    if mean_noise_span_length < 1.0:
        raise SynptError(f"mean_noise_span_length={mean_noise_span_length}: choose a value >= 1")
    raw_length = inputs_length
    while (
        corrupted_lengths(
            raw_length + 1, noise_density=noise_density, mean_noise_span_length=mean_noise_span_length
        ).inputs_length
        <= inputs_length
    ):
        raw_length += 1
    lengths = corrupted_lengths(raw_length, noise_density=noise_density, mean_noise_span_length=mean_noise_span_length)
    if noise_density == 0.5 and lengths.targets_length > lengths.inputs_length:
        # T5's hack: one raw token less, so the targets feature fits the (round) inputs length
        shorter = corrupted_lengths(raw_length - 1, noise_density=0.5, mean_noise_span_length=mean_noise_span_length)
        return dataclasses.replace(shorter, targets_length=lengths.targets_length - 1)
    return lengths


def _random_segmentations(rng: np.random.Generator, count: int, num_items: int, num_segments: int) -> np.ndarray:
    """int[count, num_segments]: per row, a uniformly random split of `num_items` into non-empty consecutive parts.

    The cut points are a uniformly random (num_segments - 1)-subset of the num_items - 1 gaps (T5 shuffles the
    same indicator vector), taken as the smallest random keys of each row.
    """
    if num_segments == 1:
        return np.full((count, 1), num_items, dtype=np.int64)
    keys = rng.random((count, num_items - 1))
    cuts = np.sort(np.argpartition(keys, num_segments - 2, axis=1)[:, : num_segments - 1], axis=1) + 1
    edges = np.concatenate([np.zeros((count, 1), np.int64), cuts, np.full((count, 1), num_items)], axis=1)
    return np.diff(edges, axis=1)


def random_spans_noise_masks(
    count: int,
    length: int,
    rng: np.random.Generator,
    *,
    noise_density: float = NOISE_DENSITY,
    mean_noise_span_length: float = MEAN_NOISE_SPAN_LENGTH,
) -> np.ndarray:
    """bool[count, length]: True for noise. Alternating non-noise/noise spans, non-noise first (T5 semantics).

    The number of noise tokens is round(length * noise_density) (clipped to [1, length - 1]) and the number of
    noise spans round(noise tokens / mean span length) (at least 1); both span-length vectors are uniformly
    random compositions. Lengths below 2 are computed as 2 and truncated, as in T5.
    """
    padded_length = max(length, 2)
    num_noise_tokens, num_noise_spans = _span_counts(length, noise_density, mean_noise_span_length)
    noise_lengths = _random_segmentations(rng, count, num_noise_tokens, num_noise_spans)
    nonnoise_lengths = _random_segmentations(rng, count, padded_length - num_noise_tokens, num_noise_spans)
    interleaved = np.stack([nonnoise_lengths, noise_lengths], axis=2).reshape(-1)
    is_noise_span = np.tile([False, True], count * num_noise_spans)
    return np.repeat(is_noise_span, interleaved).reshape(count, padded_length)[:, :length]


def random_spans_noise_mask(length: int, rng: np.random.Generator, **kwargs) -> np.ndarray:
    """bool[length]: one mask of `random_spans_noise_masks`."""
    return random_spans_noise_masks(1, length, rng, **kwargs)[0]


def replace_spans_with_sentinels(
    tokens: np.ndarray, span_mask: np.ndarray, *, first_sentinel: int = FIRST_SENTINEL
) -> np.ndarray:
    """Each maximal run of True in `span_mask` becomes one sentinel: `first_sentinel`, then one less per run.

    Works on one sequence, or row by row on [rows, length] arrays whose masks have equal token and run counts
    (masks drawn for one chunk length), so the result is again rectangular.
    """
    single = np.ndim(tokens) == 1
    tokens, span_mask = np.atleast_2d(tokens), np.atleast_2d(span_mask)
    previous = np.concatenate([np.zeros((len(span_mask), 1), bool), span_mask[:, :-1]], axis=1)
    span_starts = span_mask & ~previous
    sentinels = first_sentinel + 1 - np.cumsum(span_starts, axis=1)
    keep = ~(span_mask & previous)
    kept_per_row = keep.sum(axis=1)
    if (kept_per_row != kept_per_row[0]).any():
        raise ValueError("rows of a batch must have the same numbers of masked tokens and spans")
    out = np.where(span_starts, sentinels, tokens)[keep].astype(np.int32)
    return out if single else out.reshape(len(tokens), -1)


def corrupt(
    tokens: np.ndarray, noise_mask: np.ndarray, *, first_sentinel: int = FIRST_SENTINEL
) -> tuple[np.ndarray, np.ndarray]:
    """(inputs, targets) without EOS: noise spans masked in the inputs, non-noise spans masked in the targets.

    One sequence, or [rows, length] arrays with masks from `random_spans_noise_masks`.
    """
    tokens = np.asarray(tokens, dtype=np.int32)
    inputs = replace_spans_with_sentinels(tokens, noise_mask, first_sentinel=first_sentinel)
    targets = replace_spans_with_sentinels(tokens, ~noise_mask, first_sentinel=first_sentinel)
    return inputs, targets


def reconstruct(inputs: np.ndarray, targets: np.ndarray, *, first_sentinel: int = FIRST_SENTINEL) -> np.ndarray:
    """The original tokens from (inputs, targets) without EOS: the inverse of `corrupt`, for checks and display.

    Sentinels are recognised by position in the countdown (the k-th one must be `first_sentinel - k`), so token ids
    just below the sentinel range are never mistaken for one unless a chunk has that many spans.
    """

    def split_on_sentinels(ids: np.ndarray) -> list[list[int]]:
        pieces: list[list[int]] = [[]]
        for token in np.asarray(ids).tolist():
            if token == first_sentinel - (len(pieces) - 1):
                pieces.append([])
            else:
                pieces[-1].append(token)
        return pieces

    kept = split_on_sentinels(inputs)  # kept[0], then the tokens after each noise span
    noise = split_on_sentinels(targets)  # noise[0] (empty: targets start with a sentinel), then each noise span
    result: list[int] = list(kept[0])
    for k in range(1, max(len(kept), len(noise))):
        result.extend(noise[k] if k < len(noise) else [])
        result.extend(kept[k] if k < len(kept) else [])
    return np.asarray(result, dtype=np.int32)


def select_random_chunk(tokens: np.ndarray, rng: np.random.Generator, max_length: int = MAX_CHUNK_LENGTH) -> np.ndarray:
    """A random window of at most `max_length` tokens (T5 draws a random start among the aligned windows)."""
    if len(tokens) <= max_length:
        return tokens
    num_windows = -(-len(tokens) // max_length)
    start = int(rng.integers(num_windows)) * max_length
    return tokens[start : start + max_length]


def concatenate_and_split(
    sequences: Iterable[np.ndarray], *, chunk_length: int, group_size: int = GROUP_SIZE
) -> Iterator[np.ndarray]:
    """T5's `reduce_concat_tokens` + `split_tokens`: concatenate `group_size` sequences, cut into `chunk_length`.

    The last piece of each group may be shorter. Like T5 (which pads the group into a batch and then drops every
    0), pad ids are removed, and a group counts every sequence, empty ones included.
    """
    group: list[np.ndarray] = []

    def flush() -> Iterator[np.ndarray]:
        joined = np.concatenate(group) if group else np.zeros(0, np.int32)
        joined = joined[joined != 0]
        for begin in range(0, len(joined), chunk_length):
            yield joined[begin : begin + chunk_length]
        group.clear()

    for sequence in sequences:
        group.append(np.asarray(sequence, dtype=np.int32))
        if len(group) == group_size:
            yield from flush()
    yield from flush()


def _chunk_rng(seed: int, index: int, kind: int, stream: int = 0) -> np.random.Generator:
    return np.random.default_rng(np.random.SeedSequence([kind, int(stream), int(seed), int(index)]))


def noise_rng(seed: int, index: int, stream: int = 0) -> np.random.Generator:
    """The generator that noises chunk `index` of split stream `stream` (train 0, validation 1, ...)."""
    return _chunk_rng(seed, index, _NOISE_STREAM, stream)


def corrupt_chunks(
    chunks: np.ndarray,
    rng: np.random.Generator,
    *,
    inputs_length: int,
    targets_length: int,
    noise_density: float = NOISE_DENSITY,
    mean_noise_span_length: float = MEAN_NOISE_SPAN_LENGTH,
    first_sentinel: int = FIRST_SENTINEL,
) -> list[dict[str, np.ndarray]]:
    """Examples from equal-length raw chunks [rows, length], noised in one vectorized pass, trimmed, EOS appended."""
    chunks = np.atleast_2d(np.asarray(chunks, dtype=np.int32))
    masks = random_spans_noise_masks(
        len(chunks), chunks.shape[1], rng, noise_density=noise_density, mean_noise_span_length=mean_noise_span_length
    )
    inputs, targets = corrupt(chunks, masks, first_sentinel=first_sentinel)
    inputs = np.concatenate([inputs[:, : inputs_length - 1], np.full((len(chunks), 1), EOS_ID, np.int32)], axis=1)
    targets = np.concatenate([targets[:, : targets_length - 1], np.full((len(chunks), 1), EOS_ID, np.int32)], axis=1)
    return [{"inputs": i, "targets": t} for i, t in zip(inputs, targets, strict=True)]


def span_corruption_examples(
    sequences: Iterable[np.ndarray],
    *,
    inputs_length: int = 512,
    seed: int = 0,
    start: int = 0,
    shard_index: int = 0,
    shard_count: int = 1,
    group_size: int = GROUP_SIZE,
    max_chunk_length: int = MAX_CHUNK_LENGTH,
    noise_density: float = NOISE_DENSITY,
    mean_noise_span_length: float = MEAN_NOISE_SPAN_LENGTH,
    first_sentinel: int = FIRST_SENTINEL,
    stream: int = 0,
) -> Iterator[dict[str, np.ndarray]]:
    """Span-corrupted examples from a stream of raw token sequences (no EOS), the whole T5 pipeline.

    Chunk `c` (counted over the whole stream) yields example `c`; this host yields the chunks `c >= start` with
    `c % shard_count == shard_index`. Inputs are at most `inputs_length` and targets at most
    the matching target length (114 for 512), EOS included.
    """
    lengths = random_spans_lengths(
        inputs_length, noise_density=noise_density, mean_noise_span_length=mean_noise_span_length
    )

    def window(i: int, sequence: np.ndarray) -> np.ndarray:
        sequence = np.asarray(sequence, dtype=np.int32)
        if len(sequence) <= max_chunk_length:  # the usual case: no generator needed
            return sequence
        return select_random_chunk(sequence, _chunk_rng(seed, i, _CHUNK_STREAM, stream), max_chunk_length)

    windows = (window(i, s) for i, s in enumerate(sequences))
    chunks = concatenate_and_split(windows, chunk_length=lengths.raw_length, group_size=group_size)
    for index, chunk in host_slice(enumerate(chunks), start, shard_index, shard_count):
        (example,) = corrupt_chunks(
            chunk,
            noise_rng(seed, index, stream),
            inputs_length=lengths.inputs_length,
            targets_length=lengths.targets_length,
            noise_density=noise_density,
            mean_noise_span_length=mean_noise_span_length,
            first_sentinel=first_sentinel,
        )
        yield example
