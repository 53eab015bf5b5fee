"""Resuming: logs rewound to the restored step (one record per step), evals before checkpoints, damaged checkpoints
moved aside, the on-device NaN flag and the health warnings. In-process tiny runs on `copy_stream`; an exception
raised inside an eval stands in for a kill there (the process state after it is the same on disk)."""

from __future__ import annotations

import collections
import dataclasses
import itertools
import json
from pathlib import Path

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from test_train_trainer import TINY, copy_stream

from synpt.errors import SynptError
from synpt.train.checkpoint_verify import DAMAGED_DIR
from synpt.train.health import TrainingHealth
from synpt.train.log_rewind import rewind_logs
from synpt.train.logging import RunLogger, event_step, read_tfrecords
from synpt.train.step import first_bad_step
from synpt.train.trainer import TrainConfig, train

TIMINGS = {"seconds_per_step", "tokens_per_second", "padded_tokens_per_second", "mfu", "compile_seconds"}
# LOG_EVERY 3 is not a multiple of the checkpoint period 2: the case where two copies of a step disagreed
CONFIG = TrainConfig(**{**TINY, "steps": 6, "checkpoint_every": 2, "eval_period": 2, "eval_batches": 1, "log_every": 3})
EVAL_EXAMPLES = list(itertools.islice(copy_stream(0, seed=9), 8))


class Killed(Exception):
    """Raised inside an eval to stop a run there, as a kill would."""


def run(model_dir: Path, *, kill_in_eval_at: int | None = None, config: TrainConfig = CONFIG):
    def on_eval(step, params):
        if step == kill_in_eval_at:
            raise Killed
        return {"exact_match": float(step)}

    return train(
        config,
        model_dir=model_dir,
        train_stream=copy_stream,
        eval_examples=EVAL_EXAMPLES,
        on_eval=on_eval,
        progress=False,
    )


def records(run_dir: Path) -> list[dict]:
    lines = (run_dir / "metrics.jsonl").read_text().splitlines()
    return [{k: v for k, v in json.loads(line).items() if k not in TIMINGS} for line in lines]


def tensorboard_steps(run_dir: Path) -> dict[str, list[int]]:
    return {
        folder.name: sorted(
            event_step(r) for f in folder.glob("events.out.tfevents.*") for r in read_tfrecords(f.read_bytes())[1:]
        )
        for folder in sorted((run_dir / "tensorboard").iterdir())
    }


def assert_same_params(a, b) -> None:
    for x, y in zip(jax.tree.leaves(a), jax.tree.leaves(b), strict=True):
        np.testing.assert_array_equal(np.asarray(x), np.asarray(y))


def test_a_run_killed_during_an_eval_logs_every_step_once_and_ends_identical(tmp_path):
    reference = run(tmp_path / "reference")
    with pytest.raises(Killed):
        run(tmp_path / "victim", kill_in_eval_at=4)  # dies after eval step 4's teacher-forced eval, before its save
    assert not (tmp_path / "victim" / "checkpoint_4").exists()  # the eval runs before the checkpoint is saved
    resumed = run(tmp_path / "victim")
    assert resumed.resumed_from == 2
    victim = records(tmp_path / "victim")
    assert [r for r in victim if r["event"] != "resume"] == records(tmp_path / "reference")
    assert [r for r in victim if r["event"] == "resume"] == [{"event": "resume", "step": 2, "dropped": 3}]
    counts = collections.Counter((r["event"], r["step"]) for r in victim if r["event"] != "resume")
    assert set(counts.values()) == {1} and ("inference", 4) in counts
    assert tensorboard_steps(tmp_path / "victim") == tensorboard_steps(tmp_path / "reference")
    assert tensorboard_steps(tmp_path / "reference")["train"] == [2, 3, 4, 6]  # a checkpoint closes the log period
    assert_same_params(resumed.params, reference.params)


def test_rewind_drops_later_records_a_torn_line_and_later_tensorboard_events(tmp_path):
    logger = RunLogger(tmp_path, echo=lambda line: None)
    for step in (1, 2, 3, 4):
        logger.log("train", step, {"loss": float(step)})
    logger.close()
    with open(tmp_path / "metrics.jsonl", "a") as handle:
        handle.write('{"event": "train", "st')  # killed mid-write
    event_file = next((tmp_path / "tensorboard" / "train").iterdir())
    event_file.write_bytes(event_file.read_bytes()[:-5])  # and mid-record in TensorBoard
    assert rewind_logs(tmp_path, 2) == 3
    assert [(r["event"], r["step"]) for r in records(tmp_path)] == [("train", 1), ("train", 2), ("resume", 2)]
    assert tensorboard_steps(tmp_path) == {"train": [1, 2]}


