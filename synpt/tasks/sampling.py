"""Seeded, vectorized sampling routines shared by the synthetic tasks (reference §2.5).

Why ragged arrays: a block of examples has one flat token array plus per-example lengths, so every routine below
draws and transforms a whole block with a handful of numpy calls instead of a Python loop per token. The
distributions are those of the reference generator (Python `random` + numpy's global RNG); the random streams
cannot be identical because the reference is unseeded (quirk 4), so every draw here comes from an explicit
`np.random.Generator`.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property

import numpy as np

POOL_LOW, POOL_HIGH = 2, 31999
"""The token pool: ids 2..31999 inclusive (every ordinary piece except pad and eos), reference §2.1."""

BLOCK_SIZE = 1024
"""Examples per block. Example i of (task, seed) is example i % BLOCK_SIZE of block i // BLOCK_SIZE."""

_KEY_STRIDE = np.int64(1 << 32)


def stable_task_id(name: str) -> int:
    """A 32-bit id of a task name that is the same in every process and Python version (unlike `hash`)."""
    return int.from_bytes(hashlib.blake2b(name.encode(), digest_size=4).digest(), "little")


def block_rng(seed: int, task_name: str, block: int, stream: str = "train") -> np.random.Generator:
    """The generator of one block: independent per (seed, task, stream, block), so blocks can be made in any order.

    The validation stream uses a different SeedSequence word, so it never repeats the train stream.
    """
    words = [int(seed), stable_task_id(task_name), stable_task_id(stream), int(block)]
    return np.random.default_rng(np.random.SeedSequence(words))


@dataclass(frozen=True)
class Ragged:
    """A batch of variable-length int sequences: `values` (flat) and `lengths` (one per sequence)."""

    values: np.ndarray
    lengths: np.ndarray

    @cached_property
    def offsets(self) -> np.ndarray:
        """Start of each sequence in `values`."""
        offsets = np.zeros(len(self.lengths), dtype=np.int64)
        np.cumsum(self.lengths[:-1], out=offsets[1:])
        return offsets

    @cached_property
    def segment_ids(self) -> np.ndarray:
        """For every value, the index of the sequence it belongs to."""
        return np.repeat(np.arange(len(self.lengths)), self.lengths)

    @cached_property
    def positions(self) -> np.ndarray:
        """For every value, its position inside its sequence."""
        return np.arange(len(self.values)) - np.repeat(self.offsets, self.lengths)

    def __len__(self) -> int:
        return len(self.lengths)

    def row(self, i: int) -> np.ndarray:
        start = self.offsets[i]
        return self.values[start : start + self.lengths[i]]

    def tolists(self) -> list[list[int]]:
        flat = self.values.tolist()
        ends = np.cumsum(self.lengths).tolist()
        starts = [0, *ends[:-1]]
        return [flat[a:b] for a, b in zip(starts, ends, strict=True)]

    @staticmethod
    def from_lists(rows: list) -> Ragged:
        flat: list[int] = []
        for r in rows:
            flat.extend(r)
        return Ragged(np.array(flat, dtype=np.int32), np.array([len(r) for r in rows], dtype=np.int64))

    @staticmethod
    def stack(parts: list[Ragged]) -> Ragged:
        """The rows of every part, one part after the other."""
        return Ragged(np.concatenate([p.values for p in parts]), np.concatenate([p.lengths for p in parts]))

    @staticmethod
    def constant(value: int, count: int) -> Ragged:
        """`count` sequences of one value each (a separator)."""
        return Ragged(np.full(count, value, dtype=np.int32), np.ones(count, dtype=np.int64))

    def take(self, rows: np.ndarray) -> Ragged:
        """The sequences at indices `rows`, in that order."""
        rows = np.asarray(rows, dtype=np.int64)
        lengths = self.lengths[rows]
        starts = np.repeat(self.offsets[rows] - _exclusive_cumsum(lengths), lengths)
        return Ragged(self.values[starts + np.arange(int(lengths.sum()))], lengths)

    def mask(self, keep: np.ndarray) -> Ragged:
        """Keep only the values where `keep` is true (per-value boolean)."""
        lengths = np.bincount(self.segment_ids[keep], minlength=len(self.lengths)).astype(np.int64)
        return Ragged(self.values[keep], lengths)


def _exclusive_cumsum(lengths: np.ndarray) -> np.ndarray:
    out = np.zeros(len(lengths), dtype=np.int64)
    np.cumsum(lengths[:-1], out=out[1:])
    return out


