"""Ragged arrays, block seeding and the token pool: what the synthetic tasks share around their C kernels.

Why ragged arrays: a block of examples is one flat token array plus per-example lengths, which the C kernels
(`synpt/synthetic/native/`) read and write without a Python object per example, and which numpy code (user-defined
samplers and targets, batching) handles with a few whole-array calls. Every draw is seeded: the reference is
unseeded (quirk 4), so only its distributions can be matched, from an explicit per-block generator.
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
        starts = [0, *ends[:-1]][: len(ends)]
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
    """One sequence of `lengths[i]` uniform pool tokens per row (a building block for your own samplers)."""
    lengths = np.asarray(lengths, dtype=np.int64)
    return Ragged(draw_tokens(rng, pool, int(lengths.sum())), lengths)
