"""`synpt pretrain` / `synpt train`: bad input is a one-line user error; a short run writes its run directory."""

from __future__ import annotations

import json

import pytest

from synpt import progress
from synpt.cli import main
from synpt.train.gin_config import parse_gin


@pytest.mark.parametrize(
    "extra, message",
    [
        (["--model", "t5_huge"], "unknown model preset 't5_huge'"),
        (["--gin.TRAIN_STEP=3"], "--gin.TRAIN_STEP=3: unknown gin key 'TRAIN_STEP'; valid keys: MODEL_DIR"),
        (["--gin.ACTIVATION_DTYPE=float16"], "overflow in float16"),
        (["--task", "mtop"], "(synthetic or natural_text); 'mtop' is a downstream task"),
        (["--task", "no_such_task"], "unknown task 'no_such_task'"),
    ],
)
def test_pretrain_user_errors(tmp_path, capsys, extra, message):
    argv = ["pretrain", "--task", "identity", "--model", "tiny", "--steps", "1", "--out", str(tmp_path), *extra]
    assert main(argv) == 2
    assert message in capsys.readouterr().err


def test_train_needs_model_dir_and_task(capsys):
    assert main(["train", "--gin.MIXTURE_OR_TASK_NAME=identity"]) == 2
    assert "MODEL_DIR is not set" in capsys.readouterr().err


def test_pretrain_writes_config_metrics_and_checkpoint(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(progress, "PLAIN_INTERVAL_S", 0.0)  # a progress line at every step (stderr is no terminal)
    argv = [
        "pretrain", "--task", "identity", "--model", "tiny", "--steps", "2", "--batch-size", "4", "--out",
        str(tmp_path), "--eval-every", "2", "--gin.TASK_FEATURE_LENGTHS={'inputs': 12, 'targets': 12}",
        "--gin.TASK_OPTIONS={'length_range': (1, 8)}", "--gin.EVAL_STEPS=1",
    ]  # fmt: skip
    assert main(argv) == 0
    config = json.loads((tmp_path / "config.json").read_text())
    assert config["train"]["steps"] == 2 and config["model"]["d_model"] == 128
    assert config["run"]["task"] == "identity" and config["run"]["task_options"]["length_range"] == [1, 8]
    events = [json.loads(line) for line in (tmp_path / "metrics.jsonl").read_text().splitlines()]
    assert [(e["event"], e["step"]) for e in events] == [("train", 2), ("eval", 2)]
    assert (tmp_path / "checkpoint_2" / "params").is_dir()
    assert events[0]["compile_seconds"] > 0  # measured apart from the step time and tokens/s
    output = capsys.readouterr()
    assert "done: step 2" in output.out
    assert "[train] 1/2 step (50%)" in output.err and "\r" not in output.err
    operative = parse_gin([str(tmp_path / "config.gin")], [])  # the operative config, re-read as gin
    assert (operative["TRAIN_STEPS"], operative["MODEL"], operative["MODEL_DIR"]) == (2, "tiny", str(tmp_path))
    assert operative["TASK_OPTIONS"] == {"length_range": (1, 8)} and operative["EVAL_PERIOD"] == 2
    assert "TRAIN_STEPS = 2  # from --steps" in (tmp_path / "config.gin").read_text()


def test_train_refuses_a_downstream_task_and_points_to_finetune(tmp_path, capsys):
    """`synpt train` would skip decoding, the selection rule and results.json: one line naming the right command."""
    assert main(["train", f"--gin.MODEL_DIR={tmp_path / 'run'}", "--gin.MIXTURE_OR_TASK_NAME=g2p"]) == 2
    err = capsys.readouterr().err
    assert "synpt finetune --task g2p" in err and len(err.strip().splitlines()) == 1
    # a user's own task folder is found in DATA_DIR (not "unknown task") and refused the same way
    (tmp_path / "data" / "finetuning_data" / "mybench").mkdir(parents=True)
    argv = ["train", f"--gin.MODEL_DIR={tmp_path / 'run'}", "--gin.MIXTURE_OR_TASK_NAME=mybench"]
    assert main([*argv, f"--gin.DATA_DIR={tmp_path / 'data'}"]) == 2
    assert "synpt finetune --task mybench" in capsys.readouterr().err
    assert not (tmp_path / "run").exists()
