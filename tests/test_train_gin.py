"""Gin macros: files, includes, command-line bindings, macro references and user errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from synpt.cli.train import PRETRAIN_DEFAULTS
from synpt.errors import SynptError
from synpt.train.config import TrainConfig
from synpt.train.gin_config import macro_values, parse_gin, train_config_from

REPO_ROOT = Path(__file__).resolve().parents[1]


def test_pretrain_gin_states_exactly_the_pretrain_defaults():
    assert parse_gin([str(REPO_ROOT / "configs/runs/pretrain.gin")], []) == PRETRAIN_DEFAULTS
    config = train_config_from(PRETRAIN_DEFAULTS)
    assert (config.model, config.steps, config.batch_size, config.schedule) == ("t5_small", 80_000, 128, "rsqrt")
    assert (config.input_length, config.target_length, config.eval_batches, config.z_loss) == (512, 512, 20, 0.0)


def test_one_source_of_pretraining_defaults():
    """TrainConfig's defaults are the authority; `synpt pretrain`'s macros and configs/runs/pretrain.gin equal them."""
    assert train_config_from(PRETRAIN_DEFAULTS) == TrainConfig()
    assert train_config_from(parse_gin([str(REPO_ROOT / "configs/runs/pretrain.gin")], [])) == TrainConfig()
    assert macro_values(train_config_from(PRETRAIN_DEFAULTS)) == PRETRAIN_DEFAULTS


def test_every_config_file_parses():
    for path in sorted((REPO_ROOT / "configs").rglob("*.gin")):
        values = parse_gin([str(path)], [])
        assert values["MODEL"] in path.read_text() or "include" in path.read_text()


def test_includes_bindings_and_macro_references(tmp_path):
    (tmp_path / "model.gin").write_text("MODEL = 'tiny'\n")
    (tmp_path / "run.gin").write_text(
        "include 'model.gin'\nTRAIN_STEPS = 100\nEVAL_PERIOD = %TRAIN_STEPS\n"
        "TASK_FEATURE_LENGTHS = {'inputs': 32, 'targets': 16}\n"
    )
    values = parse_gin([str(tmp_path / "run.gin")], ["TRAIN_STEPS=7", "MODEL_DIR=/tmp/some run", "PACK=True"])
    assert values["MODEL"] == "tiny" and values["EVAL_PERIOD"] == 7 and values["MODEL_DIR"] == "/tmp/some run"
    config = train_config_from(values)
    assert (config.steps, config.eval_period, config.input_length, config.target_length) == (7, 7, 32, 16)
    assert config.padding == "pack"


def test_unknown_key_names_the_file_line_and_valid_keys(tmp_path):
    path = tmp_path / "bad.gin"
    path.write_text("TRAIN_STEPS = 3\nTRAIN_STEP = 4\n")
    with pytest.raises(
        SynptError, match=r"bad.gin:2: unknown gin key 'TRAIN_STEP'; valid keys: MODEL_DIR, .*BATCH_SIZE"
    ):
        parse_gin([str(path)], [])
    with pytest.raises(SynptError, match=r"--gin.LR=1: unknown gin key 'LR'"):
        parse_gin([], ["LR=1"])
    with pytest.raises(SynptError, match="unknown gin key 'train.learning_rate'"):
        parse_gin([], ["train.learning_rate=1"])


@pytest.mark.parametrize(
    "binding, message",
    [
        ("TRAIN_STEPS=1.5", "TRAIN_STEPS must be int"),
        ("PACK=1", "PACK must be bool"),
        ("SEED=%MISSING", "%MISSING is not bound"),
        ("TASK_FEATURE_LENGTHS={'inputs': 3}", "TASK_FEATURE_LENGTHS must be"),
    ],
)
def test_bad_values_are_user_errors(binding, message):
    with pytest.raises(SynptError, match=message):
        train_config_from(parse_gin([], [binding]))
