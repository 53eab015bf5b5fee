"""`natural_text`: real English prose (CPython's documentation), T5 span corruption over bytes, offline."""

from __future__ import annotations

import itertools

import pytest

from synpt.catalog import get_task
from synpt.errors import SynptError
from synpt.natural import corpus as corpora
from synpt.natural.task import FIRST_SENTINEL, VOCAB_ROWS
from synpt.synthetic import span_corruption as sc


def decode(ids) -> str:
    return bytes(int(i) - 3 for i in ids).decode("utf-8", errors="replace")


def test_the_embedded_corpus_is_real_prose_with_its_origin_recorded():
    corpus = corpora.python_docs()
    info = get_task("natural").data_info()
    assert info["corpus"] == "python_docs" and "PSF" in info["licence"] and info["bytes"] > 500_000
    assert info["documents"] == sum(map(len, corpus.splits.values()))
    train = corpus.splits["train"]
    # prose: sentences of common English words, not code listings or generated token soup
    words = " ".join(train).lower().split()
    for common in ("the", "of", "is", "and", "returns", "string"):
        assert words.count(common) > 200, common
    assert not set(train) & set(corpus.splits["validation"]) and not set(train) & set(corpus.splits["test"])
    assert 0.015 < len(corpus.splits["validation"]) / len(train) < 0.03


def test_paragraph_filter_keeps_prose_and_drops_code_and_short_lines():
    prose = "The quick brown fox jumps over the lazy dog, because it is a sentence that many people know well. " * 2
    text = f"{prose}\n\n>>> print('hello world, this is an interactive session that goes on and on and on')\n\n"
    text += "x = [1, 2, 3]; y = {k: v for k, v in zip(a, b)}; z = f(x, y) * 2 ** 3 - 4 / 5 % 6 ^ 7 | 8 & 9 ~ 10\n\n"
    text += "Too short.\n\n" + prose.replace(" ", "\n   ", 3)
    assert corpora.paragraphs(text) == [prose.strip(), prose.strip()]


def test_span_corruption_over_bytes_reconstructs_the_text_with_t5_statistics():
    task = get_task("natural_text")
    examples = list(itertools.islice(task.examples("train", seed=0), 400))
    noise, total, spans = 0, 0, 0
    for example in examples:
        inputs, targets = example["inputs"], example["targets"]
        assert inputs[-1] == 1 and targets[-1] == 1 and len(inputs) <= 128 and len(targets) <= task.target_length
        assert inputs.max() < VOCAB_ROWS and targets[0] == FIRST_SENTINEL
        original = sc.reconstruct(inputs[:-1], targets[:-1], first_sentinel=FIRST_SENTINEL)
        assert (original >= 3).all() and (original < 259).all()
        sentinels = int((targets >= 259).sum())
        spans += sentinels
        noise += len(targets) - 1 - sentinels
        total += len(original)
    assert abs(noise / total - 0.15) < 0.01 and abs(noise / spans - 3.0) < 0.2
    corpus = "\n".join(corpora.python_docs().splits["train"])
    for example in examples[:50]:  # the examples are the corpus's own text: every paragraph piece is found in it
        text = decode(sc.reconstruct(example["inputs"][:-1], example["targets"][:-1], first_sentinel=FIRST_SENTINEL))
        assert all(piece in corpus for piece in text.split("\n")), text


def test_streams_are_deterministic_resumable_and_seeded():
    task = get_task("natural_text").with_options(inputs_length=64)
    head = lambda **kw: [e["inputs"].tolist() for e in itertools.islice(task.examples("train", **kw), 20)]
    assert head(seed=1) == head(seed=1) and head(seed=1) != head(seed=2)
    assert head(seed=1, start=10)[:10] == head(seed=1)[10:]
    hosts = [head(seed=1, start=0, shard_index=k, shard_count=2)[:5] for k in (0, 1)]
    assert hosts[0] == head(seed=1)[0:10:2] and hosts[1] == head(seed=1)[1:10:2]
    assert [e["inputs"].tolist() for e in task.examples("validation", seed=1)] == [
        e["inputs"].tolist() for e in task.examples("validation", seed=2)
    ]  # evaluation sets do not depend on the training seed


def test_a_users_corpus_folder_and_bad_options(tmp_path):
    folder = tmp_path / "pretraining_data" / "natural_text"
    folder.mkdir(parents=True)
    (folder / "train.txt").write_text("A first document about rivers and the sea, written by a person.\n" * 30)
    (folder / "valid.txt").write_text("A held-out document about mountains.\n")
    (folder / "LICENSE").write_text("CC BY-SA 4.0")
    task = get_task("natural_text").with_options(corpus="files", inputs_length=64)
    assert task.data_info(tmp_path)["licence"] == "CC BY-SA 4.0" and task.data_info(tmp_path)["documents"] == 32
    (example,) = task.examples("validation", data_dir=tmp_path)
    original = sc.reconstruct(example["inputs"][:-1], example["targets"][:-1], first_sentinel=FIRST_SENTINEL)
    assert decode(original) == "A held-out document about mountains.\n"
    with pytest.raises(SynptError, match=r"natural_text/train.txt is missing"):
        task.data_info(tmp_path / "elsewhere")
    with pytest.raises(SynptError, match="corpus must be"):
        task.with_options(corpus="c4")
    with pytest.raises(SynptError, match="sentinels"):
        task.with_options(inputs_length=4096)
