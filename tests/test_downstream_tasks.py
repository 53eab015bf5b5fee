"""Downstream tasks: file and SQuAD loaders, epochs/shards/resume, EOS rules, evaluation sets, settings, real data."""

from __future__ import annotations

import itertools
import json
import logging
import shutil
from pathlib import Path

import numpy as np
import pytest

from synpt.catalog import get_task, task_names
from synpt.downstream import tasks as D
from synpt.downstream.settings import settings_for
from synpt.errors import SynptError
from synpt.tasks import SPLITS


def _write_task(root: Path, name: str, lines: dict[str, list[str]]) -> None:
    folder = root / "finetuning_data" / name
    folder.mkdir(parents=True, exist_ok=True)
    for split, rows in lines.items():
        (folder / D.SPLIT_FILES[split]).write_text("".join(row + "\n" for row in rows), encoding="utf-8")


@pytest.fixture
def data_root(tmp_path, t5_vocab_path) -> Path:
    """A data dir with the T5 vocab and small MTOP / WebQSP / CNNDM / USPTO fixtures."""
    (tmp_path / "vocab").mkdir()
    shutil.copy(t5_vocab_path, tmp_path / "vocab" / "t5_spiece.model")
    mtop = [f"what is the weather in city {i}\t[IN:GET_WEATHER [SL:LOCATION city {i} ] ]" for i in range(12)]
    _write_task(tmp_path, "mtop", {"train": mtop, "validation": mtop[:3], "test": mtop[3:6]})
    webqsp = ["who founded apple\t( JOIN founded_by m.0k8z )", "bad line without a tab", "a\tb\tc", "q\tanswer"]
    _write_task(tmp_path, "webqsp", {"train": webqsp, "validation": webqsp, "test": webqsp})
    article = "the quick brown fox jumps over the lazy dog . " * 60
    _write_task(tmp_path, "cnndm_10k", {"train": [f"{article}\ta fox jumps ."], "validation": [], "test": []})
    _write_task(tmp_path, "retrosynthesis", {"test": ["CC(=O)Oc1ccccc1C(=O)O\tCC(=O)O . Oc1ccccc1C(=O)O"]})
    return tmp_path


def test_registered_downstream_tasks():
    names = task_names("downstream")
    for name in ("cnndm_10k", "code_translation", "mtop", "retrosynthesis", "webqsp", "squad_v010_allanswers", "g2p"):
        assert name in names
    assert get_task("squad") is get_task("squad_v010_allanswers")
    assert get_task("mtop").family == "downstream"


def test_paper_settings_table_matches_reference_5_1():
    code = settings_for("code_translation")
    assert (code.learning_rate, code.steps, code.batch_size, code.input_length, code.target_length) == (
        3e-3, 150_000, 32, 1024, 1024,
    )  # fmt: skip
    assert (
        code.evaluator_num_examples == 5000
        and settings_for("code_translation", "table2").evaluator_num_examples == 10_000
    )
    squad = settings_for("squad_v010_allanswers")
    assert squad.pack and not settings_for("squad_v010_allanswers", "table3").pack
    assert squad.decode_split == "validation" and squad.steps == 250_000
    cnndm = settings_for("cnndm_10k")
    assert (cnndm.max_decode_length, cnndm.metrics, cnndm.paper_metric) == (
        148,
        ("rouge1", "rouge2", "rougeLsum"),
        "rouge1",
    )
    webqsp = settings_for("webqsp")
    assert (webqsp.eval_period, webqsp.input_length, webqsp.target_length, webqsp.batch_size) == (5000, 2048, 256, 32)
    retro = settings_for("retrosynthesis")
    assert (retro.learning_rate, retro.steps, retro.input_length) == (3e-3, 400_000, 256)
    assert settings_for("mtop").evaluator_num_examples == 5000 and settings_for("mtop").input_length == 1024
    with pytest.raises(SynptError, match="unknown fine-tuning setting"):
        code.replace(learning_rte=1.0)


def test_file_task_tokenizes_with_eos_and_keeps_file_order(data_root):
    task = get_task("mtop")
    vocabulary = task.vocabulary(data_root)
    examples = list(task.examples("validation", data_dir=data_root))
    assert len(examples) == 3
    for i, example in enumerate(examples):
        assert example["inputs"].dtype == np.int32 and example["inputs"][-1] == 1 and example["targets"][-1] == 1
        assert vocabulary.decode(example["inputs"]) == f"what is the weather in city {i}"
    assert task.num_examples("train", data_dir=data_root) == 12


def test_malformed_lines_dropped_and_reported_with_file_and_line(data_root, caplog):
    with caplog.at_level(logging.WARNING, logger="synpt.downstream.tasks"):
        examples = list(get_task("webqsp").examples("test", data_dir=data_root))
    assert len(examples) == 2
    message = caplog.text
    assert "dropped 2 of 4 lines" in message
    assert "test.txt:2" in message and "test.txt:3" in message


