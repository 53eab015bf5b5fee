"""The training loop: `train(config, ...)` for a `TrainConfig` (config.py; contract in docs/architecture.md).

Why it is organised this way: everything a resumed run needs to continue bit-identically (params, Adafactor state,
step, RNG key, number of training examples consumed) is in each checkpoint, and every random draw is a function of
(seed, step), so "kill and rerun the same command" equals "never stopped". At a checkpoint step the run logs, then
evaluates, then saves, so everything logged about a step precedes its checkpoint: a resumed run rewinds the logs to
the restored step (log_rewind.py) and redoes the rest, and every step is logged exactly once. A checkpoint or eval
step closes the log period, so the resumed run logs the same periods. Metrics stay on device until a log boundary,
where they are fetched once; an on-device flag records the first step whose loss or gradient was not finite, and
is read there, before anything is evaluated or saved.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from synpt import progress as display
from synpt.atomic import write_json_atomic
from synpt.data.batching import batches, count_examples
from synpt.errors import SynptError, storage_errors
from synpt.model.config import T5Config
from synpt.model.t5 import T5, init_params
from synpt.tasks import Example
from synpt.train import gin_config, partitioning
from synpt.train.checkpoints import RunCheckpoints, abstract_params, check_same_model
from synpt.train.compile_time import compile_seconds
from synpt.train.config import TrainConfig
from synpt.train.health import TrainingHealth
from synpt.train.log_rewind import rewind_logs
from synpt.train.logging import RunLogger, peak_flops_per_second
from synpt.train.losses import summarize
from synpt.train.optimizer import adafactor
from synpt.train.run_lock import hold_run_dir
from synpt.train.schedules import make_schedule
from synpt.train.step import make_eval_step, make_train_step
from synpt.train.trackers import Trackers


@dataclasses.dataclass
class TrainSummary:
    """What a finished `train` call reports; `params` are the final parameters (on device)."""

    step: int
    params: Any
    checkpoint: Path | None
    resumed_from: int | None
    train_metrics: dict[str, float]
    evals: list[dict[str, float]]
    seconds: float
    stopped: str | None = None  # why `should_stop` ended the run before config.steps, if it did


def _model_flops(model_config: T5Config, batch: dict[str, np.ndarray]) -> float:
    from synpt.model.flops import train_flops_per_example

    rows, input_length = batch["encoder_input_tokens"].shape
    target_length = batch["decoder_target_tokens"].shape[1]
    return rows * train_flops_per_example(model_config, input_length, target_length)


def _write_run_config(model_dir: Path, config: TrainConfig, model_config: T5Config, run_info: dict | None) -> None:
    path = model_dir / "config.json"
    if path.is_file():
        previous = json.loads(path.read_text())
        if "model" in previous:
            check_same_model(T5Config.from_dict(previous["model"]), model_config, model_dir)
    if jax.process_index() == 0:
        model_dir.mkdir(parents=True, exist_ok=True)
        record = {"train": config.to_dict(), "model": model_config.to_dict(), "run": run_info or {}}
        write_json_atomic(path, record)


class _Evaluator:
    """Teacher-forced validation: fixed batches built once, pooled loss and token accuracy."""

    def __init__(self, config: TrainConfig, model, examples: list[Example], mesh, progress: bool):
        self.progress = progress
        if config.eval_batches is not None:
            examples = list(itertools.islice(itertools.cycle(examples), config.eval_batches * config.batch_size))
        padding = "fixed" if config.padding == "fixed" else "bucket"
        self.batches = [
            partitioning.global_batch(partitioning.host_rows(b), mesh)
            for b in batches(
                iter(examples),
                batch_size=config.batch_size,
                input_length=config.input_length,
                target_length=config.target_length,
                padding=padding,
            )
        ]
        self.eval_step = make_eval_step(model, z_loss=config.z_loss)

    def __call__(self, params) -> dict[str, float]:
        totals = None
        for batch in display.iterate(self.batches, len(self.batches), "eval", "batch", enabled=self.progress):
            sums = self.eval_step(params, batch)
            totals = sums if totals is None else jax.tree.map(jnp.add, totals, sums)
            if self.progress:  # the bar follows the device, not the (asynchronous) dispatch
                jax.block_until_ready(totals)
        return summarize(jax.device_get(totals))


class _PeriodMeter:
    """Accumulates one log period's device metrics and host-side token counts; fetches them once.

    Its time is training time only: evals (`pause`) and compilation are taken out, so tokens/s and MFU measure the
    steps, and the compile seconds are reported apart.
    """

    def __init__(self):
        self.pending: list[tuple[int, dict]] = []
        self.real_tokens = self.padded_tokens = 0
        self.flops = 0.0
        self.start = time.perf_counter()
        self.compile_start = compile_seconds()
        self.paused = self.paused_compile = 0.0

    def pause(self, seconds: float, compiling: float) -> None:
        """Leave out `seconds` of other work (an eval), of which `compiling` were compilation."""
        self.paused += seconds
        self.paused_compile += compiling

    def timing(self) -> tuple[float, float]:
        """(training seconds, compile seconds) of the period so far."""
        compiling = compile_seconds() - self.compile_start - self.paused_compile
        seconds = time.perf_counter() - self.start - self.paused - compiling
        return max(seconds, 1e-9), compiling

    def add(self, step: int, metrics: dict, batch: dict[str, np.ndarray], flops: float) -> None:
        self.pending.append((step, metrics))
        self.real_tokens += int(np.count_nonzero(batch["encoder_input_tokens"]))
        self.real_tokens += int(np.count_nonzero(batch["decoder_target_tokens"]))
        self.padded_tokens += batch["encoder_input_tokens"].size + batch["decoder_target_tokens"].size
        self.flops += flops

    def fetch(self) -> list[tuple[int, dict]]:
        """Host copies of the pending metrics."""
        return jax.device_get(self.pending)


class _TimeLeft:
    """The train bar's ETA: the steps left at the measured step time plus the evals left at their mean time
    (compilation excluded from the step time); tqdm's own ETA would count steps only."""

    def __init__(self, config: TrainConfig, bar: display.Progress):
        self.config, self.bar = config, bar
        self.step_seconds: float | None = None
        self.eval_seconds: list[float] = []

    def train_period(self, step: int, seconds_per_step: float | None) -> None:
        self.step_seconds = seconds_per_step
        self._show(step)

    def eval_done(self, step: int, seconds: float) -> None:
        self.eval_seconds.append(seconds)
        self._show(step)

    def evals_left(self, step: int) -> int:
        steps, period = self.config.steps, self.config.eval_period
        return steps // period - step // period + (1 if steps % period and step < steps else 0)

    def _show(self, step: int) -> None:
        if self.step_seconds is None:
            return
        evals_left = self.evals_left(step)
        seconds = (self.config.steps - step) * self.step_seconds
        if self.eval_seconds:
            seconds += evals_left * sum(self.eval_seconds) / len(self.eval_seconds)
            note = f" incl. {evals_left} evals" if evals_left else ""
        else:
            note = f" + {evals_left} evals" if evals_left else ""
        self.bar.set_postfix_str(f"eta {display.format_duration(seconds)}{note}")


