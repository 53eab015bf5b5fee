"""Vocabularies: the real T5 SentencePiece model, the byte vocabulary, and `synpt vocab train`."""

from __future__ import annotations

import shutil

import pytest

from synpt import vocab as V
from synpt.cli import main
from synpt.errors import SynptError


def test_t5_known_ids(t5_vocab_path):
    vocabulary = V.t5_vocabulary(path=t5_vocab_path)
    assert vocabulary.encode("copy") == [2405]
    assert vocabulary.encode("yes") == [4273]
    assert vocabulary.encode("no") == [150]
    assert (vocabulary.vocab_size, vocabulary.eos_id, vocabulary.pad_id) == (32100, 1, 0)
    assert vocabulary.is_t5 and "NOT" not in vocabulary.name
    assert isinstance(vocabulary, V.Vocabulary)


def test_t5_extra_ids_and_decode_rules(t5_vocab_path):
    vocabulary = V.t5_vocabulary(path=t5_vocab_path)
    assert vocabulary.extra_id(0) == 32099 and vocabulary.extra_id(99) == 32000
    ids = vocabulary.encode("copy <extra_id_0> no <extra_id_99>")
    assert ids == [2405, 32099, 150, 32000]
    assert vocabulary.decode(ids) == "copy <extra_id_0> no <extra_id_99>"
    assert vocabulary.decode([2405, 1, 150]) == "copy"  # stops at EOS
    assert vocabulary.decode([0, 2405, 0]) == "copy"  # pad dropped
    assert (
        vocabulary.decode([2405, 32127]) == "copy ⁇ "
    )  # SentencePiece's unk text; model rows beyond the vocabulary decode as unk
    with pytest.raises(SynptError, match="extra_id_100"):
        vocabulary.extra_id(100)


def test_t5_vocabulary_from_data_dir(tmp_path, t5_vocab_path, monkeypatch):
    (tmp_path / "vocab").mkdir()
    shutil.copy(t5_vocab_path, tmp_path / "vocab" / "t5_spiece.model")
    monkeypatch.setenv("SYNPT_DATA_DIR", str(tmp_path))
    assert V.t5_vocabulary().encode("copy") == [2405]


def test_missing_t5_vocabulary_says_how_to_get_it(tmp_path):
    with pytest.raises(SynptError, match="synpt data download vocab"):
        V.t5_vocabulary(tmp_path)


def test_byte_vocabulary_round_trip():
    vocabulary = V.ByteVocabulary()
    ids = vocabulary.encode("héllo")
    assert ids == [b + 3 for b in "héllo".encode()]
    assert all(3 <= i <= 258 for i in ids)
    assert vocabulary.decode(ids + [1, 50]) == "héllo"
    assert vocabulary.decode([0, 107, 2, 108]) == "h ⁇ i"
    assert vocabulary.decode([107, 5000]) == "h ⁇ "
    assert (vocabulary.vocab_size, vocabulary.eos_id, vocabulary.pad_id) == (259, 1, 0)
    assert isinstance(vocabulary, V.Vocabulary)


TEXT = ["the quick brown fox jumps over the lazy dog", "public int foo ( ) { return 1 ; }"] * 50


def test_trained_vocabulary_is_marked_not_t5(tmp_path):
    out = V.train_sentencepiece(TEXT, size=60, out=tmp_path / "custom.model")
    vocabulary = V.custom_vocabulary(out)
    assert not vocabulary.is_t5 and "NOT-t5" in vocabulary.name
    assert vocabulary.vocab_size == vocabulary.piece_size + 100
    assert vocabulary.decode(vocabulary.encode("the lazy fox") + [1]) == "the lazy fox"
    with pytest.raises(SynptError, match=".model"):
        V.train_sentencepiece(TEXT, size=60, out=tmp_path / "custom.bin")


def test_vocab_train_command_uses_task_training_text(tmp_path, capsys):
    folder = tmp_path / "finetuning_data" / "mybench"
    folder.mkdir(parents=True)
    for name in ("train.txt", "valid.txt", "test.txt"):
        (folder / name).write_text("".join(f"{line}\t{line[::-1]}\n" for line in TEXT))
    out = tmp_path / "mine.model"
    code = main(["vocab", "train", "--task", "mybench", "--size", "60", "--out", str(out), "--data-dir", str(tmp_path)])
    assert code == 0 and out.is_file()
    assert "NOT the T5" in capsys.readouterr().out