def test_train_epochs_are_seeded_full_shuffles(data_root):
    task = get_task("mtop")
    vocabulary = task.vocabulary(data_root)
    stream = [
        vocabulary.decode(e["inputs"]) for e in itertools.islice(task.examples("train", seed=7, data_dir=data_root), 36)
    ]
    epochs = [stream[i : i + 12] for i in range(0, 36, 12)]
    expected = sorted(f"what is the weather in city {i}" for i in range(12))
    assert all(sorted(epoch) == expected for epoch in epochs)  # every epoch is a full pass
    assert epochs[0] != epochs[1]  # reshuffled per epoch
    again = [
        vocabulary.decode(e["inputs"]) for e in itertools.islice(task.examples("train", seed=7, data_dir=data_root), 36)
    ]
    assert again == stream
    other = [
        vocabulary.decode(e["inputs"]) for e in itertools.islice(task.examples("train", seed=8, data_dir=data_root), 12)
    ]
    assert other != epochs[0]


def test_train_resume_and_shards_slice_the_global_stream(data_root):
    task = get_task("mtop")

    def take(n, **kw):
        return [
            tuple(e["inputs"]) for e in itertools.islice(task.examples("train", seed=1, data_dir=data_root, **kw), n)
        ]

    full = take(40)
    assert take(17, start=23) == full[23:40]
    shards = [take(10, shard_index=k, shard_count=4) for k in range(4)]
    assert [shards[i % 4][i // 4] for i in range(40)] == full
    assert take(5, start=9, shard_index=1, shard_count=4) == full[9:40:4][:5]
    with pytest.raises(SynptError, match="shard_index"):
        take(1, shard_index=4, shard_count=4)


def test_evaluation_references_are_decoded_trimmed_targets(data_root):
    task = get_task("cnndm_10k")
    examples, references = task.evaluation_set("train", data_dir=data_root, limit=5, input_length=16, target_length=3)
    assert len(examples) == 1
    assert len(examples[0]["inputs"]) == 16 and examples[0]["inputs"][-1] != 1  # EOS lost when trimmed (quirk 17)
    assert len(examples[0]["targets"]) == 3
    assert references == [task.vocabulary(data_root).decode(examples[0]["targets"])]
    assert references[0] != "a fox jumps ." and "a fox jumps .".startswith(references[0])
    untrimmed_examples, untrimmed = task.evaluation_set("train", data_dir=data_root)
    assert untrimmed == ["a fox jumps ."] and untrimmed_examples[0]["targets"][-1] == 1


def test_references_are_sentencepiece_round_trips(data_root):
    _, references = get_task("mtop").with_settings(target_length=64).evaluation_set("test", data_dir=data_root, limit=1)
    assert references == ["[IN:GET_WEATHER [SL:LOCATION city 3 ] ]"]
    _, smiles = get_task("retrosynthesis").evaluation_set("test", data_dir=data_root)
    assert smiles == [get_task("retrosynthesis").vocabulary(data_root).decode(
        get_task("retrosynthesis").vocabulary(data_root).encode("CC(=O)O . Oc1ccccc1C(=O)O")
    )]  # fmt: skip


def test_missing_split_file_is_a_user_error(data_root):
    with pytest.raises(SynptError, match="synpt data download finetuning"):
        list(get_task("retrosynthesis").examples("train", data_dir=data_root))
    with pytest.raises(SynptError, match="unknown split"):
        list(get_task("mtop").examples("dev", data_dir=data_root))


def test_tokenization_is_cached_per_task_and_data_dir(data_root, monkeypatch):
    task = get_task("mtop")
    list(task.examples("test", data_dir=data_root))
    monkeypatch.setattr(D.FileSource, "read", lambda *a, **k: pytest.fail("re-read a cached split"))
    list(itertools.islice(task.with_settings(batch_size=4).examples("test", data_dir=data_root), 2))


def test_user_folder_becomes_a_task_with_default_settings(data_root):
    _write_task(data_root, "mybench", {s: ["x y\tz", "p\tq"] for s in SPLITS})
    assert D.user_task_folders(data_root) == ["mybench"]
    task = D.get_downstream_task("mybench", data_root)
    assert task.settings == settings_for("default") and task.scorers == ("em_f1",)
    assert len(list(task.examples("test", data_dir=data_root))) == 2
    assert task.compute_metrics(["z", "x"], ["z", "q"]) == {"em": 50.0, "f1": 50.0}
    assert D.downstream_task_for_folder("nothere", data_root) is None
    with pytest.raises(SynptError, match="unknown downstream task 'nothere'"):
        D.get_downstream_task("nothere", data_root)


def test_user_folder_resolves_under_the_data_dir_given_to_the_lookup(tmp_path, monkeypatch):
    """`synpt finetune --task mybench --data-dir DIR` must find DIR/finetuning_data/mybench like `data check` does."""
    root = tmp_path / "mine"
    _write_task(root, "mybench", {s: ["x y\tz", "p\tq"] for s in SPLITS})
    monkeypatch.setenv("SYNPT_DATA_DIR", str(tmp_path / "elsewhere"))
    monkeypatch.chdir(tmp_path)
    with pytest.raises(SynptError, match="unknown task 'mybench'"):
        get_task("mybench")  # not under $SYNPT_DATA_DIR
    for task in (get_task("mybench", root), get_task("mybench", str(root)), D.get_downstream_task("mybench", root)):
        assert task.name == "mybench" and task.family == "downstream" and task.settings == settings_for("default")
        task = task.with_options(vocab="bytes")  # no T5 model in this data dir
        assert len(list(task.examples("test", data_dir=root))) == 2


def test_downstream_options_are_the_one_options_system():
    task = get_task("g2p")
    assert task.options == {"vocab": "bytes", "eos_after_trim": False, "train_order": "full shuffle per epoch"}
    assert get_task("squad").options["eos_after_trim"] is True
    with pytest.raises(SynptError, match="valid options: eos_after_trim, train_order, vocab"):
        task.with_options(length_range=(1, 2))
    with pytest.raises(SynptError, match="vocabulary 'gpt2'"):
        task.with_options(vocab="gpt2")
    assert task.with_vocabulary("t5").options["vocab"] == "t5" and task.options["vocab"] == "bytes"


# ----------------------------------------------------------------------------------------------------------- SQuAD


def test_squad_text_cleaning_hand_checked():
    assert D.pad_punctuation("U.S.-based") == "U . S . - based"
    assert D.pad_punctuation("café  au_lait") == "caf é au_lait"  # RE2 \W is ASCII-only; _ is a word character
    assert D.squad_input("Who? ", "Tesla, 1856.") == "question: Who ? context: Tesla , 1856 . "


def _squad_json(path: Path) -> None:
    qa = [
        {"id": "1", "question": "Who won?", "answers": [{"text": "Denver Broncos"}, {"text": "the Broncos"}]},
        {"id": "2", "question": "Where?", "answers": [{"text": "Santa Clara, California"}]},
    ]
    context = "Super Bowl 50 was won by the Denver Broncos in Santa Clara, California. " * 20
    data = {"version": "1.1", "data": [{"title": "SB", "paragraphs": [{"context": context, "qas": qa}]}]}
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data), encoding="utf-8")