def _check_finite(state, last_checkpoint: Path | None) -> None:
    """Stop the run if the on-device flag says a step's loss or gradient norm was NaN or Inf."""
    bad_step = int(jax.device_get(state["first_bad_step"]))
    if bad_step >= 0:
        where = f"the last good checkpoint is {last_checkpoint}" if last_checkpoint else "no checkpoint yet"
        raise SynptError(
            f"the training loss or gradient became NaN/Inf at step {bad_step}; {where}. Lower the learning rate, use "
            "float32, or check the data; rerunning the same command resumes from the last good checkpoint"
        )


def train(config: TrainConfig, *, model_dir: str | Path, **kwargs) -> TrainSummary:
    """Train (or resume training) a T5 for `config.steps` steps; see docs/training.md and `_train`'s arguments.

    The run directory is locked for the call (one process per run directory, run_lock.py), and a full disk or
    read-only directory ends in one line naming the path.
    """
    with hold_run_dir(model_dir, primary=jax.process_index() == 0), storage_errors(model_dir):
        return _train(config, model_dir=model_dir, **kwargs)


def _train(
    config: TrainConfig,
    *,
    model_dir: str | Path,
    train_stream: Callable[[int], Iterator[Example]],
    eval_examples: Iterable[Example] | None = None,
    initial_params=None,
    on_eval: Callable[[int, Any], dict[str, float]] | None = None,
    progress: bool = True,
    run_info: dict | None = None,
    should_stop: Callable[[list[dict[str, float]]], str | None] | None = None,
    operative_config: str | None = None,
    trackers: Trackers | None = None,
) -> TrainSummary:
    """The training loop of `train`.

    `run_info` (task, options, data source, ...) is recorded under "run" in `model_dir/config.json`, and
    `operative_config` (gin_config.operative_config; default: the TrainConfig's macros) as `model_dir/config.gin`.
    `trackers` (trackers.open_trackers; default TensorBoard) receive every logged event and are closed at the end.
    `progress=False`: no bars and no progress lines (synpt/progress.py).
    `should_stop(evals)` is asked after every eval (all evals of this call so far); a reason string ends the run
    there with a checkpoint and `stopped.json` (step, reason), so re-running the finished run does not train on.
    """
    config.validate()
    started = time.perf_counter()
    model_config = config.model_config()
    model_dir = Path(model_dir)
    mesh = partitioning.make_mesh(config.model_parallel)
    store = RunCheckpoints(model_dir, keep=config.keep_checkpoints)

    model = T5(model_config)
    schedule = make_schedule(config.schedule, learning_rate=config.learning_rate, warmup_steps=config.warmup_steps)
    optimizer = adafactor(schedule)
    init_key, dropout_key = jax.random.split(jax.random.key(config.seed))
    abstract = abstract_params(model_config)
    abstract_opt = jax.eval_shape(optimizer.init, abstract)
    param_shardings = partitioning.tree_shardings(abstract, mesh)
    opt_shardings = partitioning.tree_shardings(abstract_opt, mesh)
    replicated = partitioning.replicated(mesh)
    if jax.process_index() == 0:
        display.write(partitioning.describe_shardings(abstract, param_shardings))

    with_sharding = lambda tree, shardings: jax.tree.map(
        lambda a, s: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=s), tree, shardings
    )
    restored = store.restore_latest(
        with_sharding(abstract, param_shardings),
        with_sharding(abstract_opt, opt_shardings),
        lambda extra: check_same_model(T5Config.from_dict(extra["model_config"]), model_config, model_dir),
    )
    _write_run_config(model_dir, config, model_config, run_info)
    operative_config = operative_config or gin_config.operative_config(
        gin_config.macro_values(config), {}, f"train(): {model_dir}"
    )
    gin_config.write_operative_config(model_dir, operative_config)
    latest = None if restored is None else restored[2]["step"]
    if restored is not None:
        params, opt_state, extra = restored
        step, position = extra["step"], partitioning.StreamPosition(extra)
        stopped = _stop_reason(model_dir, latest)
        rng = jnp.asarray(extra["rng_key_data"], jnp.uint32)
        last_checkpoint: Path | None = store.path(latest)
    else:
        if initial_params is None:
            params = jax.jit(lambda: init_params(model_config, init_key), out_shardings=param_shardings)()
        else:
            _check_param_shapes(initial_params, abstract)
            params = partitioning.put_global(initial_params, param_shardings)
        opt_state = jax.jit(optimizer.init, out_shardings=opt_shardings)(params)
        step, position, last_checkpoint, stopped = 0, partitioning.StreamPosition(), None, None
        rng = jax.random.key_data(dropout_key)
    state = {
        "params": params,
        "opt_state": opt_state,
        "step": jax.device_put(jnp.asarray(step, jnp.int32), replicated),
        "rng": jax.device_put(rng, replicated),
        "first_bad_step": jax.device_put(jnp.asarray(-1, jnp.int32), replicated),
    }
    state_shardings = {key: replicated for key in state} | {"params": param_shardings, "opt_state": opt_shardings}
    train_step = make_train_step(
        model,
        optimizer,
        schedule,
        z_loss=config.z_loss,
        grad_accum=config.grad_accum,
        use_dropout=model_config.dropout_rate > 0,
        state_shardings=state_shardings,
    )
    eval_examples = list(eval_examples or [])
    evaluator = _Evaluator(config, model, eval_examples, mesh, progress) if eval_examples else None
    if jax.process_index() == 0 and rewind_logs(model_dir, step):
        display.write(f"[train] resuming at step {step}: dropped the log records after it, which this run redoes")
    logger = RunLogger(model_dir, echo=display.write, trackers=trackers)
    health = TrainingHealth(display.write, model_config.vocab_size)
    chip_peak = peak_flops_per_second(jax.devices()[0].device_kind, model_config.dtype)
    peak = chip_peak * jax.device_count() if chip_peak else None  # MFU: the global batch's FLOPs over all devices'
    per_host_batch = config.batch_size // jax.process_count()
    stream = batches(
        train_stream(position.start),
        batch_size=per_host_batch,
        input_length=config.input_length,
        target_length=config.target_length,
        padding=config.padding,
    )
    evals: list[dict[str, float]] = []
    train_metrics: dict[str, float] = {}
    meter = _PeriodMeter()
    bar = display.bar(config.steps, "train", "step", enabled=progress and jax.process_index() == 0, initial=step)
    time_left = _TimeLeft(config, bar)
    try:
        while step < config.steps and stopped is None:
            local = next(stream)
            state, metrics = train_step(state, partitioning.global_batch(local, mesh))
            meter.add(step, metrics, local, _model_flops(model_config, local) * jax.process_count() if peak else 0.0)
            position.advance(count_examples(local))
            step += 1
            bar.update(1)
            is_last = step == config.steps
            evaluating = step % config.eval_period == 0 or is_last
            saving = step % config.checkpoint_every == 0 or is_last
            if step % config.log_every == 0 or saving or evaluating:
                _check_finite(state, last_checkpoint)
                train_metrics = _log_period(logger, meter.fetch(), meter, peak)
                health.observe(step, train_metrics)
                time_left.train_period(step, train_metrics.get("seconds_per_step"))
                meter = _PeriodMeter()
            if evaluating:
                eval_started, compile_before = time.perf_counter(), compile_seconds()
                evals.append(_evaluate(step, state["params"], evaluator, on_eval, logger))
                meter.pause(time.perf_counter() - eval_started, compile_seconds() - compile_before)
                time_left.eval_done(step, time.perf_counter() - eval_started)
                stopped = should_stop(evals) if should_stop and not is_last else None
                if stopped:
                    display.write(f"[train] stopping at step {step}: {stopped}")
                    write_json_atomic(model_dir / STOPPED_FILE, {"step": step, "reason": stopped})
            if saving or stopped:
                extra = _checkpoint_extra(step, position, config.seed, state["rng"], model_config)
                last_checkpoint = store.save(step, state["params"], state["opt_state"], extra)
    finally:
        bar.close()
        logger.close()
        store.close()
    return TrainSummary(
        step=step,
        params=state["params"],
        checkpoint=last_checkpoint,
        resumed_from=latest,
        train_metrics=train_metrics,
        evals=evals,
        seconds=time.perf_counter() - started,
        stopped=stopped,
    )


