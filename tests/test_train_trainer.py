"""The training loop: learning, determinism across device counts, SIGKILL-and-resume, gradient accumulation, errors.

Runs that need several fake CPU devices or a hard kill run `synpt pretrain` in a subprocess (a tiny T5 on short
identity examples); in-process tests use a small deterministic copy stream (`copy_stream`).
"""

from __future__ import annotations

import itertools
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import jax
import numpy as np
import pytest

from synpt.catalog import get_task
from synpt.errors import SynptError
from synpt.experiments.pretraining import CompactIds
from synpt.model.config import get_config
from synpt.train.checkpoints import load_params
from synpt.train.trainer import TrainConfig, train

REPO_ROOT = Path(__file__).resolve().parents[1]


def copy_stream(start: int, *, seed: int = 0, bad_from: int | None = None):
    """Deterministic stand-in stream: example i copies 3..8 random tokens (+EOS); depends only on (seed, i).

    From global index `bad_from` on, the inputs hold an id outside the vocabulary, whose embedding lookup is NaN.
    """
    index = start
    while True:
        rng = np.random.default_rng([seed, index])
        tokens = np.append(rng.integers(3, 200, size=rng.integers(3, 9)), 1).astype(np.int32)
        inputs = tokens.copy()
        if bad_from is not None and index >= bad_from:
            inputs[0] = 10**6
        yield {"inputs": inputs, "targets": tokens}
        index += 1


TINY = dict(model="tiny", batch_size=8, input_length=16, target_length=16, log_every=1, eval_period=1000)


def pretrain_command(out: Path, steps: int, every: int) -> list[str]:
    """`synpt pretrain` on short identity examples with a tiny T5 (dropout on, so the RNG path is exercised)."""
    return [
        sys.executable, "-m", "synpt", "pretrain", "--task", "identity", "--model", "tiny", "--steps", str(steps),
        "--batch-size", "8", "--seed", "3", "--out", str(out), "--checkpoint-every", str(every),
        "--eval-every", str(steps), "--gin.TASK_FEATURE_LENGTHS={'inputs': 12, 'targets': 12}",
        "--gin.TASK_OPTIONS={'length_range': (1, 8)}", "--gin.LOG_EVERY=1", "--gin.EVAL_STEPS=1",
    ]  # fmt: skip


def run_pretrain(out: Path, steps: int, every: int, *, devices: int = 1, wait: bool = True):
    env = dict(os.environ, XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}", JAX_PLATFORMS="cpu")
    command = pretrain_command(out, steps, every)
    if not wait:
        return subprocess.Popen(command, cwd=REPO_ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    done = subprocess.run(command, cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=240)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def train_losses(run_dir: Path) -> dict[int, float]:
    lines = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    return {line["step"]: line["loss"] for line in lines if line["event"] == "train"}


def test_eight_devices_give_the_same_losses_as_one(tmp_path):
    run_pretrain(tmp_path / "one", 20, 100, devices=1)
    run_pretrain(tmp_path / "eight", 20, 100, devices=8)
    losses_one, losses_eight = train_losses(tmp_path / "one"), train_losses(tmp_path / "eight")
    assert sorted(losses_one) == list(range(1, 21)) == sorted(losses_eight)
    np.testing.assert_allclose([losses_eight[s] for s in losses_one], list(losses_one.values()), rtol=1e-5)
    assert losses_one[20] < losses_one[1]


def test_sigkill_and_resume_is_bit_identical(tmp_path):
    steps, every = 24, 6
    run_pretrain(tmp_path / "reference", steps, every)
    victim = run_pretrain(tmp_path / "victim", steps, every, wait=False)
    deadline = time.time() + 180
    while not (tmp_path / "victim" / f"checkpoint_{every}" / "extra").is_dir():
        assert victim.poll() is None, victim.stderr.read().decode()[-3000:]
        assert time.time() < deadline, "no checkpoint appeared"
        time.sleep(0.05)
    victim.send_signal(signal.SIGKILL)
    victim.wait()
    killed_at = max(train_losses(tmp_path / "victim"))
    assert killed_at < steps, "the run finished before it was killed; the test proves nothing"
    run_pretrain(tmp_path / "victim", steps, every)  # the same command again
    resumed, _ = load_params(tmp_path / "victim")
    reference, _ = load_params(tmp_path / "reference")
    for a, b in zip(jax.tree.leaves(resumed), jax.tree.leaves(reference), strict=True):
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    # After resuming, the run logged the uninterrupted run's losses.
    assert train_losses(tmp_path / "victim")[steps] == train_losses(tmp_path / "reference")[steps]


def test_gradient_accumulation_matches_one_big_batch(tmp_path):
    """Summed micro-batch gradients equal the full-batch gradient: same losses and gradient norms every step."""
    common = dict(TINY, steps=3, checkpoint_every=100, dropout_rate=0.0)
    train(TrainConfig(**common), model_dir=tmp_path / "a", train_stream=copy_stream, progress=False)
    train(TrainConfig(**common, grad_accum=4), model_dir=tmp_path / "b", train_stream=copy_stream, progress=False)
    whole, split = (
        [json.loads(line) for line in (tmp_path / run / "metrics.jsonl").read_text().splitlines()] for run in "ab"
    )
    for key in ("loss", "accuracy", "grad_norm"):
        # Step 1 agrees to float precision; later steps drift slightly, because Adafactor's first update is
        # g/|g| per element, which amplifies summation-order differences of near-zero gradient entries.
        np.testing.assert_allclose(split[0][key], whole[0][key], rtol=1e-5, err_msg=key)
        np.testing.assert_allclose([e[key] for e in split], [e[key] for e in whole], rtol=1e-2, err_msg=key)


def test_nan_loss_stops_with_step_and_last_good_checkpoint(tmp_path):
    config = TrainConfig(**{**TINY, "steps": 6, "checkpoint_every": 2})
    stream = lambda start: copy_stream(start, bad_from=2 * 8 + 3)  # first bad example lands in step 3
    with pytest.raises(SynptError, match=r"at step 3; the last good checkpoint is .*checkpoint_2"):
        train(config, model_dir=tmp_path, train_stream=stream, progress=False)
    assert not (tmp_path / "checkpoint_4").exists()


def test_run_dir_of_another_model_is_refused_naming_both(tmp_path):
    train(TrainConfig(**{**TINY, "steps": 1, "checkpoint_every": 1}), model_dir=tmp_path, train_stream=copy_stream)
    other = TrainConfig(**{**TINY, "model": "tiny_1_1", "steps": 2, "checkpoint_every": 1})
    with pytest.raises(SynptError, match=r"(?s)another model.*feed_forward=relu.*feed_forward=gated-gelu"):
        train(other, model_dir=tmp_path, train_stream=copy_stream)


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"model": "t5_huge"}, "unknown model preset 't5_huge'; valid presets: tiny"),
        ({"dtype": "float16"}, "overflow in float16"),
        ({"padding": "dynamic"}, "padding 'dynamic' is not valid"),
        ({"batch_size": 6, "grad_accum": 4}, "divisible by grad_accum"),
        ({"schedule": "cosine"}, "schedule 'cosine' is not valid"),
    ],
)
def test_bad_configs_are_user_errors(overrides, message):
    with pytest.raises(SynptError, match=message):
        TrainConfig(**{**TINY, **overrides}).validate()


