"""The sampling distributions match the reference generator's output statistics (reference §2.8) on 20k examples."""

from __future__ import annotations

import numpy as np
import pytest

from synpt.catalog import get_task
from synpt.synthetic.sampling import Ragged, block_rng
from synpt.synthetic.simple import _first_index, accepted

NUM_BLOCKS = 20  # 20,480 examples per task

# task: (arg length mean, target length mean) from reference §2.8 (20,000 examples each), and the largest target
# length the sampler can produce (the reference observed slightly less in its 20k, e.g. sort 213 of 214).
REFERENCE = {
    "identity": (115.7, 115.7, 220),
    "reverse": (114.8, 114.8, 220),
    "duplicate": (114.6, 229, 440),
    "first_token": (115, 1, 1),
    "last_token": (115, 1, 1),
    "length": (114, 1.1, 2),
    "deduplicate": (115, 57.8, 220),
    "set": (115, 58, 220),
    "longest_word": (166, 8.2, 220),
    "count": (115, 1.0, 2),
    "replace": (115, 112, 217),
    "sort": (167, 109, 214),
    "delete": (158, 89, 217),
    "search": (148, 1, 1),
    "union": (115, 49, 110),
    "intersect": (115, 15.5, 60),
    "set1_minus_set2": (115, 17, 110),
    "set2_minus_set1": (114, 17, 110),
}
# Empty-target rates of the reference (written as [32096]).
EMPTY_RATES = {"intersect": 0.037, "set1_minus_set2": 0.086, "set2_minus_set1": 0.084}


def _blocks(name):
    task = get_task(name)
    blocks = [task.generate_block(b, seed=11) for b in range(NUM_BLOCKS)]
    return task, Ragged.stack([b[0] for b in blocks]), Ragged.stack([b[1] for b in blocks])


@pytest.mark.parametrize("name", sorted(REFERENCE))
def test_length_statistics_match_reference(name):
    task, inputs, targets = _blocks(name)
    args = inputs.lengths - len(task.prefix) - 1
    arg_mean, target_mean, target_max = REFERENCE[name]
    # Means of ~20k draws: the standard error is below 0.5 ids for every task; 2.5 ids is a loose 5-sigma bound.
    assert abs(args.mean() - arg_mean) < 2.5, args.mean()
    assert abs(targets.lengths.mean() - target_mean) < max(2.5, 0.03 * target_mean), targets.lengths.mean()
    assert args.min() >= 10 and args.max() <= 220 and targets.lengths.max() <= target_max
    if name in EMPTY_RATES:
        empty = np.mean((targets.lengths == 1) & (targets.values[targets.offsets] == 32096))
        assert abs(empty - EMPTY_RATES[name]) < 0.012, empty


def test_search_is_sixty_percent_yes():
    _, _, targets = _blocks("search")
    assert abs(np.mean(targets.values == 4273) - 0.600) < 0.015


def test_delete_really_deletes_82_percent():
    task = get_task("delete")
    ctx = task.context()
    seqs, queries = accepted(block_rng(11, "delete-stats", 0), NUM_BLOCKS * 1024, ctx, task._sampler)
    found = [_first_index(s, q) >= 0 for s, q in zip(seqs.tolists(), queries.tolists(), strict=True)]
    assert abs(np.mean(found) - 0.82) < 0.015


def test_union_is_never_empty_and_count_targets_are_numbers():
    _, _, union_targets = _blocks("union")
    assert not np.any(union_targets.values == 32096)
    _, _, count_targets = _blocks("count")
    assert np.all(count_targets.values < 32000)
