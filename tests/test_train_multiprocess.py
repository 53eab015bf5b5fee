"""Multi-process training for real: 2 processes on 127.0.0.1 x 4 fake CPU devices each, joined by jax.distributed.

What it shows (docs/training.md cites these tests): the pair trains to the parameters of a 1-process 8-device run;
checkpoints move between the two layouts both ways; killing one process ends the other with JAX's message, and
the same command resumes; `synpt finetune` runs on the pair and writes results.json once. That the comparison
catches broken per-host data was checked by planting one (every host reading the whole stream: the parameters
differ); test_train_host_data.py counts each host's examples in-process, with a planted bug too.

Run alone with `pytest -m multiprocess`.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import jax
import numpy as np
import pytest

from synpt.train.checkpoints import load_params
from synpt.train.run_dir import read_extra

pytestmark = pytest.mark.multiprocess

REPO_ROOT = Path(__file__).resolve().parents[1]
DEVICES = 8
TIMEOUT = 240

PRETRAIN = [
    "pretrain", "--task", "identity", "--model", "tiny", "--batch-size", "8", "--seed", "3",
    "--gin.TASK_FEATURE_LENGTHS={'inputs': 12, 'targets': 12}", "--gin.TASK_OPTIONS={'length_range': (1, 8)}",
    "--gin.LOG_EVERY=1", "--gin.EVAL_STEPS=1", "--gin.DROPOUT_RATE=0.0", "--heartbeat-timeout", "5",
]  # fmt: skip


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def launch(args: list[str], *, processes: int) -> list[subprocess.Popen]:
    """Start `synpt ARGS` as `processes` processes sharing DEVICES fake CPU devices (one process: no cluster)."""
    env = dict(
        os.environ,
        JAX_PLATFORMS="cpu",
        XLA_FLAGS=f"--xla_force_host_platform_device_count={DEVICES // processes}",
        PYTHONPATH=str(REPO_ROOT),
    )
    cluster = lambda i: []
    if processes > 1:
        address, count = f"127.0.0.1:{free_port()}", str(processes)
        cluster = lambda i: ["--coordinator-address", address, "--num-processes", count, "--process-id", str(i)]
    return [
        subprocess.Popen(
            [sys.executable, "-m", "synpt", *args, *cluster(i)],
            cwd=REPO_ROOT,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(processes)
    ]


def run(args: list[str], *, processes: int) -> None:
    for process in launch(args, processes=processes):
        _, stderr = process.communicate(timeout=TIMEOUT)
        assert process.returncode == 0, stderr[-3000:]


def pretrain_args(out: Path, steps: int, *, checkpoint_every: int) -> list[str]:
    every = ["--checkpoint-every", str(checkpoint_every), "--eval-every", str(steps)]
    return [*PRETRAIN, "--steps", str(steps), *every, "--out", str(out)]


def pretrain(out: Path, steps: int, *, processes: int) -> None:
    """Train to `steps` (resuming from `out`'s checkpoint if any), one checkpoint at the end."""
    run(pretrain_args(out, steps, checkpoint_every=steps), processes=processes)


def assert_same_params(a: Path, b: Path) -> None:
    for x, y in zip(jax.tree.leaves(load_params(a)[0]), jax.tree.leaves(load_params(b)[0]), strict=True):
        np.testing.assert_allclose(np.asarray(x), np.asarray(y), rtol=1e-5, atol=1e-5)


def logged_steps(run_dir: Path, event: str = "train") -> list[int]:
    records = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return [r["step"] for r in records if r["event"] == event]


@pytest.fixture(scope="module")
def single(tmp_path_factory) -> Path:
    """A 1-process 8-device run of 4 steps (the reference every pair run is compared with)."""
    out = tmp_path_factory.mktemp("single") / "run"
    pretrain(out, 4, processes=1)
    return out


def test_two_processes_equal_one_and_checkpoints_move_both_ways(single, tmp_path):
    pair = tmp_path / "pair"
    pretrain(pair, 4, processes=2)
    assert_same_params(pair, single)
    assert logged_steps(pair) == [1, 2, 3, 4]  # one process logs
    assert read_extra(pair / "checkpoint_4")["host_positions"] == [32, 33]  # each host's next global index
    # Continue the pair's run on one process, and the single run on the pair: both restore the other's checkpoint.
    single_then_pair = tmp_path / "single_then_pair"
    shutil.copytree(single, single_then_pair)
    pretrain(pair, 6, processes=1)
    pretrain(single_then_pair, 6, processes=2)
    assert logged_steps(pair) == logged_steps(single_then_pair) == [1, 2, 3, 4, 5, 6]
    assert_same_params(pair, single_then_pair)


def test_killing_one_process_stops_both_and_the_same_command_resumes(tmp_path):
    out, steps = tmp_path / "run", 8
    args = pretrain_args(out, steps, checkpoint_every=2)
    survivor, victim = launch(args, processes=2)
    deadline = time.time() + TIMEOUT
    while not (out / "checkpoint_2" / "extra").is_dir():
        assert victim.poll() is None and survivor.poll() is None, survivor.stderr.read()[-3000:]
        assert time.time() < deadline, "no checkpoint appeared"
        time.sleep(0.05)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    _, stderr = survivor.communicate(timeout=60)  # the heartbeat timeout is 5 s
    assert survivor.returncode != 0
    assert "another task died" in stderr, stderr[-3000:]
    killed_at = max(logged_steps(out))
    assert killed_at < steps, "the run finished before it was killed; the test proves nothing"
    run(args, processes=2)  # the same command again
    steps_logged = logged_steps(out)
    assert steps_logged[-1] == steps and set(steps_logged) == set(range(1, steps + 1))


def test_finetune_on_two_processes_writes_results_once(tmp_path):
    out = tmp_path / "g2p"
    flags = ["--task", "g2p", "--scale", "tiny", "--seed", "0", "--out", str(out), "--heartbeat-timeout", "5"]
    flags += ["--gin.TRAIN_STEPS=4", "--gin.EVAL_PERIOD=4", "--gin.EVALUATOR_NUM_EXAMPLES=4", "--gin.BATCH_SIZE=8"]
    run(["finetune", *flags], processes=2)
    results = json.loads((out / "results.json").read_text())
    assert results["best_step"] == 4 and logged_steps(out, "inference") == [4]
    assert read_extra(out / "checkpoint_4")["host_positions"] == [32, 33]