@pytest.mark.slow
def test_learns_identity_to_99_percent(tmp_path):
    """The loop learns: a tiny T5 pre-trained on short identity examples (streamed) copies >= 99% of the validation
    tokens. Why these settings: the cost of a step is the output softmax, so the task draws from a 64-token pool
    relabelled to compact ids (the study's `CompactIds`: a 256-row vocabulary instead of 32,128), few target
    tokens (length_range (1, 8), feature lengths 11/9 fit every example exactly) and batch 16; LR 0.0173 for 300
    steps, then 1/sqrt decay (the paper's rsqrt shape) to settle the last percent."""
    task = get_task("identity").with_options(length_range=(1, 8), pool_size=64)
    compact = CompactIds(task, seed=0)
    config = TrainConfig(
        model=get_config("tiny", vocab_size=compact.vocab_size),
        steps=1200,
        batch_size=16,
        input_length=11,
        target_length=9,
        schedule="rsqrt",
        learning_rate=0.3,
        warmup_steps=300,
        dropout_rate=0.0,
        eval_period=1200,
        eval_batches=None,
        checkpoint_every=1200,
        log_every=200,
    )
    summary = train(
        config,
        model_dir=tmp_path,
        train_stream=lambda start: compact(task.examples("train", seed=0, start=start)),
        eval_examples=list(compact(itertools.islice(task.examples("validation", seed=0), 256))),
        progress=False,
    )
    assert compact.vocab_size == 256 and summary.evals[-1]["accuracy"] >= 0.99, summary.evals


def test_should_stop_ends_the_run_and_a_rerun_does_not_train_on(tmp_path):
    """`should_stop` (e.g. a validation plateau) ends the run at an eval with a checkpoint; re-running the same
    call resumes nothing: the stop is recorded, not forgotten."""
    config = TrainConfig(**{**TINY, "eval_period": 2, "checkpoint_every": 4}, steps=12)
    examples = list(itertools.islice(copy_stream(0, seed=9), 8))
    asked = []

    def plateau(evals):
        asked.append(evals[-1]["step"])
        return "plateau" if evals[-1]["step"] >= 6 else None

    run = lambda: train(
        config, model_dir=tmp_path, train_stream=copy_stream, eval_examples=examples, progress=False,
        should_stop=plateau,
    )  # fmt: skip
    first = run()
    assert (first.step, first.stopped, asked) == (6, "plateau", [2, 4, 6])
    assert (tmp_path / "checkpoint_6").is_dir()
    again = run()
    assert (again.step, again.stopped, again.resumed_from, asked) == (6, "plateau", 6, [2, 4, 6])
