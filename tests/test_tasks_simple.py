"""The 18 simple tasks: golden reference lines, vectorized targets vs the oracles, bounds, determinism, options."""

from __future__ import annotations

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from synpt.catalog import get_task, task_aliases, task_names
from synpt.errors import SynptError
from synpt.synthetic.files import load_id_pairs
from synpt.synthetic.sampling import BLOCK_SIZE, Ragged
from synpt.synthetic.simple import SimpleTask, _fill_empty, number_ids, simple_task

PAPER_NAMES = [
    "identity", "set", "delete", "sort", "union", "replace", "duplicate", "intersect", "reverse", "deduplicate",
    "search", "longest_word", "length", "count", "first_token", "last_token", "set1_minus_set2", "set2_minus_set1",
]  # fmt: skip
GENERATOR_NAMES = {
    "identity": "copy", "first_token": "first_char", "last_token": "last_char",
    "set1_minus_set2": "set_1_minus_2", "set2_minus_set1": "set_2_minus_1",
}  # fmt: skip


def generator_name(name: str) -> str:
    return GENERATOR_NAMES.get(name, name)


def test_registry_has_paper_names_and_generator_aliases():
    assert set(PAPER_NAMES) <= set(task_names("simple"))
    aliases = task_aliases()
    for paper, generator in GENERATOR_NAMES.items():
        assert aliases[generator] == paper
        assert get_task(generator) is get_task(paper)
    with pytest.raises(SynptError, match="Valid tasks: .*identity"):
        get_task("no_such_task")


@pytest.mark.parametrize("name", PAPER_NAMES)
def test_golden_samples_match_oracle_and_vectorized_targets(name, golden_samples_dir):
    task = get_task(name)
    path = golden_samples_dir / f"{generator_name(name)}.txt"
    inputs, targets, report = load_id_pairs(path)
    assert report.malformed == 0 and len(inputs) == 10
    expected = targets.tolists()
    assert [task.oracle_target(ids) for ids in inputs.tolists()] == expected
    samples = [task.split_input(ids) for ids in inputs.tolists()]
    arg1 = Ragged.from_lists([s[0] for s in samples] if task.binary else samples)
    arg2 = Ragged.from_lists([s[1] for s in samples]) if task.binary else None
    assert _fill_empty(task._target(arg1, arg2, task.context())).tolists() == expected
    assert task.assemble_inputs(arg1, arg2).tolists() == inputs.tolists()


# -- vectorized targets vs the pure-Python oracles on adversarial arguments (small alphabet -> many collisions) ---
token = st.integers(2, 9)
seq = st.lists(token, min_size=1, max_size=25)


@st.composite
def sample_for(draw, name: str):
    if name == "longest_word":
        words = draw(st.lists(st.lists(token, min_size=1, max_size=5), min_size=1, max_size=6))
        return [t for i, w in enumerate(words) for t in ([32098] if i else []) + w]
    if name == "count":
        return draw(seq), [draw(token)]
    if name == "replace":
        s = draw(seq)
        return s, [draw(st.sampled_from(s)), draw(token)]
    if name == "sort":
        order = draw(st.lists(token, min_size=1, max_size=8))
        return draw(st.lists(st.sampled_from(order), min_size=1, max_size=25)), order
    if name in ("delete", "search"):
        return draw(st.lists(token, max_size=25)), draw(st.lists(token, min_size=1, max_size=3))
    if get_task(name).binary:
        return draw(st.lists(token, max_size=20)), draw(st.lists(token, max_size=20))
    return draw(seq)


def _check_against_oracle(task, samples):
    arg1 = Ragged.from_lists([s[0] for s in samples] if task.binary else samples)
    arg2 = Ragged.from_lists([s[1] for s in samples]) if task.binary else None
    vectorized = _fill_empty(task._target(arg1, arg2, task.context())).tolists()
    oracle = [task.oracle_target(ids) for ids in task.assemble_inputs(arg1, arg2).tolists()]
    assert vectorized == oracle


