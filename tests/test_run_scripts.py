"""The table scripts: the synpt command each one runs (SYNPT_DRY_RUN=1), variables, options and errors."""

import os
import shlex
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = REPO / "run_scripts_to_reproduce_experiments" / "training_scripts"
TASK_FOLDERS = {
    "cnndm_10k": "cnndm_10k",
    "code_translation": "code_translation",
    "mtop": "mtop",
    "retrosynthesis": "retrosynthesis",
    "squad": "squad_v010_allanswers",
    "webqsp": "webqsp",
}


def run_script(script: Path, *args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess:
    """Run a script from `cwd` (not the repo root) with variables in the environment."""
    environment = {k: v for k, v in os.environ.items() if k not in ("exp_dir", "ckpt", "init_id", "SCALE")}
    environment.update(env)
    return subprocess.run(
        ["bash", str(script), *args], cwd=cwd, env=environment, capture_output=True, text=True, timeout=60
    )


def dry_run(script: Path, *args: str, cwd: Path, **env: str) -> list[str]:
    result = run_script(script, *args, cwd=cwd, SYNPT_DRY_RUN="1", **env)
    assert result.returncode == 0, result.stderr
    command = shlex.split(result.stdout.strip())
    assert command[0] in ("synpt", ".venv/bin/synpt")
    return command[1:]


def option(command: list[str], flag: str) -> str:
    """The value of `flag` in `command`, written `--flag value` or `--flag=value`."""
    for position, item in enumerate(command):
        if item == flag:
            return command[position + 1]
        if item.startswith(flag + "="):
            return item.split("=", 1)[1]
    raise ValueError(f"{flag} not in {command}")


def test_every_script_exists_and_is_executable():
    expected = [SCRIPTS / "pretraining" / "pretrain.sh", SCRIPTS / "finetuning" / "cnndm_10k" / "table1_t511_exp.sh"]
    for folder in TASK_FOLDERS:
        for name in ("table1_exp.sh", "table2_init_exp.sh", "table3_pre_attn_ln_exp.sh"):
            expected.append(SCRIPTS / "finetuning" / folder / name)
    for script in expected:
        assert script.is_file() and os.access(script, os.X_OK), script
    assert sorted(SCRIPTS.rglob("*.sh")) == sorted(expected)


@pytest.mark.parametrize("folder", TASK_FOLDERS)
def test_table_scripts_run_the_right_finetune(folder, tmp_path):
    task = TASK_FOLDERS[folder]
    scripts = SCRIPTS / "finetuning" / folder
    table1 = dry_run(scripts / "table1_exp.sh", cwd=tmp_path)
    assert table1[:2] == ["finetune", "--task"] and option(table1, "--task") == task
    assert option(table1, "--init") == "from_scratch" and "--ckpt" not in table1
    assert option(table1, "--scale") == "paper" and option(table1, "--seed") == "0"
    assert option(table1, "--out") == f"runs/finetuning/{task}/table1/from_scratch"

    table1_set = dry_run(scripts / "table1_exp.sh", cwd=tmp_path, ckpt="runs/pretraining/set", natural="0")
    assert option(table1_set, "--init") == "all_but_embedding"
    assert option(table1_set, "--ckpt") == "runs/pretraining/set"
    assert option(table1_set, "--out") == f"runs/finetuning/{task}/table1/set_all_but_embedding"

    table2 = dry_run(scripts / "table2_init_exp.sh", cwd=tmp_path)
    assert option(table2, "--init") == "per_param_grouping___init_mean_std"
    assert option(table2, "--ckpt") == "runs/pretraining/identity"

    table3 = dry_run(scripts / "table3_pre_attn_ln_exp.sh", cwd=tmp_path, SCALE="tiny")
    assert option(table3, "--pre-attn-ln-value") == "0.4" and option(table3, "--init") == "from_scratch"
    assert option(table3, "--scale") == "tiny" and option(table3, "--paper-table") == "table3"
    assert option(table3, "--out") == f"runs/tiny/finetuning/{task}/table3/pre_attn_ln_0.4"


@pytest.mark.parametrize(
    "init_id",
    [
        "per_param_grouping___init_mean_std",
        "per_param_grouping___init_scale",
        "across_ALL_layer_AND_per_layer_grouping___init_scale",
        "preattnln_per_param_grouping___init_scale",
        "across_ALL_layer_grouping___init_scale",
        "per_layer_grouping___init_scale",
        "premlpln_per_param_grouping___init_scale",
        "qkvo_per_param_grouping___init_scale",
        "mlp_per_param_grouping___init_scale",
    ],
)
def test_table2_accepts_all_nine_init_ids(init_id, tmp_path):
    from synpt.init.schemes import SCHEMES

    assert init_id in SCHEMES
    script = SCRIPTS / "finetuning" / "mtop" / "table2_init_exp.sh"
    command = dry_run(script, cwd=tmp_path, init_id=init_id, ckpt="r/lime/checkpoint_5")
    assert option(command, "--init") == init_id
    assert option(command, "--out") == f"runs/finetuning/mtop/table2/{init_id}_lime@5"


def test_environment_wins_and_seed_data_dir_are_passed(tmp_path):
    command = dry_run(
        SCRIPTS / "finetuning" / "webqsp" / "table1_exp.sh",
        cwd=tmp_path,
        exp_dir="my/run",
        ckpt="t5/checkpoint_1000000",
        transfer="all",
        natural="1",
        SEED="3",
        data_dir="/data/x",
    )
    assert option(command, "--out") == "my/run" and option(command, "--init") == "all"
    assert "--natural" in command and option(command, "--seed") == "3" and option(command, "--data-dir") == "/data/x"


def test_t511_script_is_a_natural_full_transfer(tmp_path):
    command = dry_run(SCRIPTS / "finetuning" / "cnndm_10k" / "table1_t511_exp.sh", cwd=tmp_path)
    assert option(command, "--task") == "cnndm_10k" and option(command, "--init") == "all" and "--natural" in command


def test_pretrain_script_and_its_options(tmp_path):
    script = SCRIPTS / "pretraining" / "pretrain.sh"
    command = dry_run(script, cwd=tmp_path, task_id="nonsense_summary")
    assert command[:3] == ["pretrain", "--task", "nonsense_summary"]
    assert option(command, "--out") == "runs/pretraining/nonsense_summary" and "--steps" not in command
    tiny = dry_run(script, cwd=tmp_path, SCALE="tiny")
    assert option(tiny, "--task") == "set" and option(tiny, "--model") == "tiny" and option(tiny, "--steps") == "30"
    assert dry_run(script, "mas", cwd=tmp_path, exp_dir="x") == ["report", "x", "--pretrain-step", "max"]
    assert dry_run(script, "99", cwd=tmp_path, exp_dir="x") == ["report", "x", "--pretrain-step", "99"]
    echoed = run_script(script, "exp_dir", cwd=tmp_path, task_id="lime")
    assert echoed.stdout.strip() == "runs/pretraining/lime"


def test_remove_option_deletes_the_run_directory_under_the_repo_root(tmp_path):
    run_dir = tmp_path / "run"
    (run_dir / "sub").mkdir(parents=True)
    script = SCRIPTS / "finetuning" / "mtop" / "table3_pre_attn_ln_exp.sh"
    assert run_script(script, "echo_exp_logdir", cwd=tmp_path, exp_dir=str(run_dir)).stdout.strip() == str(run_dir)
    assert run_script(script, "remove_exp_logdir", cwd=tmp_path, exp_dir=str(run_dir)).returncode == 0
    assert not run_dir.exists()


@pytest.mark.parametrize(
    ("script", "env", "message"),
    [
        ("pretraining/pretrain.sh", {"task_id": "copy_everything"}, "not one of the paper's 21"),
        ("pretraining/pretrain.sh", {"SCALE": "huge"}, "SCALE=huge"),
        ("finetuning/squad/table1_exp.sh", {}, "unknown option 'bogus'"),
    ],
)
def test_script_errors_are_clear(script, env, message, tmp_path):
    result = run_script(SCRIPTS / script, "bogus", cwd=tmp_path, **env)
    assert result.returncode == 2 and message in result.stderr


def test_table3_passes_negative_and_exponent_values_through_to_finetune(tmp_path):
    from synpt import cli

    script = SCRIPTS / "finetuning" / "mtop" / "table3_pre_attn_ln_exp.sh"
    command = dry_run(script, cwd=tmp_path, SCALE="tiny", init_pre_attn_ln_value="-1e-1")
    args = cli.build_parser("finetune").parse_args(command)
    assert args.pre_attn_ln_value == pytest.approx(-0.1)


def test_mvam_reports_failure_when_the_run_is_missing(tmp_path):
    script = SCRIPTS / "finetuning" / "mtop" / "table1_exp.sh"
    result = run_script(script, "mvam", cwd=tmp_path, exp_dir=str(tmp_path / "never_ran"))
    assert result.returncode != 0 and "no such run directory" in result.stderr
