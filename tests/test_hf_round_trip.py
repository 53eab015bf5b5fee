"""Hugging Face round trips: export-hf's tokenizer, generation config and card (no torch needed), `synpt predict`
against `generate`, and HF folders / Hub ids wherever a checkpoint is taken."""

from __future__ import annotations

import json
import os
import random
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
import transformers

from synpt import cli
from synpt.errors import SynptError
from synpt.model.config import get_config
from synpt.model.hf_tokenizer import write_hf_tokenizer
from synpt.model.t5 import flatten_names, init_params
from synpt.train.checkpoints import save_params
from synpt.train.sources import checkpoint_model_config, load_checkpoint, resolve_checkpoint
from synpt.vocab import ByteVocabulary, t5_vocabulary
from tests.conftest import REPO_ROOT, shared_path

MICRO = dict(d_model=32, num_heads=2, head_dim=16, d_ff=64, num_encoder_layers=1, num_decoder_layers=1)
BYTE_ROWS = 384  # the bytes vocabulary's 259 ids rounded up to a multiple of 128, as fine-tuning does


def _mixed_lines(count: int) -> list[str]:
    """Text with what tokenizers get wrong: runs of spaces, tabs, accents, CJK, symbols, sentinel-like strings."""
    rng = random.Random(0)
    pieces = [
        "hello",
        "World",
        "  ",
        "\t",
        "naïve",
        "café",
        "日本語",
        "☃",
        "3.5%",
        "$10,000",
        "<extra_id_0>",
        "(a)",
        "Ü",
    ]
    return [" ".join(rng.choice(pieces) for _ in range(rng.randint(1, 8))) for _ in range(count)]


@pytest.mark.parametrize("kind", ["bytes", "t5"])
def test_auto_tokenizer_round_trips_our_encoding(kind, tmp_path):
    if kind == "bytes":
        vocabulary, lines = ByteVocabulary(), _mixed_lines(100)
    else:
        vocabulary = t5_vocabulary(path=shared_path("data", "vocab", "t5_spiece.model"))
        text = shared_path("data", "finetuning_data", "code_translation", "test.txt").read_text().splitlines()
        lines = [line.split("\t")[0] for line in text[:60]] + _mixed_lines(40)
    write_hf_tokenizer(vocabulary, tmp_path)
    tokenizer = transformers.AutoTokenizer.from_pretrained(tmp_path)
    assert len(tokenizer) == vocabulary.vocab_size
    for line in lines:
        ours = vocabulary.encode(line)
        assert tokenizer(line, add_special_tokens=False).input_ids == ours, line
        assert tokenizer(line).input_ids == [*ours, 1]  # EOS appended, as synpt's tasks do
        plain = all(i != vocabulary.unk_id and i < vocabulary.vocab_size - 100 for i in ours)
        if kind == "bytes" or plain:  # HF prints unk as "<unk>" (not " ⁇ ") and no space before a sentinel
            assert tokenizer.decode(ours) == vocabulary.decode(ours), line


def test_a_vocabulary_without_a_hugging_face_tokenizer_is_refused(tmp_path):
    class Letters:
        name, vocab_size, eos_id, pad_id = "letters", 30, 1, 0

    with pytest.raises(SynptError, match="cannot export a tokenizer for the vocabulary 'letters'"):
        write_hf_tokenizer(Letters(), tmp_path)


EXPORT_WITHOUT_TORCH = """
import sys
sys.modules["torch"] = None  # `import torch` now fails, as where torch is not installed
sys.modules["transformers"] = None
from synpt.cli import main
code = main(["export-hf", sys.argv[1], sys.argv[2], "--task", "g2p", "--beam", "3"])
assert "torch" not in {name.split(".")[0] for name, module in sys.modules.items() if module is not None}
sys.exit(code)
"""


def test_export_needs_no_torch_and_loads_in_hugging_face(tmp_path):
    config = get_config("tiny_1_1", vocab_size=BYTE_ROWS, dropout_rate=0.0, **MICRO)
    params = init_params(config, 3)
    ckpt = save_params(tmp_path / "ckpt", params, config)
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", EXPORT_WITHOUT_TORCH, str(ckpt), str(tmp_path / "hf")],
        capture_output=True, text=True, env=env, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    out = tmp_path / "hf"
    model = transformers.T5ForConditionalGeneration.from_pretrained(out).eval()
    tokenizer = transformers.AutoTokenizer.from_pretrained(out)
    assert type(tokenizer).__name__ == "ByT5Tokenizer"
    assert model.generation_config.num_beams == 3 and model.generation_config.decoder_start_token_id == 0
    assert "init: not recorded" in (out / "README.md").read_text()
    back, back_config = load_checkpoint(out)  # and synpt reads the folder back, exactly
    assert back_config == config
    for name, value in flatten_names(params).items():
        np.testing.assert_array_equal(np.asarray(value), flatten_names(back)[name], err_msg=name)


def test_export_refuses_a_checkpoint_without_a_known_vocabulary(tmp_path, capsys):
    config = get_config("tiny", vocab_size=64, **MICRO)
    ckpt = save_params(tmp_path / "ckpt", init_params(config, 0), config)
    assert cli.main(["export-hf", str(ckpt), str(tmp_path / "hf")]) == 2
    assert "records no task, so its vocabulary is unknown: pass --task" in capsys.readouterr().err
    assert cli.main(["export-hf", str(ckpt), str(tmp_path / "hf"), "--task", "g2p"]) == 2  # 259 ids > 64 rows
    assert "is not this model's vocabulary" in capsys.readouterr().err
    assert not (tmp_path / "hf").exists()