@pytest.mark.parametrize("name", PAPER_NAMES)
def test_vectorized_target_equals_oracle(name):
    task = get_task(name)

    @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
    @given(st.lists(sample_for(name), min_size=1, max_size=4))
    def check(samples):
        _check_against_oracle(task, samples)

    check()


@pytest.mark.parametrize("order", ["sorted", "first_appearance"])
@pytest.mark.parametrize("name", ["union", "intersect", "set1_minus_set2", "set2_minus_set1"])
def test_set_order_options_equal_oracle(name, order):
    task = get_task(name).with_options(set_order=order)

    @settings(max_examples=20, deadline=None)
    @given(st.lists(sample_for(name), min_size=1, max_size=4))
    def check(samples):
        _check_against_oracle(task, samples)

    check()
    inputs, targets = task.generate_block(0)
    if order == "sorted":
        assert all(t == sorted(t) for t in targets.tolists())


@pytest.mark.parametrize("name", PAPER_NAMES)
def test_generated_block_is_consistent_with_oracle_and_bounds(name):
    task = get_task(name).with_options(length_range=(15, 40))
    inputs, targets = task.generate_block(3, seed=7)
    assert len(inputs) == len(targets) == BLOCK_SIZE
    args = inputs.lengths - len(task.prefix) - 1
    assert args.min() >= 15 and args.max() <= 40
    rows = inputs.tolists()
    assert all(row[: len(task.prefix) + 1] == [*task.prefix, 32099] for row in rows)
    assert [task.oracle_target(r) for r in rows[:200]] == targets.tolists()[:200]
    assert np.all((inputs.values >= 2) & (inputs.values <= 32099))


def test_default_length_bounds_and_prefixes():
    for name in PAPER_NAMES:
        task = get_task(name)
        inputs, targets = task.generate_block(0)
        args = inputs.lengths - len(task.prefix) - 1
        assert args.min() >= 10 and args.max() <= 220, name
        assert targets.lengths.min() >= 1


def test_number_targets():
    assert number_ids(6) == [431] and number_ids(220) == [204, 1755] and number_ids(45) == [3479]


def test_number_table_matches_vocab(t5_vocab_path):
    import sentencepiece as spm

    from synpt.synthetic.simple import _NUMBER_LISTS

    sp = spm.SentencePieceProcessor(model_file=str(t5_vocab_path))
    for n in range(len(_NUMBER_LISTS)):
        ids = sp.encode(str(n))
        assert _NUMBER_LISTS[n] == (ids[1:] if ids[:1] == [3] else ids), n


# -- determinism by global index --------------------------------------------------------------------------------
def _take(stream, n):
    return [(e["inputs"].tolist(), e["targets"].tolist()) for _, e in zip(range(n), stream, strict=False)]


def test_examples_are_determined_by_global_index():
    task = get_task("sort")
    first = _take(task.examples("train", seed=3), BLOCK_SIZE + 20)
    assert all(inp[-1] == 1 and tgt[-1] == 1 for inp, tgt in first)
    resumed = _take(task.examples("train", seed=3, start=BLOCK_SIZE - 5), 25)
    assert resumed == first[BLOCK_SIZE - 5 : BLOCK_SIZE + 20]
    shard = _take(task.examples("train", seed=3, start=2, shard_index=1, shard_count=3), 10)
    assert shard == [first[i] for i in range(4, 34, 3)]
    assert _take(task.examples("train", seed=4), 5) != first[:5]
    valid = _take(task.examples("validation", seed=3, data_dir="/nonexistent"), 5)
    assert valid != first[:5]


def test_validation_stream_is_finite_and_disjoint():
    task = get_task("identity")
    count = sum(1 for _ in task.examples("validation", data_dir="/nonexistent", start=9_990))
    assert count == 10
    assert task.generate_block(0, split="validation")[0].tolists() != task.generate_block(0)[0].tolists()