def concat(*parts: Ragged) -> Ragged:
    """Per-sequence concatenation: row i of the result is row i of every part, joined in order."""
    lengths = sum(p.lengths for p in parts)
    out_offsets = _exclusive_cumsum(lengths)
    values = np.empty(int(lengths.sum()), dtype=np.int32)
    shift = out_offsets.copy()
    for part in parts:
        if np.all(part.lengths == 1):
            values[shift] = part.values  # a separator column: no index arithmetic needed
        else:
            values[np.arange(len(part.values)) + np.repeat(shift - part.offsets, part.lengths)] = part.values
        shift += part.lengths
    return Ragged(values, lengths)


def uniform_int(rng: np.random.Generator, low, high, size: int | None = None) -> np.ndarray:
    """U{low..high} inclusive, elementwise over broadcast array bounds (like `random.randint`)."""
    low = np.asarray(low, dtype=np.int64)
    high = np.asarray(high, dtype=np.int64)
    return rng.integers(low, high + 1, size=size, dtype=np.int64)


def make_pool(size: int | None, rng: np.random.Generator | None = None) -> np.ndarray:
    """The token pool in ascending order, or a random `size`-subset of it (the reference's `--num_tokens`)."""
    pool = np.arange(POOL_LOW, POOL_HIGH + 1, dtype=np.int32)
    if size is None:
        return pool
    return np.sort(rng.choice(pool, size=size, replace=False)).astype(np.int32)


def draw_tokens(rng: np.random.Generator, pool: np.ndarray, size) -> np.ndarray:
    """Uniform draws with replacement from `pool`."""
    if len(pool) == POOL_HIGH - POOL_LOW + 1:
        return rng.integers(POOL_LOW, POOL_HIGH + 1, size=size, dtype=np.int32)
    return pool[rng.integers(0, len(pool), size=size)]


def ragged_tokens(rng: np.random.Generator, pool: np.ndarray, lengths: np.ndarray) -> Ragged:
    """One sequence of `lengths[i]` uniform pool tokens per row."""
    lengths = np.asarray(lengths, dtype=np.int64)
    return Ragged(draw_tokens(rng, pool, int(lengths.sum())), lengths)


def partition(rng: np.random.Generator, n: np.ndarray, k: np.ndarray) -> Ragged:
    """Row i: a multinomial draw of n[i] items into k[i] equally likely bins (zeros allowed), as bin counts.

    Each item picks a bin uniformly, which is exactly the multinomial with equal probabilities.
    """
    n = np.asarray(n, dtype=np.int64)
    k = np.asarray(k, dtype=np.int64)
    bin_offsets = _exclusive_cumsum(k)
    item_bins = (rng.random(int(n.sum())) * np.repeat(k, n)).astype(np.int64)
    counts = np.bincount(item_bins + np.repeat(bin_offsets, n), minlength=int(k.sum()))
    return Ragged(counts.astype(np.int64), k)


def partition_no_zeros(rng: np.random.Generator, n: np.ndarray, k: np.ndarray) -> Ragged:
    """partition(n - k, k) + 1 in every bin: k positive parts summing to n."""
    parts = partition(rng, np.asarray(n) - np.asarray(k), k)
    return Ragged(parts.values + 1, parts.lengths)


def segment_shuffle(rng: np.random.Generator, seqs: Ragged) -> Ragged:
    """Shuffle every row independently (uniform permutation per row, like `random.shuffle`)."""
    # Row in the high bits, 52 random bits below: one integer sort, ties practically impossible. The keys are
    # already grouped by row, which numpy's stable (merge) sort exploits: about twice as fast as quicksort here.
    keys = (seqs.segment_ids.astype(np.int64) << 52) | (rng.integers(0, 1 << 52, len(seqs.values), dtype=np.int64))
    return Ragged(seqs.values[np.argsort(keys, kind="stable")], seqs.lengths)


