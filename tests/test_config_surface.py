"""One gin surface for `synpt train`, `pretrain` and `finetune`: the same macros, packaged configs found from any
directory, --gin_search_paths, one-line refusals of macros a command cannot use, and the operative config.gin."""

from __future__ import annotations

import argparse
import fnmatch
from pathlib import Path

import pytest

from synpt import cli
from synpt.errors import SynptError
from synpt.experiments.plan import (
    FINETUNE_FIELDS,
    FINETUNE_REQUEST_MACROS,
    FINETUNE_UNUSED,
    operative_gin,
    plan_run,
    request_from_args,
)
from synpt.train.gin_config import (
    CONFIGS_DIR,
    MACROS,
    PRETRAIN_DEFAULTS,
    TRAIN_UNUSED,
    operative_config,
    parse_gin,
    train_config_from,
)

REPO_ROOT = Path(__file__).resolve().parents[1]

# The same overrides, given to each command; each must end in the same training settings.
SHARED = [
    "--gin.TRAIN_STEPS=6", "--gin.BATCH_SIZE=4", "--gin.LEARNING_RATE=0.003", "--gin.SEED=3", "--gin.EVAL_PERIOD=3",
    "--gin.TASK_FEATURE_LENGTHS={'inputs': 40, 'targets': 64}", "--gin.EVAL_STEPS=1", "--gin.DROPOUT_RATE=0.0",
    "--gin.Z_LOSS=0.001", "--gin.KEEP_CHECKPOINTS=1", "--gin.PADDING=fixed", "--gin.LOG_EVERY=2",
    "--gin.GRAD_ACCUM=2", "--gin.MODEL=tiny",
]  # fmt: skip
COMPARED = (
    "steps", "batch_size", "learning_rate", "seed", "eval_period", "input_length", "target_length", "eval_batches",
    "dropout_rate", "z_loss", "keep_checkpoints", "padding", "log_every", "grad_accum",
)  # fmt: skip


def command_args(command: str, argv: list[str]) -> argparse.Namespace:
    """What `synpt COMMAND ARGV...` hands its main function."""
    rest, files, search_paths, bindings = cli._split_gin_flags([command, *argv])
    args = cli.build_parser(command).parse_args(rest)
    args.gin_files, args.gin_search_paths, args.gin_bindings = files, search_paths, bindings
    return args


def test_the_same_overrides_give_the_same_run_in_train_pretrain_and_finetune(tmp_path):
    train = train_config_from(parse_gin([], [flag.removeprefix("--gin.") for flag in SHARED]))
    pretrain = train_config_from(parse_gin([], [b.removeprefix("--gin.") for b in SHARED], PRETRAIN_DEFAULTS))
    args = command_args("finetune", ["--gin.MIXTURE_OR_TASK_NAME=g2p", f"--gin.MODEL_DIR={tmp_path}", *SHARED])
    spec = plan_run(request_from_args(args))
    finetune = spec.train_config
    for field in COMPARED:
        assert getattr(train, field) == getattr(pretrain, field) == getattr(finetune, field), field
    assert (spec.task.name, spec.out, spec.request.seed, spec.model_config.d_model) == ("g2p", tmp_path, 3, 128)
    assert finetune.schedule == "constant" and train.schedule == "rsqrt"  # fine-tuning's LR is constant (§4.6)


def test_flags_win_over_gin_and_input_len_is_an_alias(tmp_path):
    argv = ["--task", "g2p", "--gin.MIXTURE_OR_TASK_NAME=mtop", "--out", str(tmp_path), "--seed", "5"]
    argv += ["--gin.SEED=3", "--gin.TASK_FEATURE_LENGTHS={'inputs': 40, 'targets': 64}", "--gin.INPUT_LEN=50"]
    request = request_from_args(command_args("finetune", [*argv, "--gin.PADDING=fixed"]))
    assert (request.task, request.seed) == ("g2p", 5)
    settings = plan_run(request).settings
    assert (settings.input_length, settings.target_length) == (50, 64)
    config = train_config_from(parse_gin([], ["TASK_FEATURE_LENGTHS={'inputs': 40, 'targets': 64}", "INPUT_LEN=50"]))
    assert (config.input_length, config.target_length) == (50, 64)


def test_every_macro_is_used_or_refused_by_each_command():
    finetune_uses = set(FINETUNE_FIELDS) | set(FINETUNE_REQUEST_MACROS) | {"TASK_FEATURE_LENGTHS"}
    assert finetune_uses | set(FINETUNE_UNUSED) == set(MACROS) and not finetune_uses & set(FINETUNE_UNUSED)
    assert set(TRAIN_UNUSED) < set(MACROS)


