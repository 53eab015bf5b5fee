"""Each host's share of the training stream, counted in-process for 2 simulated hosts (jax.process_index patched).

Fine-tuning: across the hosts every training row is seen exactly once per epoch; pre-training: the hosts' streams
interleave to the one-host stream (no duplicates, no skips); resuming from the per-host positions a checkpoint
records restarts every host exactly where it stopped, with bucketed and with packed batches. A planted bug (every
host reading all rows) is caught by the same count.
"""

from __future__ import annotations

import itertools
from collections import Counter

import jax
import numpy as np
import pytest

from synpt.catalog import get_task
from synpt.data.batching import batches, count_examples
from synpt.tasks import sharding
from synpt.train import partitioning

HOSTS = 2


def as_host(monkeypatch, index: int, count: int = HOSTS) -> None:
    monkeypatch.setattr(jax, "process_index", lambda: index)
    monkeypatch.setattr(jax, "process_count", lambda: count)


def key(example) -> tuple[bytes, bytes]:
    return example["inputs"].tobytes(), example["targets"].tobytes()


def first_epoch_across_hosts(monkeypatch, task) -> Counter:
    """The rows the hosts read in the first epoch (global indices < N), counted."""
    rows = task.num_examples("train")
    seen: Counter = Counter()
    for host in range(HOSTS):
        as_host(monkeypatch, host)
        stream = partitioning.host_train_stream(task, seed=0, data_dir=None)(0)
        seen.update(key(ex) for ex in itertools.islice(stream, len(range(host, rows, HOSTS))))
    return seen


@pytest.fixture(scope="module")
def g2p():
    task = get_task("g2p")
    epoch = Counter(key(ex) for ex in itertools.islice(task.examples("train", seed=0), task.num_examples("train")))
    return task, epoch


def test_finetune_hosts_see_every_training_row_once_per_epoch(monkeypatch, g2p):
    task, epoch = g2p
    seen = first_epoch_across_hosts(monkeypatch, task)
    assert seen == epoch and seen.total() == task.num_examples("train")


def test_the_count_catches_hosts_reading_the_same_rows(monkeypatch, g2p):
    task, epoch = g2p
    monkeypatch.setattr(sharding, "host_indices", lambda start=0, shard_index=0, shard_count=1, stop=None: (
        sharding.itertools.count(start) if stop is None else iter(range(start, stop))
    ))  # fmt: skip
    assert first_epoch_across_hosts(monkeypatch, task) != epoch


def test_pretraining_hosts_interleave_to_the_one_host_stream(monkeypatch):
    task = get_task("identity")
    start = 7
    one_host = [key(ex) for ex in itertools.islice(task.examples("train", seed=0, start=start), 12)]
    per_host = []
    for host in range(HOSTS):
        as_host(monkeypatch, host)
        stream = partitioning.host_train_stream(task, seed=0, data_dir=None)(start)
        per_host.append([key(ex) for ex in itertools.islice(stream, 6)])
    # host 1 reads 7, 9, ...; host 0 reads 8, 10, ...
    assert [k for pair in zip(per_host[1], per_host[0], strict=True) for k in pair] == one_host


@pytest.mark.parametrize("padding", ["bucket", "pack"])
def test_resume_restarts_every_host_exactly(monkeypatch, padding):
    """Consume 3 batches per host, record each host's next index as a checkpoint does, resume: the 4th batch."""
    task = get_task("identity").with_options(length_range=(1, 12))
    make = lambda stream: batches(stream, batch_size=4, input_length=24, target_length=24, padding=padding)
    positions, fourth = [], []
    for host in range(HOSTS):
        as_host(monkeypatch, host)
        position = partitioning.StreamPosition()
        stream = make(partitioning.host_train_stream(task, seed=0, data_dir=None)(position.start))
        for batch in itertools.islice(stream, 3):
            position.advance(count_examples(batch))
        positions.append(position.next_index())
        fourth.append(next(stream))
    if padding == "pack":
        assert len(set(np.subtract(positions, range(HOSTS)))) > 1, "hosts did not drift apart; the test is weak"
    extra = {"examples_consumed": min(positions), "host_positions": positions}
    for host in range(HOSTS):
        as_host(monkeypatch, host)
        resumed = partitioning.StreamPosition(extra)
        batch = next(make(partitioning.host_train_stream(task, seed=0, data_dir=None)(resumed.start)))
        assert batch.keys() == fourth[host].keys()
        for name in batch:
            np.testing.assert_array_equal(batch[name], fourth[host][name], err_msg=f"host {host} {name}")