STOPPED_FILE = "stopped.json"


def _checkpoint_extra(step: int, position: partitioning.StreamPosition, seed: int, rng, model_config: T5Config) -> dict:
    """What a checkpoint stores besides params and optimizer state, so that a resume continues bit-identically."""
    return {
        "step": step,
        **position.checkpoint_fields(),
        "seed": seed,
        "rng_key_data": np.asarray(jax.device_get(rng)).tolist(),
        "model_config": model_config.to_dict(),
    }


def _stop_reason(model_dir: Path, step: int) -> str | None:
    """The reason `should_stop` ended the run at checkpoint `step`, if it did (else the run goes on)."""
    path = model_dir / STOPPED_FILE
    if not path.is_file():
        return None
    record = json.loads(path.read_text())
    return record["reason"] if record.get("step") == step else None


def _check_param_shapes(params, abstract) -> None:
    from synpt.model.t5 import flatten_names

    got = {k: np.shape(v) for k, v in flatten_names(params).items()}
    want = {k: tuple(v.shape) for k, v in flatten_names(abstract).items()}
    if got != want:
        diff = sorted(set(got.items()) ^ set(want.items()))[:5]
        raise SynptError(f"initial_params do not match the model config; first differences: {diff}")


def _log_period(logger: RunLogger, fetched: list[tuple[int, dict]], meter: _PeriodMeter, peak: float | None):
    if not fetched:
        return {}
    totals = {k: sum(float(m[k]) for _, m in fetched) for k in ("loss", "z_loss", "correct", "weight")}
    seconds, compiling = meter.timing()
    last_step, last = fetched[-1]
    values = summarize(totals)
    values.update(
        learning_rate=float(last["learning_rate"]),
        grad_norm=float(last["grad_norm"]),
        seconds_per_step=seconds / len(fetched),
        tokens_per_second=meter.real_tokens / seconds,
        padded_tokens_per_second=meter.padded_tokens / seconds,
    )
    if peak:
        values["mfu"] = meter.flops / seconds / peak
    if compiling > 0:
        values["compile_seconds"] = compiling
    logger.log("train", last_step + 1, values)
    return values


def _evaluate(step, params, evaluator, on_eval, logger) -> dict[str, float]:
    result: dict[str, float] = {"step": step}
    if evaluator is not None:
        metrics = evaluator(params)
        logger.log("eval", step, metrics)
        result.update(metrics)
    if on_eval is not None:
        inference = {k: float(v) for k, v in on_eval(step, partitioning.host_local(params)).items()}
        logger.log("inference", step, inference)
        result.update({f"inference/{k}": v for k, v in inference.items()})
    return result