def _damage(checkpoint: Path) -> None:
    biggest = max((p for p in (checkpoint / "params").rglob("*") if p.is_file()), key=lambda p: p.stat().st_size)
    biggest.write_bytes(biggest.read_bytes()[: biggest.stat().st_size // 2])


def test_a_damaged_newest_checkpoint_is_moved_aside_and_the_previous_one_used(tmp_path, capsys):
    config = dataclasses.replace(CONFIG, steps=4)
    run(tmp_path, config=config)
    _damage(tmp_path / "checkpoint_4")
    resumed = run(tmp_path, config=dataclasses.replace(config, steps=6))
    assert resumed.resumed_from == 2
    assert "checkpoint_4 is damaged (params/" in capsys.readouterr().err
    assert (tmp_path / DAMAGED_DIR / "checkpoint_4" / "params").is_dir()  # kept, not deleted
    assert records(tmp_path)[-1]["step"] == 6
    for step in (2, 4, 6):  # the resumed run wrote 4 and 6 again
        _damage(tmp_path / f"checkpoint_{step}")
    with pytest.raises(SynptError, match=rf"no usable checkpoint left .*; delete {tmp_path} to start the run over"):
        run(tmp_path, config=dataclasses.replace(config, steps=8))
    damaged = sorted(p.name for p in (tmp_path / DAMAGED_DIR).iterdir())
    assert damaged == ["checkpoint_2", "checkpoint_4", "checkpoint_4.1", "checkpoint_6"]


def test_the_first_non_finite_step_is_flagged_on_device():
    state = {"step": jnp.asarray(4, jnp.int32), "first_bad_step": jnp.asarray(-1, jnp.int32)}
    finite = {"loss": jnp.asarray(2.0), "grad_norm": jnp.asarray(1.0)}
    assert int(first_bad_step(state, finite)) == -1
    assert int(first_bad_step(state, {**finite, "grad_norm": jnp.asarray(jnp.inf)})) == 5
    assert int(first_bad_step({**state, "first_bad_step": jnp.asarray(2)}, {**finite, "loss": jnp.nan})) == 2


def test_nan_between_log_lines_names_its_step(tmp_path):
    config = TrainConfig(**{**TINY, "steps": 8, "checkpoint_every": 4, "log_every": 4})
    stream = lambda start: copy_stream(start, bad_from=5 * 8 + 3)  # first bad example lands in step 6
    with pytest.raises(SynptError, match=r"NaN/Inf at step 6; the last good checkpoint is .*checkpoint_4"):
        train(config, model_dir=tmp_path, train_stream=stream, progress=False)
    assert not (tmp_path / "checkpoint_8").exists()


def test_health_warns_once_about_a_stuck_loss_and_exploding_gradients():
    warnings = []
    health = TrainingHealth(warnings.append, vocab_size=32128)
    for step in (5, 10, 15, 20, 25, 30):
        health.observe(step, {"loss": 5.0, "grad_norm": 1.0})
    assert len(warnings) == 1 and "the loss is 5 at step 25 (5 at step 5" in warnings[0]
    health.observe(35, {"loss": 5.0, "grad_norm": 500.0})
    assert len(warnings) == 2 and "gradient norm is 500" in warnings[1]
    uniform = TrainingHealth(warnings.append, vocab_size=32128)  # dropped from 10.8, but sits at ln(32128)
    for step, loss in ((1, 10.83), (2, 10.5), (21, 10.38), (22, 10.38)):
        uniform.observe(step, {"loss": loss, "grad_norm": 0.0})
    assert len(warnings) == 3 and "a uniform guess scores 10.38" in warnings[2]
    learning = TrainingHealth(warnings.append, vocab_size=32128)
    for step, loss in ((5, 10.4), (10, 9.0), (15, 7.5), (20, 6.0), (25, 5.0)):
        learning.observe(step, {"loss": loss, "grad_norm": 2.0})
    assert len(warnings) == 3


def test_a_learning_rate_of_1e6_gets_the_stuck_loss_warning(tmp_path, capsys):
    config = TrainConfig(
        **{**TINY, "steps": 22, "checkpoint_every": 100, "log_every": 1, "learning_rate": 1e6, "schedule": "constant"}
    )
    train(config, model_dir=tmp_path, train_stream=copy_stream, progress=False)
    assert "warning: the loss is 10.38 at step 21" in capsys.readouterr().out
