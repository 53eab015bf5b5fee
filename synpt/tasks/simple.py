"""The 18 simple synthetic tasks of the paper (reference §2.2-§2.8), vectorized per block, plus their oracles.

Each task is a sampler (candidate arguments for a whole block, as ragged arrays), a vectorized target function and
a pure-Python *oracle* written the reference's way (`fn(sample)`, one example at a time). The oracle is the
definition; `synpt verify` and the property tests check the vectorized targets and the reference's files against it.

Register your own task with `simple_task` (see docs/synthetic_tasks.md):

    @simple_task("sorted_set", prefix=[1843, 356], sampler="set")
    def sorted_set(sample):
        return sorted(set(sample))
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

import numpy as np

from synpt.errors import SynptError
from synpt.tasks.registry import register_task
from synpt.tasks.sampling import (
    POOL_HIGH,
    POOL_LOW,
    Ragged,
    concat,
    contains_value,
    distinct_tokens,
    draw_tokens,
    first_match,
    first_occurrence_mask,
    make_pool,
    partition,
    partition_no_zeros,
    ragged_tokens,
    row_keys,
    run_sequence,
    stable_task_id,
    uniform_int,
)
from synpt.tasks.synthetic import SyntheticTask

ARGS_DIVIDER = 32099  # <extra_id_0>: after the task-name prefix
WORD_DIVIDER = 32098  # <extra_id_1>: between words (longest_word)
BINARY_DIVIDER = 32097  # <extra_id_2>: between the two arguments
EMPTY_TARGET = 32096  # <extra_id_3>: stands in for an empty target
YES_ID, NO_ID = 4273, 150
MAX_LENGTH = 4000
SET_ORDERS = ("cpython", "sorted", "first_appearance")

_NUMBER_LISTS: list[list[int]] = json.loads(resources.files("synpt.tasks").joinpath("number_ids.json").read_text())[
    "ids"
]
_NUMBER_IDS = Ragged.from_lists(_NUMBER_LISTS)


def number_ids(n: int) -> list[int]:
    """T5 ids of str(n), leading bare-piece id 3 dropped (reference §2.3)."""
    return list(_NUMBER_LISTS[n])


@dataclass(frozen=True)
class Context:
    """Resolved options a sampler and a target function see."""

    lo: int
    hi: int
    pool: np.ndarray
    set_order: str = "cpython"
    balanced: bool = False


Sample = tuple[Ragged, "Ragged | None"]
Sampler = Callable[[np.random.Generator, int, Context], Sample]
VectorTarget = Callable[[Ragged, "Ragged | None", Context], Ragged]
Oracle = Callable[..., list]


def accepted(rng: np.random.Generator, count: int, ctx: Context, sampler: Sampler) -> Sample:
    """`count` samples whose argument part is within [lo, hi] (whole-sample rejection, reference §2.4).

    The first round draws exactly `count` candidates (most samplers never reject, so that is the only round); later
    rounds draw enough for the observed acceptance rate. Accepted candidates are kept in draw order, which is the
    same distribution as resampling one example at a time.
    """
    kept1, kept2, total, drawn = [], [], 0, 0
    while not kept1 or total < count:
        want = count - total
        size = want if not drawn else int(want / max(total / drawn, 0.02)) + 16
        arg1, arg2 = sampler(rng, size, ctx)
        length = arg1.lengths + (0 if arg2 is None else arg2.lengths + 1)
        ok = (length >= ctx.lo) & (length <= ctx.hi)
        if not drawn and ok.all():
            return arg1, arg2
        rows = np.flatnonzero(ok)[:want]
        kept1.append(arg1.take(rows))
        kept2.append(None if arg2 is None else arg2.take(rows))
        total += len(rows)
        drawn += size
        if drawn >= 200 * max(count, 1) and total == 0:
            raise SynptError(f"length_range ({ctx.lo}, {ctx.hi}) is too narrow: no sample fits; widen it")
    return Ragged.stack(kept1), (None if kept2[0] is None else Ragged.stack(kept2))


def _interleave(first: np.ndarray, a: Sample, b: Sample) -> Sample:
    """Rows of `a` where `first` is true and rows of `b` elsewhere, in slot order."""
    order = np.empty(len(first), dtype=np.int64)
    order[first] = np.arange(int(first.sum()))
    order[~first] = int(first.sum()) + np.arange(int((~first).sum()))
    return tuple(Ragged.stack([x, y]).take(order) for x, y in zip(a, b, strict=True))


# ------------------------------------------------------------------------------------------------------------------
# Samplers (reference §2.6; the bounds are written for a general length_range (lo, hi), e.g. U{8..218} = U{lo-2..hi-2})
# ------------------------------------------------------------------------------------------------------------------


def sample_uniform(rng, count, ctx) -> Sample:
    """copy, reverse, duplicate, first/last token, length: L~U{lo..hi} uniform tokens."""
    return ragged_tokens(rng, ctx.pool, uniform_int(rng, ctx.lo, ctx.hi, count)), None


def _sample_runs(shuffle: bool) -> Sampler:
    def sample(rng, count, ctx) -> Sample:
        length = uniform_int(rng, ctx.lo, ctx.hi, count)
        return run_sequence(rng, length, uniform_int(rng, 1, length), pool=ctx.pool, shuffle=shuffle), None

    return sample


sample_runs = _sample_runs(shuffle=False)  # deduplicate
sample_shuffled_runs = _sample_runs(shuffle=True)  # set


def sample_words(rng, count, ctx) -> Sample:
    """longest_word: W words, N word tokens split into W positive lengths, joined by the word divider."""
    words = uniform_int(rng, 1, max(1, ctx.hi // 2), count)
    num_tokens = uniform_int(rng, np.maximum(ctx.lo - (words - 1), words), ctx.hi - (words - 1))
    word_lengths = partition_no_zeros(rng, num_tokens, words).values
    tokens = draw_tokens(rng, ctx.pool, int(num_tokens.sum()))
    # Every word is followed by a divider; then the divider after each row's last word is dropped.
    word_index = np.repeat(np.arange(len(word_lengths)), word_lengths)
    values = np.full(len(tokens) + len(word_lengths), WORD_DIVIDER, dtype=np.int32)
    values[np.arange(len(tokens)) + word_index] = tokens
    last_divider = np.cumsum(word_lengths + 1)[np.cumsum(words) - 1] - 1
    keep = np.ones(len(values), dtype=bool)
    keep[last_divider] = False
    return Ragged(values[keep], num_tokens + words - 1), None


def sample_count(rng, count, ctx) -> Sample:
    """count: n~U{lo-2..hi-2}; c~U{0..n} copies of a query token among n, the rest random, shuffled; arg2 = [query].

    Drawn without a shuffle: with p ~ U(0, 1) per row and every position the query with probability p, the number
    of copies is Beta(1,1)-Binomial(n) = U{0..n} and, given that number, their positions are a uniform subset,
    which is exactly "c copies plus fillers, shuffled".
    """
    n = uniform_int(rng, max(ctx.lo - 2, 1), ctx.hi - 2, count)
    query = draw_tokens(rng, ctx.pool, count)
    share = rng.random(count)
    seq = ragged_tokens(rng, ctx.pool, n)
    is_copy = rng.random(len(seq.values)) < np.repeat(share, n)
    values = np.where(is_copy, np.repeat(query, n), seq.values).astype(np.int32)
    return Ragged(values, n), Ragged(query, np.ones(count, dtype=np.int64))


def sample_replace(rng, count, ctx) -> Sample:
    """replace: n~U{lo-3..hi-3} tokens; key uniform among the distinct tokens; value a fresh token."""
    n = uniform_int(rng, max(ctx.lo - 3, 1), ctx.hi - 3, count)
    seq = ragged_tokens(rng, ctx.pool, n)
    distinct = seq.mask(first_occurrence_mask(seq))
    key = distinct.values[distinct.offsets + (rng.random(count) * distinct.lengths).astype(np.int64)]
    value = draw_tokens(rng, ctx.pool, count)
    pair = np.stack([key, value], axis=1).reshape(-1).astype(np.int32)
    return seq, Ragged(pair, np.full(count, 2, dtype=np.int64))


def sample_sort(rng, count, ctx) -> Sample:
    """sort: m order tokens (duplicates possible); seq = shuffled runs whose symbols come from the order."""
    m = uniform_int(rng, max(1, ctx.lo // 2), max(1, (ctx.hi - 1) // 2), count)
    order = ragged_tokens(rng, ctx.pool, m)
    s = uniform_int(rng, m, np.maximum(ctx.hi - 1 - m, m))
    return run_sequence(rng, s, m, symbols=order, shuffle=True), order


def sample_two_sets(rng, count, ctx) -> Sample:
    """union / intersect / differences: T tokens split n1 + n2 (either may be empty) over a local pool of T//2."""
    total = uniform_int(rng, max(ctx.lo - 1, 1), ctx.hi - 1, count)
    n1 = uniform_int(rng, 0, total)
    local = distinct_tokens(rng, ctx.pool, np.maximum(total // 2, 1))
    lengths = np.stack([n1, total - n1], axis=1).reshape(-1)
    row = np.repeat(np.arange(count), 2)
    rows = np.repeat(row, lengths)
    picks = (rng.random(len(rows)) * local.lengths[rows]).astype(np.int64)
    both = Ragged(local.values[local.offsets[rows] + picks], lengths)
    return both.take(np.arange(0, 2 * count, 2)), both.take(np.arange(1, 2 * count, 2))


def _sample_query_present(rng, count, ctx) -> Sample:
    """delete/search branch A: r >= 1 copies of the query planted between random fillers (reference §2.6.2)."""
    q = uniform_int(rng, 1, max(1, (ctx.hi - 1) // 3), count)
    s = uniform_int(rng, 2 * q, np.maximum(ctx.hi - 1 - q, 2 * q))
    query = ragged_tokens(rng, ctx.pool, q)
    copies = uniform_int(rng, 1, s // q)
    fillers = partition(rng, s - copies * q, copies + 1)
    row, slot = fillers.segment_ids, fillers.positions
    seq_offsets = np.concatenate([[0], np.cumsum(s)[:-1]])
    filler_cum = np.concatenate([[0], np.cumsum(fillers.values)[:-1]])
    start = seq_offsets[row] + filler_cum - filler_cum[fillers.offsets][row] + slot * q[row]
    values = np.empty(int(s.sum()), dtype=np.int32)
    filler_tokens = ragged_tokens(rng, ctx.pool, fillers.values)
    values[np.repeat(start, fillers.values) + filler_tokens.positions] = filler_tokens.values
    is_copy = slot < copies[row]
    copy_rows = row[is_copy]
    copy = Ragged(np.zeros(int(q[copy_rows].sum()), dtype=np.int32), q[copy_rows])
    values[np.repeat((start + fillers.values)[is_copy], copy.lengths) + copy.positions] = query.values[
        np.repeat(query.offsets[copy_rows], copy.lengths) + copy.positions
    ]
    return Ragged(values, s), query


def _list_text_contains(seq: list[int], query: list[int]) -> bool:
    """The reference's absence test: the query's list text (no brackets) inside the seq's list text."""
    return str(query)[1:-1] in str(seq)


def _sample_query_absent(rng, count, ctx) -> Sample:
    """delete/search branch B: with prob 0.01 a longer query than the seq; else redraw while the text test hits."""
    tiny = rng.random(count) < 0.01
    q_tiny = uniform_int(rng, min(ctx.lo + 1, ctx.hi), ctx.hi, count)
    s_tiny = uniform_int(rng, 0, q_tiny - 1)
    s_usual = uniform_int(rng, ctx.lo, ctx.hi, count)
    q_usual = uniform_int(rng, ctx.lo, s_usual)
    s, q = np.where(tiny, s_tiny, s_usual), np.where(tiny, q_tiny, q_usual)
    seq, query = ragged_tokens(rng, ctx.pool, s), ragged_tokens(rng, ctx.pool, q)
    check = ~tiny
    while check.any():
        # The text test can only hit when q <= 2 or the query's second id occurs in the seq as a whole number.
        second = np.where(q >= 2, query.values[np.minimum(query.offsets + 1, len(query.values) - 1)], -1)
        suspects = np.flatnonzero(check & ((q <= 2) | contains_value(seq, second)))
        hits = [r for r in suspects.tolist() if _list_text_contains(seq.row(r).tolist(), query.row(r).tolist())]
        check = np.zeros(count, dtype=bool)
        check[hits] = True
        for part in (seq, query):
            redraw = check[part.segment_ids]
            part.values[redraw] = draw_tokens(rng, ctx.pool, int(redraw.sum()))
    return seq, query


def _sample_query(p_present: float) -> Sampler:
    """delete / search: branch A with probability `p_present`, else B; `balanced` rejects within the branch."""

    def sample(rng, count, ctx) -> Sample:
        present = rng.random(count) < p_present
        n_present, n_absent = int(present.sum()), int(count - present.sum())
        if ctx.balanced:
            a = accepted(rng, n_present, ctx, _sample_query_present)
            b = accepted(rng, n_absent, ctx, _sample_query_absent)
        else:
            a = _sample_query_present(rng, n_present, ctx)
            b = _sample_query_absent(rng, n_absent, ctx)
        return _interleave(present, a, b)

    return sample


# ------------------------------------------------------------------------------------------------------------------
# Vectorized targets
# ------------------------------------------------------------------------------------------------------------------


def _single(values: np.ndarray) -> Ragged:
    return Ragged(values.astype(np.int32), np.ones(len(values), dtype=np.int64))


def target_copy(a, b, ctx):
    return a


def target_reverse(a, b, ctx):
    return Ragged(a.values[np.repeat(a.offsets + a.lengths - 1, a.lengths) - a.positions], a.lengths)


def target_duplicate(a, b, ctx):
    return Ragged(np.repeat(a.values, 2), 2 * a.lengths)


def target_first(a, b, ctx):
    return _single(a.values[a.offsets])


def target_last(a, b, ctx):
    return _single(a.values[a.offsets + a.lengths - 1])


def target_length(a, b, ctx):
    return _NUMBER_IDS.take(a.lengths)


def target_deduplicate(a, b, ctx):
    keep = np.ones(len(a.values), dtype=bool)
    keep[1:] = a.values[1:] != a.values[:-1]
    keep[a.offsets[a.lengths > 0]] = True
    return a.mask(keep)


def target_set(a, b, ctx):
    return a.mask(first_occurrence_mask(a))


def target_longest_word(a, b, ctx):
    is_divider = a.values == WORD_DIVIDER
    dividers_before = np.cumsum(is_divider, dtype=np.int64) - is_divider
    # Global word number of every value: dividers before it plus one extra word per earlier row.
    word = dividers_before + a.segment_ids
    total_words = int(is_divider.sum()) + len(a)
    words_per_row = np.diff(np.append(word[a.offsets], total_words))
    row_first_word = word[a.offsets]
    is_token = ~is_divider
    words = Ragged(a.values[is_token], np.bincount(word[is_token], minlength=total_words))
    word_rank = np.arange(len(words)) - np.repeat(row_first_word, words_per_row)
    # Per row, the longest word; among equally long ones the first (a later word wins only if strictly longer):
    # the maximum of (length, -rank) packed in one integer, reduced per row without sorting.
    score = (words.lengths << 20) + ((1 << 20) - 1 - word_rank)
    best_rank = (1 << 20) - 1 - (np.maximum.reduceat(score, row_first_word) & ((1 << 20) - 1))
    return words.take(row_first_word + best_rank)


def target_count(a, b, ctx):
    hits = np.bincount(a.segment_ids, weights=a.values == b.values[a.segment_ids], minlength=len(a))
    return _NUMBER_IDS.take(hits.astype(np.int64))


def target_replace(a, b, ctx):
    key, value = b.values[0::2][a.segment_ids], b.values[1::2][a.segment_ids]
    return Ragged(np.where(a.values == key, value, a.values).astype(np.int32), a.lengths)


def target_sort(a, b, ctx):
    """Count every (row, token) of the seq, credit the count to the token's last index in the order, then emit
    each order position's token that many times: a counting sort, no comparison sort of the seq itself."""
    order_keys = row_keys(b)
    by_key = np.argsort(order_keys, kind="stable")  # equal keys stay in index order: the last one is the last index
    sorted_keys = order_keys[by_key]
    is_last = np.append(sorted_keys[1:] != sorted_keys[:-1], True)
    unique_keys, last_index = sorted_keys[is_last], by_key[is_last]
    seq_keys = np.sort(row_keys(a), kind="stable")
    seq_new = np.append(True, seq_keys[1:] != seq_keys[:-1])
    seq_counts = np.diff(np.append(np.flatnonzero(seq_new), len(seq_keys)))
    counts = np.zeros(len(order_keys), dtype=np.int64)
    counts[last_index[np.searchsorted(unique_keys, seq_keys[seq_new])]] = seq_counts
    return Ragged(np.repeat(b.values, counts), a.lengths)


def target_delete(a, b, ctx):
    match = first_match(a, b)[a.segment_ids]
    inside = (match >= 0) & (a.positions >= match) & (a.positions < match + b.lengths[a.segment_ids])
    return a.mask(~inside)


def target_search(a, b, ctx):
    return _single(np.where(first_match(a, b) >= 0, YES_ID, NO_ID))


_SET_OPS = {
    "union": lambda x, y: x | y,
    "intersect": lambda x, y: x & y,
    "set_1_minus_2": lambda x, y: x - y,
    "set_2_minus_1": lambda x, y: y - x,
}


def _in_other(x: Ragged, y: Ragged) -> np.ndarray:
    """Per value of x: whether it occurs in the same row of y."""
    return np.isin(row_keys(x), row_keys(y))


def _sort_rows(r: Ragged) -> Ragged:
    return Ragged(r.values[np.lexsort((r.values, r.segment_ids))], r.lengths)


def _target_set_op(op: str) -> VectorTarget:
    def target(a, b, ctx):
        if ctx.set_order == "cpython":
            apply = _SET_OPS[op]
            return Ragged.from_lists(
                [list(apply(set(x), set(y))) for x, y in zip(a.tolists(), b.tolists(), strict=True)]
            )
        if op == "union":
            both = concat(a, b)
            result = both.mask(first_occurrence_mask(both))
        elif op == "set_2_minus_1":
            result = b.mask(first_occurrence_mask(b) & ~_in_other(b, a))
        else:
            in_b = _in_other(a, b)
            result = a.mask(first_occurrence_mask(a) & (in_b if op == "intersect" else ~in_b))
        return _sort_rows(result) if ctx.set_order == "sorted" else result

    return target


# ------------------------------------------------------------------------------------------------------------------
# Oracles: the reference's per-example target functions, in plain Python
# ------------------------------------------------------------------------------------------------------------------


def _first_index(seq: list[int], query: list[int]) -> int:
    n = len(query)
    return next((i for i in range(len(seq) - n + 1) if seq[i : i + n] == query), -1) if n else -1


def oracle_deduplicate(s):
    out = []
    for t in s:
        if not out or out[-1] != t:
            out.append(t)
    return out


def oracle_set(s):
    seen, out = set(), []
    for t in s:
        if t not in seen:
            seen.add(t)
            out.append(t)
    return out


def oracle_longest_word(s):
    words, word = [], []
    for t in s + [WORD_DIVIDER]:
        if t == WORD_DIVIDER:
            words.append(word)
            word = []
        else:
            word.append(t)
    best = words[0]
    for w in words[1:]:
        if len(w) > len(best):
            best = w
    return best


def oracle_sort(sample):
    seq, order = sample
    rank = {t: i for i, t in enumerate(order)}  # a duplicated token keeps its last index
    return sorted(seq, key=rank.__getitem__)


def oracle_delete(sample):
    seq, query = sample
    i = _first_index(seq, query)
    return seq if i < 0 else seq[:i] + seq[i + len(query) :]


def _oracle_set_op(op: str) -> Callable:
    def oracle(sample, set_order="cpython"):
        x, y = sample
        result = list(_SET_OPS[op](set(x), set(y)))
        if set_order == "sorted":
            return sorted(result)
        if set_order == "first_appearance":
            members = set(result)
            return [t for t in oracle_set(x + y) if t in members]
        return result

    return oracle


ORACLES: dict[str, Callable] = {
    "copy": lambda s: list(s),
    "reverse": lambda s: s[::-1],
    "duplicate": lambda s: [t for t in s for _ in range(2)],
    "first_char": lambda s: [s[0]],
    "last_char": lambda s: [s[-1]],
    "length": lambda s: number_ids(len(s)),
    "deduplicate": oracle_deduplicate,
    "set": oracle_set,
    "longest_word": oracle_longest_word,
    "count": lambda sample: number_ids(sample[0].count(sample[1][0])),
    "replace": lambda sample: [sample[1][1] if t == sample[1][0] else t for t in sample[0]],
    "sort": oracle_sort,
    "delete": oracle_delete,
    "search": lambda sample: [YES_ID if _first_index(sample[0], sample[1]) >= 0 else NO_ID],
    **{op: _oracle_set_op(op) for op in _SET_OPS},
}


# ------------------------------------------------------------------------------------------------------------------
# The task class
# ------------------------------------------------------------------------------------------------------------------

SAMPLERS: dict[str, Sampler] = {
    "copy": sample_uniform,
    "deduplicate": sample_runs,
    "set": sample_shuffled_runs,
    "longest_word": sample_words,
    "count": sample_count,
    "replace": sample_replace,
    "sort": sample_sort,
    "delete": _sample_query(0.75),
    "search": _sample_query(0.5),
    "union": sample_two_sets,
}
BINARY_SAMPLERS = {"count", "replace", "sort", "delete", "search", "union"}


_FULL_POOL = make_pool(None)


def parse_length_range(value) -> tuple[int, int]:
    """(lo, hi) from a pair or a "lo,hi" string."""
    try:
        lo, hi = (int(x) for x in (value.split(",") if isinstance(value, str) else value))
    except (TypeError, ValueError):
        raise SynptError(f"length_range must be two integers 'lo,hi' (e.g. 10,220), got {value!r}") from None
    if not 1 <= lo <= hi or not 8 <= hi <= MAX_LENGTH:
        raise SynptError(f"length_range ({lo}, {hi}) must satisfy 1 <= lo <= hi and 8 <= hi <= {MAX_LENGTH}")
    return lo, hi


class SimpleTask(SyntheticTask):
    """One simple task: `prefix ids + [32099] + args` -> target, args within `length_range` (reference §2.4)."""

    family = "simple"
    common_options = {"source": "stream", "length_range": (10, 220), "pool_size": None}

    def __init__(
        self,
        name: str,
        generator_name: str,
        prefix: tuple[int, ...],
        sampler: Sampler,
        binary: bool,
        target: VectorTarget,
        oracle: Callable,
        extra_options: dict | None = None,
    ):
        super().__init__(name, extra_options)
        self.generator_name = generator_name
        self.prefix = tuple(int(p) for p in prefix)
        self.binary = binary
        self._sampler, self._target, self._oracle = sampler, target, oracle
        self._pools: dict[tuple[int, int], np.ndarray] = {}  # (seed, pool_size) -> pool; shared by copies

    @property
    def parts(self) -> tuple[str, ...]:
        return (self.generator_name,)

    def _part_files(self, data_root: Path, part: str) -> tuple[Path, Path]:
        folder = Path(data_root) / "pretraining_data" / "simpler_tasks" / self.generator_name
        return folder / "train.txt", folder / "valid.txt"

    def _check_option(self, key, value):
        if key == "length_range":
            return parse_length_range(value)
        if key == "set_order" and value not in SET_ORDERS:
            raise SynptError(f"task {self.name!r}: set_order must be one of {', '.join(SET_ORDERS)}, got {value!r}")
        if key == "balanced" and not isinstance(value, bool):
            raise SynptError(f"task {self.name!r}: balanced must be True or False, got {value!r}")
        if key == "pool_size" and value is not None:
            full = POOL_HIGH - POOL_LOW + 1
            if not isinstance(value, int) or not 1 <= value <= full:
                raise SynptError(f"pool_size must be an integer between 1 and {full}, got {value!r}")
        return super()._check_option(key, value)

    def context(self, seed: int = 0) -> Context:
        """The options resolved for sampling; a `pool_size` subset is drawn once per seed."""
        size = self.options["pool_size"]
        if size is None:
            pool = _FULL_POOL
        else:
            key = (seed, int(size))
            if key not in self._pools:
                rng = np.random.default_rng(np.random.SeedSequence([seed, stable_task_id(f"{self.name}/pool")]))
                self._pools[key] = make_pool(int(size), rng)
            pool = self._pools[key]
        lo, hi = self.options["length_range"]
        return Context(
            lo, hi, pool, self.options.get("set_order", "cpython"), bool(self.options.get("balanced", False))
        )

    def _generate(self, rng, count, part, seed):
        ctx = self.context(seed)
        arg1, arg2 = accepted(rng, count, ctx, self._sampler)
        if self.binary and arg2 is None:
            raise SynptError(f"task {self.name!r}: a binary task needs a sampler returning two arguments")
        targets = self._target(arg1, arg2, ctx)
        return self.assemble_inputs(arg1, arg2), _fill_empty(targets)

    def assemble_inputs(self, arg1: Ragged, arg2: Ragged | None) -> Ragged:
        """prefix + [32099] + arg1 (+ [32097] + arg2)."""
        args = arg1 if arg2 is None else concat(arg1, Ragged.constant(BINARY_DIVIDER, len(arg1)), arg2)
        head = np.array([*self.prefix, ARGS_DIVIDER], dtype=np.int32)
        count, width = len(args), len(head)
        values = np.empty(len(args.values) + width * count, dtype=np.int32)
        # Row r starts at args.offsets[r] + width * r: its head fills `width` slots, its arguments follow.
        starts = args.offsets + width * np.arange(count)
        values[(starts[:, None] + np.arange(width)).reshape(-1)] = np.tile(head, count)
        values[np.arange(len(args.values)) + np.repeat(starts + width - args.offsets, args.lengths)] = args.values
        return Ragged(values, args.lengths + width)

    def split_input(self, ids: list[int]):
        """The sample (list, or (arg1, arg2)) of a reference input line; ValueError naming what is wrong."""
        head = [*self.prefix, ARGS_DIVIDER]
        if ids[: len(head)] != head:
            raise ValueError(f"input does not start with the {self.generator_name} prefix {head}")
        args = ids[len(head) :]
        if not self.binary:
            return args
        if BINARY_DIVIDER not in args:
            raise ValueError(f"binary task input has no argument divider {BINARY_DIVIDER}")
        cut = args.index(BINARY_DIVIDER)
        return args[:cut], args[cut + 1 :]

    def oracle_target(self, ids: list[int]) -> list[int]:
        """The reference's target for an input line (prefix included, no EOS), computed one example at a time."""
        sample = self.split_input(ids)
        if self.binary and "set_order" in self.options:
            target = self._oracle(sample, self.options["set_order"])
        else:
            target = self._oracle(sample)
        return list(target) or [EMPTY_TARGET]


def _fill_empty(targets: Ragged) -> Ragged:
    """Write [32096] for every empty target."""
    empty = targets.lengths == 0
    if not empty.any():
        return targets
    return concat(targets, Ragged(np.full(int(empty.sum()), EMPTY_TARGET, dtype=np.int32), empty.astype(np.int64)))


def simple_task(
    name: str,
    *,
    prefix: list[int],
    sampler: str | Sampler = "copy",
    vectorized: bool = False,
    oracle: Callable | None = None,
    aliases: tuple[str, ...] = (),
    generator_name: str | None = None,
    binary: bool | None = None,
) -> Callable:
    """Decorator registering a user task built from a target function.

    `sampler` is a built-in sampler name (copy, deduplicate, set, longest_word, count, replace, sort, delete,
    search, union) or a callable `(rng, count, ctx) -> (arg1, arg2 or None)` of ragged arrays (then say
    `binary=True` when it returns two arguments; built-in samplers know their arity). The decorated
    function is either a per-example `fn(sample) -> list[int]` (sample = list, or (arg1, arg2) for binary samplers;
    it is also the oracle) or, with `vectorized=True`, `fn(arg1, arg2, ctx) -> Ragged` (pass `oracle=` for
    `synpt verify`). The function is returned unchanged; the task is available through `get_task(name)`.
    """
    if isinstance(sampler, str):
        if sampler not in SAMPLERS:
            raise SynptError(f"unknown sampler {sampler!r}; valid: {', '.join(SAMPLERS)}")
        is_binary, sampler_fn = sampler in BINARY_SAMPLERS, SAMPLERS[sampler]
    else:
        is_binary, sampler_fn = bool(binary), sampler

    def decorate(fn: Callable) -> Callable:
        if vectorized:
            target, the_oracle = fn, oracle
        else:

            def target(a, b, ctx):
                samples = a.tolists() if b is None else list(zip(a.tolists(), b.tolists(), strict=True))
                return Ragged.from_lists([list(fn(s)) for s in samples])

            the_oracle = fn
        task = SimpleTask(name, generator_name or name, tuple(prefix), sampler_fn, is_binary, target, the_oracle)
        register_task(task, aliases=aliases)
        return fn

    return decorate


# ------------------------------------------------------------------------------------------------------------------
# The 18 built-in tasks: (paper name, generator name, prefix ids, sampler, target, oracle key, extra options)
# ------------------------------------------------------------------------------------------------------------------

_SET_ORDER = {"set_order": "cpython"}
_BUILTINS = [
    ("identity", "copy", (2405,), "copy", target_copy, None),
    ("set", "set", (356,), "set", target_set, None),
    ("delete", "delete", (9268,), "delete", target_delete, {"balanced": False}),
    ("sort", "sort", (1843,), "sort", target_sort, None),
    ("union", "union", (7021,), "union", _target_set_op("union"), _SET_ORDER),
    ("replace", "replace", (3601,), "replace", target_replace, None),
    ("duplicate", "duplicate", (19197,), "copy", target_duplicate, None),
    ("intersect", "intersect", (27806,), "union", _target_set_op("intersect"), _SET_ORDER),
    ("reverse", "reverse", (7211,), "copy", target_reverse, None),
    ("deduplicate", "deduplicate", (20, 26, 413, 26221), "deduplicate", target_deduplicate, None),
    ("search", "search", (960,), "search", target_search, {"balanced": False}),
    ("longest_word", "longest_word", (14783, 834, 6051), "longest_word", target_longest_word, None),
    ("length", "length", (2475,), "copy", target_length, None),
    ("count", "count", (3476,), "count", target_count, None),
    ("first_token", "first_char", (166, 834, 4059), "copy", target_first, None),
    ("last_token", "last_char", (336, 834, 4059), "copy", target_last, None),
    (
        "set1_minus_set2",
        "set_1_minus_2",
        (356, 834, 536, 834, 14078, 834, 357),
        "union",
        _target_set_op("set_1_minus_2"),
        _SET_ORDER,
    ),  # noqa: E501
    (
        "set2_minus_set1",
        "set_2_minus_1",
        (356, 834, 357, 834, 14078, 834, 536),
        "union",
        _target_set_op("set_2_minus_1"),
        _SET_ORDER,
    ),  # noqa: E501
]

BUILTIN_TASKS = tuple(entry[0] for entry in _BUILTINS)
"""The paper's 18 simple tasks (paper names), in the order of the reference pretrain.sh task ids."""

for _name, _generator, _prefix, _sampler, _target, _extra in _BUILTINS:
    register_task(
        SimpleTask(
            _name,
            _generator,
            _prefix,
            SAMPLERS[_sampler],
            _sampler in BINARY_SAMPLERS,
            _target,
            ORACLES[_generator],
            _extra,
        ),
        aliases=(_generator,) if _generator != _name else (),
    )
