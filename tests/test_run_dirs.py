"""Run directories are the researcher's data: kind and fingerprint checks, the lock, and storage errors in one line.

One tiny pre-training run (module fixture, in a subprocess) stands in for "a finished pre-training run"; everything
else refuses before training, so the file stays fast.
"""

from __future__ import annotations

import errno
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from synpt import cli
from synpt.errors import SynptError
from synpt.experiments.plan import FinetuneRequest, plan_run
from synpt.train.run_identity import (
    RUN_FILE,
    check_run_dir,
    checkpoint_identity,
    claim_run_dir,
    record_run_dir,
)
from synpt.train.run_lock import LOCK_FILE, hold_run_dir

REPO_ROOT = Path(__file__).resolve().parents[1]
PRETRAIN = [
    "pretrain", "--task", "identity", "--model", "tiny", "--steps", "2", "--batch-size", "4", "--seed", "3",
    "--eval-every", "2", "--gin.TASK_FEATURE_LENGTHS={'inputs': 12, 'targets': 12}",
    "--gin.TASK_OPTIONS={'length_range': (1, 8)}", "--gin.EVAL_STEPS=1",
]  # fmt: skip


def _snapshot(run_dir: Path) -> dict[str, bytes]:
    return {str(p.relative_to(run_dir)): p.read_bytes() for p in sorted(run_dir.rglob("*")) if p.is_file()}


