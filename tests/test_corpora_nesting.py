"""Nesting language (reference §2.11): nesting, frequency laws, id mapping, the span-corrupted task."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from synpt.catalog import get_task, task_names
from synpt.errors import SynptError
from synpt.synthetic import nesting
from synpt.synthetic import span_corruption as sc


def sentences(n=3000, seed=0, **options):
    language = nesting.NestingLanguage(**options)
    return language, language.sentences(np.random.default_rng(seed), n)


def test_every_sentence_is_properly_nested():
    language, batch = sentences(n=3000)
    assert all(language.is_well_nested(batch.row(i)) for i in range(len(batch)))
    small, batch = sentences(n=500, vocab_size=8)  # few heads: many equal heads nest inside each other
    assert all(small.is_well_nested(batch.row(i)) for i in range(len(batch)))


def test_nesting_checker_rejects_broken_structures():
    language = nesting.NestingLanguage(vocab_size=8)  # open ids 2..5, close ids 6..9
    assert language.is_well_nested([2, 3, 7, 6])
    assert not language.is_well_nested([2, 3, 6, 7])  # crossed pairs
    assert not language.is_well_nested([2, 6, 6])
    assert not language.is_well_nested([2, 3, 7])


def test_lengths_and_ids():
    language, batch = sentences(n=5000)
    assert batch.lengths.min() >= 6 and batch.lengths.max() <= 60 and (batch.lengths % 2 == 0).all()
    assert 20 < batch.lengths.mean() < 28
    assert batch.values.min() >= 2 and batch.values.max() <= 32001
    assert language.num_heads == 16000 and language.max_id == 32001


def test_open_probability_is_point_four():
    """Where both moves are allowed (stack non-empty, heads left), 40% of the moves open a pair."""
    language, batch = sentences(n=4000)
    opens = decisions = 0
    for i in range(len(batch)):
        is_open = language.is_open(batch.row(i))
        depth = np.cumsum(np.where(is_open, 1, -1))
        pairs = len(is_open) // 2
        opened_before = np.concatenate(([0], np.cumsum(is_open)[:-1]))
        depth_before = np.concatenate(([0], depth[:-1]))
        free = (depth_before > 0) & (opened_before < pairs)
        opens += int(is_open[free].sum())
        decisions += int(free.sum())
    assert abs(opens / decisions - 0.4) < 0.01


def _head_counts(frequency: str, n=6000):
    language, batch = sentences(n=n, frequency=frequency, seed=1)
    heads = language.head_of(batch.values[language.is_open(batch.values)])
    return np.bincount(heads, minlength=language.num_heads)


def test_zipf_frequencies_follow_rank_power_law():
    counts = _head_counts("zipf")
    ranks = np.arange(1, 31)
    slope = np.polyfit(np.log(ranks), np.log(counts[:30]), 1)[0]
    assert -1.1 < slope < -0.9
    assert abs(counts[0] / counts.sum() - 1 / np.sum(1 / np.arange(1, 16001))) < 0.005


def test_uniform_frequencies_are_flat():
    counts = _head_counts("uniform")
    # chi-square over 100 equal groups of heads: ~N(99, 14) under uniformity, astronomically large under Zipf
    groups = counts.reshape(100, -1).sum(axis=1)
    expected = counts.sum() / 100
    chi2 = ((groups - expected) ** 2 / expected).sum()
    assert chi2 < 160
    zipf_groups = _head_counts("zipf").reshape(100, -1).sum(axis=1)
    assert ((zipf_groups - zipf_groups.mean()) ** 2 / zipf_groups.mean()).sum() > 10 * 160


def test_generation_is_deterministic_by_seed():
    _, a = sentences(n=50, seed=4)
    _, b = sentences(n=50, seed=4)
    _, c = sentences(n=50, seed=5)
    np.testing.assert_array_equal(a.values, b.values)
    assert not np.array_equal(a.values[:100], c.values[:100])


def test_bad_options():
    with pytest.raises(SynptError, match="frequency"):
        get_task("nesting_language").with_options(frequency="pareto")
    with pytest.raises(SynptError, match="even"):
        get_task("nesting_language").with_options(vocab_size=31)
    with pytest.raises(SynptError, match="sentinels"):
        get_task("nesting_language").with_options(vocab_size=64000)


# -- task ------------------------------------------------------------------------------------------------------------


def _take(task, split="train", n=5, **kwargs):
    return list(itertools.islice(task.examples(split, **kwargs), n))


def _same(a, b) -> bool:
    return len(a) == len(b) and all(
        np.array_equal(x["inputs"], y["inputs"]) and np.array_equal(x["targets"], y["targets"])
        for x, y in zip(a, b, strict=True)
    )


def test_registered_under_paper_name():
    assert "nesting_language" in task_names("corpus")
    assert get_task("nesting_language").family == "corpus"


@pytest.mark.parametrize(("inputs_length", "targets_length"), [(512, 114), (256, 58)])
def test_train_examples_fill_the_feature_lengths(inputs_length, targets_length, tmp_path):
    task = get_task("nesting_language").with_options(inputs_length=inputs_length)
    for example in _take(task, n=3, seed=0, data_dir=tmp_path):
        assert example["inputs"].shape == (inputs_length,) and example["targets"].shape == (targets_length,)
        assert example["inputs"][-1] == 1 and example["targets"][-1] == 1
        raw = sc.reconstruct(example["inputs"][:-1], example["targets"][:-1])
        assert len(raw) == sc.random_spans_lengths(inputs_length).raw_length
        assert raw.min() >= 2 and raw.max() <= 32001


def test_train_stream_resumes_and_shards(tmp_path):
    task = get_task("nesting_language")
    full = _take(task, n=70, seed=2, data_dir=tmp_path)  # crosses a block of 64 chunks
    assert _same(full[66:], _take(task, n=4, seed=2, start=66, data_dir=tmp_path))
    assert _same(full[1::3], _take(task, n=len(full[1::3]), seed=2, shard_index=1, shard_count=3, data_dir=tmp_path))
    assert not _same(full[:3], _take(task, n=3, seed=3, data_dir=tmp_path))


def test_write_dataset_then_files_load_like_the_paper_data(tmp_path):
    task = get_task("nesting_language")
    manifest = task.write_dataset(tmp_path, num_train=300, num_valid=256, seed=9, progress=False)
    folder = tmp_path / "pretraining_data" / "nesting_language"
    lines = (folder / "train.txt").read_text().splitlines()
    assert len(lines) == 300 and lines[0].startswith("[") and "\t" not in lines[0]
    assert manifest["options"] == {"vocab_size": 32000, "frequency": "zipf"}
    files = task.with_options(source="files")
    # validation: the file holds the first two 128-sentence groups of the generated stream, so the examples agree
    from_file = list(files.examples("validation", seed=9, data_dir=tmp_path))
    generated = list(task.with_options().examples("validation", seed=9, data_dir=tmp_path / "none"))
    assert _same(from_file, generated[: len(from_file)])
    # train from the file: T5's pipeline, concatenated lines reconstruct the file in order (cycling)
    chunks = _take(files, n=20, seed=9, data_dir=tmp_path)
    restored = np.concatenate([sc.reconstruct(e["inputs"][:-1], e["targets"][:-1]) for e in chunks])
    written = np.concatenate([np.array(eval(line)) for line in lines])  # noqa: S307 - test data we just wrote
    np.testing.assert_array_equal(restored[: len(written)], written)


def test_malformed_file_line_names_file_and_line(tmp_path):
    folder = tmp_path / "pretraining_data" / "nesting_language"
    folder.mkdir(parents=True)
    (folder / "train.txt").write_text("[2, 16002]\n[3, x]\n")
    with pytest.raises(SynptError, match=r"train.txt:2"):
        _take(get_task("nesting_language").with_options(source="files"), data_dir=tmp_path)


def test_stream_validation_ignores_a_file_generated_with_other_options(tmp_path):
    get_task("nesting_language").with_options(frequency="uniform").write_dataset(
        tmp_path, num_train=0, num_valid=128, seed=0, progress=False
    )
    zipf, uniform = get_task("nesting_language"), get_task("nesting_language").with_options(frequency="uniform")
    from_file = list(uniform.examples("validation", data_dir=tmp_path))
    assert len(from_file) < 10  # 128 sentences read from the file, not the 10,000 generated ones
    assert len(list(zipf.examples("validation", data_dir=tmp_path))) > 100  # generated: the file does not match