@pytest.mark.parametrize(
    "argv, message",
    [
        (["pretrain", "--task", "set", "--gin.BEAM_SIZE=2"], "synpt pretrain does not use BEAM_SIZE: decoded evals"),
        (["train", "--gin.PERIOD=5"], "synpt train does not use PERIOD: set EVAL_PERIOD and CHECKPOINT_PERIOD"),
        (["finetune", "--task", "g2p", "--gin.WARMUP_STEPS=5"], "synpt finetune does not use WARMUP_STEPS"),
        (["finetune", "--task", "g2p", "--gin.LEARNING_RATE=None"], "needs a constant learning rate"),
        (["finetune", "--task", "g2p", "--tracker", "nope"], "tracker 'nope' is not known"),
    ],
)
def test_a_macro_a_command_cannot_use_is_one_line(tmp_path, capsys, argv, message):
    out = [f"--gin.MODEL_DIR={tmp_path}"] if argv[0] == "train" else ["--out", str(tmp_path)]
    assert cli.main([*argv, *out]) == 2
    err = capsys.readouterr().err
    assert message in err and len(err.strip().splitlines()) == 1, err


def test_packaged_configs_resolve_from_any_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name in ("pretrain.gin", "runs/pretrain.gin", "configs/runs/pretrain.gin", "synpt/configs/runs/pretrain.gin"):
        assert parse_gin([name], []) == PRETRAIN_DEFAULTS, name
    assert parse_gin(["pretrain.gin", "tiny.gin"], [])["MODEL"] == "tiny"
    with pytest.raises(SynptError, match="gin file 'mine.gin' not found .*--gin_search_paths"):
        parse_gin(["mine.gin"], [])
    (tmp_path / "my_configs").mkdir()
    (tmp_path / "my_configs" / "mine.gin").write_text("include 'pretrain.gin'\nTRAIN_STEPS = 7\n")
    values = parse_gin(["mine.gin"], [], search_paths=[str(tmp_path / "my_configs")])
    assert values["TRAIN_STEPS"] == 7 and values["BATCH_SIZE"] == PRETRAIN_DEFAULTS["BATCH_SIZE"]
    assert values.sources["TRAIN_STEPS"].endswith("mine.gin:2")


def test_one_copy_of_the_configs_and_the_package_data_carries_it():
    """The top-level configs/ is a link to synpt/configs, and every file there matches the package-data globs
    (so `pip install .` and a wheel ship them)."""
    tomllib = pytest.importorskip("tomllib")  # Python >= 3.11
    assert (REPO_ROOT / "configs").resolve() == CONFIGS_DIR
    patterns = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"]["synpt"]
    files = [path.relative_to(CONFIGS_DIR.parent).as_posix() for path in CONFIGS_DIR.rglob("*.gin")]
    assert files and all(any(fnmatch.fnmatch(name, pattern) for pattern in patterns) for name in files)


def test_operative_config_states_every_value_and_reparses(tmp_path):
    values = parse_gin(["pretrain.gin"], ["MODEL_DIR=/runs/a b", "TASK_OPTIONS={'length_range': (1, 8)}"])
    values.set("TRAIN_STEPS", 9, "--steps")
    text = operative_config(values, values.sources, "test")
    assert "TRAIN_STEPS = 9  # from --steps" in text and "MODEL = 't5_small'  # from " in text
    assert "pretrain.gin:" in text.split("BATCH_SIZE = 128  # from ", 1)[1].splitlines()[0]
    (tmp_path / "config.gin").write_text(text)
    assert parse_gin([str(tmp_path / "config.gin")], []) == values


def test_finetune_operative_config_uses_the_train_macros(tmp_path):
    args = command_args("finetune", ["--task", "g2p", "--scale", "tiny", "--out", str(tmp_path), "--gin.BEAM_SIZE=2"])
    operative = operative_gin(plan_run(request_from_args(args)))
    text = operative_config(operative, operative.sources, "finetune")
    (tmp_path / "config.gin").write_text(text)
    reparsed = parse_gin([str(tmp_path / "config.gin")], [], unused=FINETUNE_UNUSED)
    assert reparsed == operative and reparsed["MODEL"] == "tiny" and reparsed["TRAIN_STEPS"] == 30
    assert "BEAM_SIZE = 2  # from --gin.BEAM_SIZE=2" in text
    assert "EVAL_PERIOD = 10  # from the table1 settings of g2p at tiny scale" in text