# -- options ----------------------------------------------------------------------------------------------------
def test_unknown_and_bad_options_raise_listing_valid_ones():
    with pytest.raises(SynptError, match="valid options: .*length_range"):
        get_task("identity").with_options(set_order="sorted")
    with pytest.raises(SynptError, match="length_range"):
        get_task("identity").with_options(length_range="5")
    with pytest.raises(SynptError, match="source"):
        get_task("identity").with_options(source="disk")
    assert get_task("identity").options["length_range"] == (10, 220)  # the registered task is not modified


def test_pool_size_restricts_tokens():
    task = get_task("identity").with_options(pool_size=7)
    inputs, _ = task.generate_block(0, seed=5)
    args = inputs.values[inputs.positions >= 2]
    assert len(np.unique(args)) == 7
    other = task.generate_block(1, seed=5)[0]
    assert np.array_equal(np.unique(other.values[other.positions >= 2]), np.unique(args))


def test_balanced_search_is_half_yes():
    task = get_task("search").with_options(balanced=True)
    targets = Ragged.stack([task.generate_block(b)[1] for b in range(6)])
    assert abs(np.mean(targets.values == 4273) - 0.5) < 0.03


# -- user tasks -------------------------------------------------------------------------------------------------
def test_user_task_decorator_per_example_and_vectorized():
    @simple_task("test_user_sorted_set", prefix=[1843, 356], sampler="set")
    def sorted_set(sample):
        return sorted(set(sample))

    task = get_task("test_user_sorted_set")
    assert isinstance(task, SimpleTask) and task.family == "simple"
    inputs, targets = task.generate_block(0)
    rows = inputs.tolists()
    assert [task.oracle_target(r) for r in rows] == targets.tolists()
    assert all(t == sorted(set(r[3:])) for r, t in zip(rows, targets.tolists(), strict=True))

    @simple_task("test_user_tail", prefix=[7], sampler="copy", vectorized=True, oracle=lambda s: s[-2:])
    def tail(arg1, arg2, ctx):
        return arg1.mask(arg1.positions >= arg1.lengths[arg1.segment_ids] - 2)

    user = get_task("test_user_tail")
    inputs, targets = user.generate_block(0)
    assert [user.oracle_target(r) for r in inputs.tolists()] == targets.tolists()
    with pytest.raises(SynptError, match="already registered"):
        simple_task("test_user_tail", prefix=[7])(lambda s: s)


def test_manifest_records_options(tmp_path):
    task = get_task("union").with_options(set_order="sorted", length_range="10,60")
    manifest = task.write_dataset(tmp_path, num_train=30, num_valid=10, seed=2, progress=False)
    folder = tmp_path / "pretraining_data" / "simpler_tasks" / "union"
    on_disk = json.loads((folder / "manifest.json").read_text())
    assert on_disk == manifest
    assert manifest["options"]["set_order"] == "sorted" and manifest["options"]["length_range"] == [10, 60]
    assert manifest["counts"]["union"]["train"] == 30 and manifest["seed"] == 2


def test_user_task_with_custom_binary_sampler():
    def pairs(rng, count, ctx):
        from synpt.synthetic.sampling import ragged_tokens

        return ragged_tokens(rng, ctx.pool, np.full(count, 6)), ragged_tokens(rng, ctx.pool, np.full(count, 3))

    @simple_task("test_user_concat", prefix=[2405, 2405], sampler=pairs, binary=True)
    def concatenated(sample):
        return sample[1] + sample[0]

    task = get_task("test_user_concat")
    inputs, targets = task.generate_block(0)
    assert inputs.lengths.tolist() == [3 + 6 + 1 + 3] * BLOCK_SIZE
    assert [task.oracle_target(r) for r in inputs.tolists()] == targets.tolists()
    assert all(t[:3] == r[10:] for r, t in zip(inputs.tolists(), targets.tolists(), strict=True))
