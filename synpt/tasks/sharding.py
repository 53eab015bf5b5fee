"""Which examples of a stream a host reads (start, shard per host) and the order of each training epoch.

Why one module: every task's `examples(split, start=, shard_index=, shard_count=)` has the same contract — host
`shard_index` of `shard_count` reads the global indices i >= start with i % shard_count == shard_index — and every
task that trains on a finite set of rows walks it epoch after epoch, each epoch a seeded full permutation. Written
once here, the synthetic, corpus and downstream tasks cannot drift apart.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from synpt.errors import SynptError

T = TypeVar("T")


def check_shard(start: int, shard_index: int, shard_count: int) -> None:
    """Raise SynptError unless 0 <= shard_index < shard_count and start >= 0."""
    if shard_count < 1 or not 0 <= shard_index < shard_count:
        raise SynptError(f"shard_index must be in [0, shard_count), got {shard_index} of {shard_count}")
    if start < 0:
        raise SynptError(f"start must be >= 0, got {start}")


def first_host_index(start: int, shard_index: int, shard_count: int) -> int:
    """The smallest global index i >= start with i % shard_count == shard_index."""
    check_shard(start, shard_index, shard_count)
    return start + (shard_index - start) % shard_count


def host_indices(start: int = 0, shard_index: int = 0, shard_count: int = 1, stop: int | None = None) -> Iterator[int]:
    """The global indices this host reads, in order: endless when `stop` is None, else those below `stop`."""
    first = first_host_index(start, shard_index, shard_count)
    return itertools.count(first, shard_count) if stop is None else iter(range(first, stop, shard_count))


def host_slice(
    items: Iterable[T], start: int = 0, shard_index: int = 0, shard_count: int = 1, *, first_index: int = 0
) -> Iterator[T]:
    """The items of a stream whose global index (the first item has `first_index`) this host reads.

    For streams that can only be walked in order (file lines, chunks cut from a concatenation): the skipped items
    are still produced, only not returned.
    """
    check_shard(start, shard_index, shard_count)
    first = first_host_index(max(start, first_index), shard_index, shard_count)
    return itertools.islice(items, first - first_index, None, shard_count)


@dataclass(frozen=True)
class Shard:
    """The slice of a stream one host reads: global indices i >= start with i % count == index (checked)."""

    start: int = 0
    index: int = 0
    count: int = 1

    def __post_init__(self):
        check_shard(self.start, self.index, self.count)

    def indices(self, stop: int | None = None) -> Iterator[int]:
        return host_indices(self.start, self.index, self.count, stop)

    def select(self, items: Iterable[T], *, first_index: int = 0) -> Iterator[T]:
        return host_slice(items, self.start, self.index, self.count, first_index=first_index)


def epoch_order(seed_key: Sequence[int], epoch: int, n: int) -> np.ndarray:
    """The permutation of n rows used in training epoch `epoch`: seeded by `SeedSequence([*seed_key, epoch])`."""
    return np.random.default_rng(np.random.SeedSequence([*map(int, seed_key), int(epoch)])).permutation(n)


class EpochShuffle:
    """Global index i of an endless stream over n rows -> row `epoch_order(seed_key, i // n, n)[i % n]`.

    Holds the current epoch's permutation, so walking a stream in order draws each permutation once.
    """

    def __init__(self, n: int, seed_key: Sequence[int]):
        self.n, self.seed_key = n, tuple(seed_key)
        self._epoch, self._order = -1, np.arange(0)

    def row(self, index: int) -> int:
        epoch, position = divmod(index, self.n)
        if epoch != self._epoch:
            self._epoch, self._order = epoch, epoch_order(self.seed_key, epoch, self.n)
        return int(self._order[position])