@pytest.fixture(scope="module")
def g2p_run(tmp_path_factory) -> Path:
    """A tiny g2p model trained until it ends its outputs at different lengths (not a constant string)."""
    out = tmp_path_factory.mktemp("g2p") / "run"
    argv = ["finetune", "--task", "g2p", "--scale", "tiny", "--out", str(out), "--gin.TRAIN_STEPS=40"]
    argv += ["--gin.EVAL_PERIOD=40", "--gin.LEARNING_RATE=0.01", "--gin.MAX_DECODE_LENGTH=16", "--gin.EVAL_STEPS=1"]
    assert cli.main(argv) == 0
    return out


def test_generate_with_the_saved_config_equals_synpt_predict(g2p_run, tmp_path):
    """`synpt predict --scoring hf` runs `generate`'s beam rules (decoding.py): the outputs must be the same."""
    inputs = ["aalto", "abandons", "abc", "zebra", "phone", "mississippi", "x", "quietly", "rhythm", "bookkeeper"]
    (tmp_path / "in.txt").write_text("\n".join(inputs) + "\n")
    assert cli.main(["export-hf", str(g2p_run), str(tmp_path / "hf")]) == 0
    argv = ["predict", "--ckpt", str(g2p_run), "--input", str(tmp_path / "in.txt"), "--out", str(tmp_path / "out.txt")]
    assert cli.main([*argv, "--scoring", "hf", "--batch-size", "4"]) == 0
    ours = (tmp_path / "out.txt").read_text().splitlines()

    model = transformers.T5ForConditionalGeneration.from_pretrained(tmp_path / "hf").eval()
    tokenizer = transformers.AutoTokenizer.from_pretrained(tmp_path / "hf")
    assert model.generation_config.length_penalty == 0.6 and model.generation_config.num_beams == 4
    with torch.no_grad():
        generated = model.generate(**tokenizer(inputs, return_tensors="pt", padding=True))
    theirs = tokenizer.batch_decode(generated, skip_special_tokens=True)
    assert ours == theirs
    lengths = {len(text) for text in ours}
    assert len(lengths) > 2 and min(lengths) < 15  # outputs that end (EOS) at different lengths

    card = (tmp_path / "hf" / "README.md").read_text()
    assert "- task: g2p" in card and "- steps: 40" in card and "test em =" in card
    assert cli.main([*argv, "--beam", "1"]) == 0  # greedy: also the same as Hugging Face's greedy search
    with torch.no_grad():
        greedy = model.generate(**tokenizer(inputs, return_tensors="pt", padding=True), num_beams=1)
    assert (tmp_path / "out.txt").read_text().splitlines() == tokenizer.batch_decode(greedy, skip_special_tokens=True)


def _hub_cache(root: Path, repo: str, folder: Path) -> Path:
    """A Hugging Face cache holding `folder` as the main revision of `repo` (the layout huggingface_hub writes)."""
    cache = root / "hub"
    repo_dir = cache / f"models--{repo.replace('/', '--')}"
    revision = "0123456789abcdef0123456789abcdef01234567"
    snapshot = repo_dir / "snapshots" / revision
    snapshot.mkdir(parents=True)
    for path in folder.iterdir():
        (snapshot / path.name).write_bytes(path.read_bytes())
    (repo_dir / "refs").mkdir()
    (repo_dir / "refs" / "main").write_text(revision)
    return cache


def test_finetune_takes_hugging_face_folders_and_cached_hub_ids_offline(tmp_path, monkeypatch, capsys):
    import huggingface_hub

    config = get_config("tiny", vocab_size=BYTE_ROWS, **MICRO)
    source = save_params(tmp_path / "src", init_params(config, 1), config, metadata={})
    assert cli.main(["export-hf", str(source), str(tmp_path / "hf"), "--task", "g2p"]) == 0
    monkeypatch.setattr(
        huggingface_hub.constants, "HF_HUB_CACHE", str(_hub_cache(tmp_path, "org/t5-micro", tmp_path / "hf"))
    )
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    assert checkpoint_model_config("hf:org/t5-micro") == config
    with pytest.raises(
        SynptError, match=r"hf:org/missing is not in the Hugging Face cache .*`hf download org/missing`"
    ):
        resolve_checkpoint("hf:org/missing")

    base = ["finetune", "--task", "g2p", "--scale", "tiny", "--init", "all", "--gin.TRAIN_STEPS=1"]
    base += ["--gin.EVAL_PERIOD=1", "--gin.EVAL_STEPS=1", "--gin.EVALUATOR_NUM_EXAMPLES=2", "--gin.MAX_DECODE_LENGTH=4"]
    for name, ckpt in (("folder", str(tmp_path / "hf")), ("hub", "hf:org/t5-micro")):
        assert cli.main([*base, "--ckpt", ckpt, "--out", str(tmp_path / name)]) == 0, capsys.readouterr().err
        results = json.loads((tmp_path / name / "results.json").read_text())
        assert results["model"]["d_model"] == 32 and results["ckpt"] == ckpt
        assert "copied" in " ".join(results["init_log"])
    assert results["ckpt_label"] == "org/t5-micro"
    assert cli.main(["stats", "hf:org/t5-micro", "--json"]) == 0  # and `synpt stats` / `init` read it too