def test_squad_keeps_all_answers_and_eos_after_trimming(data_root):
    _squad_json(data_root / "squad" / "dev-v1.1.json")
    task = get_task("squad").with_settings(input_length=20, target_length=3)
    examples, references = task.evaluation_set("validation", data_dir=data_root)
    assert references == [["Denver Broncos", "the Broncos"], ["Santa Clara , California"]]
    for example in examples:  # EOS survives trimming for SQuAD (quirk 17)
        assert len(example["inputs"]) == 20 and example["inputs"][-1] == 1
        assert len(example["targets"]) <= 3 and example["targets"][-1] == 1
    streamed = next(task.examples("validation", data_dir=data_root))
    assert np.array_equal(streamed["inputs"], examples[0]["inputs"])
    vocabulary = task.vocabulary(data_root)
    assert vocabulary.decode(examples[0]["inputs"]).startswith("question: Who won ? context: Super Bowl 50")
    assert task.compute_metrics(["Broncos", "Santa Clara"], references)["em"] == pytest.approx(50.0)
    with pytest.raises(SynptError, match="no 'test' split"):
        list(task.examples("test", data_dir=data_root))
    with pytest.raises(SynptError, match="train-v1.1.json is missing"):
        list(itertools.islice(task.examples("train", data_dir=data_root), 1))


# ------------------------------------------------------------------------------------------------------ real data


def test_real_code_translation(shared_data_dir):
    task = get_task("code_translation")
    assert [task.num_examples(s, data_dir=shared_data_dir) for s in SPLITS] == [10_300, 500, 1000]
    examples, references = task.evaluation_set("test", data_dir=shared_data_dir, limit=3)
    first_target = (
        (shared_data_dir / "finetuning_data/code_translation/test.txt").read_text().split("\n")[0].split("\t")[1]
    )
    vocabulary = task.vocabulary(shared_data_dir)
    assert references[0] == vocabulary.decode(vocabulary.encode(first_target))
    assert "⁇" in references[0]  # `{` is not in the T5 vocabulary: unk on both sides (quirk 15)
    assert task.compute_metrics(references, references)["em"] == 100.0


def test_real_squad_dev(shared_data_dir):
    task = get_task("squad")
    examples, references = task.evaluation_set("validation", data_dir=shared_data_dir, limit=None)
    assert len(examples) == 10_570
    assert references[0] == ["Denver Broncos"] * 3
    assert all(len(e["inputs"]) <= 512 and e["inputs"][-1] == 1 for e in examples)


def test_non_utf8_file_is_a_user_error(tmp_path):
    path = tmp_path / "bad.txt"
    path.write_bytes(b"a\tb\n\xff\xfe\tc\n")
    with pytest.raises(SynptError, match=r"bad\.txt:2 is not UTF-8"):
        D.read_tsv_pairs(path)