@pytest.fixture(scope="module")
def pretrain_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("runs") / "pretrain"
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "JAX_PLATFORMS": "cpu"}
    done = subprocess.run(
        [sys.executable, "-m", "synpt", *PRETRAIN, "--out", str(out)], cwd=REPO_ROOT, env=env, capture_output=True,
        text=True, timeout=300,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    return out


def _one_line_error(capsys, *needles: str) -> str:
    """The error is one `synpt: error:` line, the last of stderr (progress bars may precede it), no traceback."""
    err = capsys.readouterr().err.strip()
    last = err.splitlines()[-1]
    assert last.startswith("synpt: error: ") and err.count("synpt: error") == 1 and "Traceback" not in err, err
    for needle in needles:
        assert needle in last, err
    return last


def test_pretrain_run_records_its_kind_and_fingerprint(pretrain_run):
    record = json.loads((pretrain_run / RUN_FILE).read_text())
    assert record["kind"] == "pretrain"
    assert record["fingerprint"]["train"]["seed"] == 3 and record["fingerprint"]["run"]["task"] == "identity"
    assert record["variable"]["steps"] == 2 and "steps" not in record["fingerprint"]["train"]
    assert (pretrain_run / LOCK_FILE).read_text() == ""  # released on exit


def test_finetune_into_a_pretraining_run_is_refused_untouched(pretrain_run, capsys):
    before = _snapshot(pretrain_run)
    assert cli.main(["finetune", "--task", "g2p", "--scale", "tiny", "--out", str(pretrain_run)]) == 2
    _one_line_error(capsys, "holds a pretrain run; this finetune command would overwrite it")
    assert _snapshot(pretrain_run) == before


def test_pretrain_with_another_seed_or_batch_is_refused_listing_them(pretrain_run, capsys):
    before = _snapshot(pretrain_run)
    argv = [*PRETRAIN, "--out", str(pretrain_run), "--seed", "4", "--batch-size", "8"]
    assert cli.main(argv) == 2
    _one_line_error(capsys, "train.seed: 3 -> 4", "train.batch_size: 4 -> 8", "holds a pretrain run with other")
    assert _snapshot(pretrain_run) == before


def test_pretrain_into_a_finished_finetune_run_is_refused(tmp_path, capsys):
    run = tmp_path / "ft"
    record_run_dir(run, "finetune", {"run": {"task": "g2p"}})
    (run / "results.json").write_text("{}")
    assert cli.main([*PRETRAIN, "--out", str(run)]) == 2
    _one_line_error(capsys, "holds a finetune run; this pretrain command would overwrite it")
    assert not list(run.glob("checkpoint_*"))


def test_export_hf_and_init_refuse_another_kind_of_run_dir(pretrain_run, tmp_path, capsys):
    finetune_dir = tmp_path / "ft"
    record_run_dir(finetune_dir, "finetune", {})
    (finetune_dir / "config.json").write_text('{"mine": 1}')
    assert cli.main(["export-hf", str(pretrain_run), str(finetune_dir)]) == 2
    _one_line_error(capsys, "holds a finetune run; this export command")
    assert (finetune_dir / "config.json").read_text() == '{"mine": 1}'
    before = _snapshot(pretrain_run)
    assert cli.main(["init", "--model", "tiny", "--out", str(pretrain_run)]) == 2
    _one_line_error(capsys, "holds a pretrain run; this init command")
    assert _snapshot(pretrain_run) == before


def test_fields_that_may_change_are_allowed_and_recorded(tmp_path):
    with claim_run_dir(tmp_path, "pretrain", {"seed": 1}, {"steps": 10}):
        pass
    with claim_run_dir(tmp_path, "pretrain", {"seed": 1}, {"steps": 20}):
        pass
    history = json.loads((tmp_path / RUN_FILE).read_text())["history"]
    assert [h["changed"] for h in history] == [["steps: null -> 10"], ["steps: 10 -> 20"]]
    with pytest.raises(SynptError, match="seed: 1 -> 2"):
        check_run_dir(tmp_path, "pretrain", {"seed": 2})


def _fake_checkpoint(root: Path, step: int, payload: bytes) -> Path:
    from synpt.model.config import get_config

    checkpoint = root / f"checkpoint_{step}"
    (checkpoint / "params").mkdir(parents=True)
    (checkpoint / "params" / "data").write_bytes(payload)
    (checkpoint / "extra").mkdir()
    config = get_config("tiny", vocab_size=256, d_ff=256)
    (checkpoint / "extra" / "metadata").write_text(json.dumps({"model_config": config.to_dict()}))
    return root


def test_finetune_resume_with_another_or_changed_ckpt_is_refused(tmp_path):
    """--ckpt is part of a fine-tuning run's identity: its path, step and content."""
    first = _fake_checkpoint(tmp_path / "set_a", 5, b"a")
    second = _fake_checkpoint(tmp_path / "set_b", 5, b"b")
    out = tmp_path / "ft"
    ask = lambda ckpt: FinetuneRequest(task="g2p", out=out, init="all_but_embedding", ckpt=str(ckpt), scale="tiny")
    spec = plan_run(ask(first))
    record_run_dir(out, "finetune", *spec.fingerprint)
    plan_run(ask(first))  # the same command: resumes
    with pytest.raises(SynptError, match=r"ckpt\.path: .*set_a.* -> .*set_b"):
        plan_run(ask(second))
    _fake_checkpoint(tmp_path / "set_a", 10, b"a2")  # the pre-training run went on: its latest checkpoint changed
    with pytest.raises(SynptError, match=r"ckpt\.content: .*ckpt\.step: 5 -> 10"):
        plan_run(ask(first))
    assert checkpoint_identity(first)["step"] == 10


def test_finetune_gin_values_of_the_wrong_type_are_one_line(tmp_path, capsys):
    for binding, message in (
        ("TRAIN_STEPS=abc", "TRAIN_STEPS must be int"),
        ("LEARNING_RATE=abc", "LEARNING_RATE must be int or float"),
        ("BATCH_SIZE=4.5", "BATCH_SIZE must be int"),
    ):
        argv = ["finetune", "--task", "g2p", "--scale", "tiny", "--out", str(tmp_path), f"--gin.{binding}"]
        assert cli.main(argv) == 2
        _one_line_error(capsys, message)


# -- the lock -------------------------------------------------------------------------------------------------------
HOLD = """
import sys, time
from synpt.train.run_lock import hold_run_dir
with hold_run_dir(sys.argv[1]):
    print("held", flush=True)
    time.sleep(120)
"""


def test_a_second_process_on_a_locked_run_dir_gets_one_line(tmp_path):
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT), "JAX_PLATFORMS": "cpu"}
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(tmp_path)], env=env, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        second = subprocess.run(
            [sys.executable, "-m", "synpt", *PRETRAIN, "--out", str(tmp_path)], cwd=REPO_ROOT, env=env,
            capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    finally:
        holder.kill()
        holder.wait()
    assert second.returncode == 2
    lines = second.stderr.strip().splitlines()
    assert len(lines) == 1 and f"is in use by process {holder.pid} on {socket.gethostname()}" in lines[0], lines
    assert not list(tmp_path.glob("checkpoint_*")) and not (tmp_path / "metrics.jsonl").exists()


def test_a_lock_left_by_a_dead_process_is_taken_over_with_a_warning(tmp_path, capsys):
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    (tmp_path / LOCK_FILE).write_text(f"{dead.pid} {socket.gethostname()}\n")
    with hold_run_dir(tmp_path):
        assert (tmp_path / LOCK_FILE).read_text().split()[0] == str(os.getpid())
        with hold_run_dir(tmp_path):  # re-entrant within a process
            pass
    assert f"process {dead.pid}" in capsys.readouterr().err


# -- storage errors -------------------------------------------------------------------------------------------------
def _raise(number: int):
    def fail(*args, **kwargs):
        raise OSError(number, os.strerror(number))

    return fail


def test_full_disk_at_a_checkpoint_is_one_line_and_keeps_the_previous_one(tmp_path, capsys, monkeypatch):
    import orbax.checkpoint as ocp

    save = ocp.CheckpointManager.save
    calls = []

    def second_save_fails(self, step, *args, **kwargs):
        calls.append(step)
        if len(calls) == 2:
            (self.directory / f"checkpoint_{step}.orbax-checkpoint-tmp-1").mkdir()  # what a real failure leaves
            raise ValueError(f"tensorstore: write failed: {os.strerror(errno.ENOSPC)}")  # wrapped, as orbax does
        return save(self, step, *args, **kwargs)

    monkeypatch.setattr(ocp.CheckpointManager, "save", second_save_fails)
    argv = [*PRETRAIN, "--steps", "4", "--gin.CHECKPOINT_PERIOD=2", "--out", str(tmp_path)]
    assert cli.main(argv) == 2
    _one_line_error(capsys, f"cannot write {tmp_path.absolute()}/checkpoint_4: the disk is full", "rerun the same")
    assert (tmp_path / "checkpoint_2" / "manifest.json").is_file()
    assert not list(tmp_path.glob("*tmp*"))


@pytest.mark.parametrize("number, fix", [(errno.EROFS, "read-only"), (errno.EACCES, "permission denied")])
def test_read_only_or_forbidden_out_is_one_line_everywhere(tmp_path, capsys, monkeypatch, number, fix):
    """generate, pretrain and finetune."""
    from synpt.tasks.task import Task

    monkeypatch.setattr(Task, "write_dataset", _raise(number))
    assert cli.main(["generate", "--task", "set", "--train", "10", "--valid", "2", "--out", str(tmp_path)]) == 2
    _one_line_error(capsys, f"cannot write {tmp_path}", fix)
    monkeypatch.setattr(Path, "mkdir", _raise(number))  # the first write of both training commands
    assert cli.main([*PRETRAIN, "--out", str(tmp_path / "p")]) == 2
    _one_line_error(capsys, f"cannot write {tmp_path / 'p'}", fix)
    assert cli.main(["finetune", "--task", "g2p", "--scale", "tiny", "--out", str(tmp_path / "f")]) == 2
    _one_line_error(capsys, f"cannot write {tmp_path / 'f'}", fix)