def run_sequence(
    rng: np.random.Generator,
    length: np.ndarray,
    runs: np.ndarray,
    *,
    pool: np.ndarray | None = None,
    symbols: Ragged | None = None,
    shuffle: bool,
) -> Ragged:
    """Row i: `runs[i]` runs of positive lengths summing to `length[i]`, one symbol per run (reference §2.5).

    Symbols are uniform draws with replacement from `pool`, or from row i of `symbols`. Neighbouring runs may get
    the same symbol and then merge. With `shuffle`, each row is shuffled afterwards.
    """
    run_lengths = partition_no_zeros(rng, length, runs)
    if symbols is None:
        run_symbols = draw_tokens(rng, pool, len(run_lengths.values))
    else:
        row = run_lengths.segment_ids
        pick = (rng.random(len(row)) * symbols.lengths[row]).astype(np.int64)
        run_symbols = symbols.values[symbols.offsets[row] + pick]
    seqs = Ragged(np.repeat(run_symbols, run_lengths.values).astype(np.int32), np.asarray(length, dtype=np.int64))
    return segment_shuffle(rng, seqs) if shuffle else seqs


def row_keys(seqs: Ragged) -> np.ndarray:
    """(row, value) packed in one int64, so per-row set logic becomes whole-array sorting."""
    return seqs.segment_ids.astype(np.int64) * _KEY_STRIDE + seqs.values.astype(np.int64)


def first_occurrence_mask(seqs: Ragged) -> np.ndarray:
    """True at the first occurrence of each value within its row."""
    keys = row_keys(seqs)
    order = np.argsort(keys, kind="stable")
    sorted_keys = keys[order]
    first = np.ones(len(keys), dtype=bool)
    first[1:] = sorted_keys[1:] != sorted_keys[:-1]
    mask = np.empty(len(keys), dtype=bool)
    mask[order] = first
    return mask


def distinct_tokens(rng: np.random.Generator, pool: np.ndarray, counts: np.ndarray) -> Ragged:
    """Row i: counts[i] distinct pool tokens (sampling without replacement), by redrawing repeats until none.

    After the first pass only the rows that had a repeat are checked again (a few percent of them).
    """
    seqs = ragged_tokens(rng, pool, counts)
    rows = np.arange(len(seqs))
    subset = seqs
    while len(rows):
        repeats = ~first_occurrence_mask(subset)
        if not repeats.any():
            break
        where = np.repeat(seqs.offsets[rows], subset.lengths) + subset.positions
        seqs.values[where[repeats]] = draw_tokens(rng, pool, int(repeats.sum()))
        rows = rows[np.unique(subset.segment_ids[repeats])]
        subset = seqs.take(rows)
    return seqs


def contains_value(seqs: Ragged, values: np.ndarray) -> np.ndarray:
    """Per row: whether `values[row]` occurs in that row."""
    keys = np.sort(row_keys(seqs), kind="stable")
    wanted = np.arange(len(seqs), dtype=np.int64) * _KEY_STRIDE + values.astype(np.int64)
    found = np.searchsorted(keys, wanted)
    found = np.minimum(found, max(len(keys) - 1, 0))
    return (keys[found] == wanted) if len(keys) else np.zeros(len(seqs), dtype=bool)


def first_match(seqs: Ragged, queries: Ragged) -> np.ndarray:
    """Per row: the start of the first contiguous occurrence of `queries[row]` in `seqs[row]`, or -1.

    Candidates are the positions holding the query's first token; each candidate window is compared in one
    vectorized pass, so the cost is proportional to (#candidates x query length).
    """
    n = len(seqs)
    result = np.full(n, -1, dtype=np.int64)
    nonempty = queries.lengths > 0
    first_token = np.where(nonempty, queries.values[np.minimum(queries.offsets, max(len(queries.values) - 1, 0))], -1)
    row = seqs.segment_ids
    pos = seqs.positions
    cand = (seqs.values == first_token[row]) & (pos + queries.lengths[row] <= seqs.lengths[row]) & nonempty[row]
    cand_rows, cand_pos = row[cand], pos[cand]
    if len(cand_rows) == 0:
        return result
    qlen = queries.lengths[cand_rows]
    window = np.repeat(np.arange(len(cand_rows)), qlen)
    step = np.arange(int(qlen.sum())) - np.repeat(_exclusive_cumsum(qlen), qlen)
    seq_idx = np.repeat(seqs.offsets[cand_rows] + cand_pos, qlen) + step
    query_idx = np.repeat(queries.offsets[cand_rows], qlen) + step
    mismatches = np.bincount(window, weights=seqs.values[seq_idx] != queries.values[query_idx], minlength=len(qlen))
    hit = mismatches == 0
    # Candidates are in row-major order, so the first hit of a row is its first occurrence.
    hit_rows, first_idx = np.unique(cand_rows[hit], return_index=True)
    result[hit_rows] = cand_pos[hit][first_idx]
    return result
