"""`synpt finetune`: one fine-tuning run of the paper, from initialisation to `results.json`.

The recipe, top to bottom (`run_finetune`): skip a finished run; plan the run (plan.py: settings, model, init,
labels, resume identity, all without JAX); initialise the model unless resuming; train, with the decoded evals as
the trainer's `on_eval` hook (inference.py); apply the paper's selection rule (selection.py: the eval step of best
teacher-forced validation accuracy, and the decoded metrics there); write results.json.

A run directory is resumable: `run.json` records what the run is (plan.py's `RunSpec.fingerprint`), so re-running
the same command continues from the latest checkpoint, while a different command, or another kind of run, pointed at
the same directory is refused; the directory is locked while the run works in it. `request.json` keeps the request
and the init log. A directory with `results.json` is finished and is skipped.
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import platform
import time
from pathlib import Path
from typing import Any

import jax

from synpt.atomic import write_json_atomic
from synpt.errors import SynptError
from synpt.experiments.inference import InferenceEval
from synpt.experiments.plan import REQUEST_FILE, FinetuneRequest, RunSpec, operative_gin, plan_run
from synpt.experiments.report import RESULTS_FILE
from synpt.experiments.selection import select_best_validation_step
from synpt.init import initial_params
from synpt.train.distributed import is_main_process
from synpt.train.gin_config import operative_config
from synpt.train.logging import read_metrics
from synpt.train.partitioning import host_train_stream
from synpt.train.run_identity import claim_run_dir
from synpt.train.sources import load_checkpoint
from synpt.train.trackers import open_trackers
from synpt.train.trainer import train


def run_finetune(request: FinetuneRequest, *, progress: bool = True) -> dict[str, Any]:
    """Run (or resume, or skip) one fine-tuning run; returns its results.json content (on process 0 of a
    multi-process run, which writes it; the other processes return an empty dict)."""
    finished = maybe_skip_finished(Path(request.out))
    if finished is not None:
        return finished
    spec = plan_run(request)
    with claim_run_dir(spec.out, "finetune", *spec.fingerprint, primary=jax.process_index() == 0):
        params = maybe_initialize(spec)
        eval_examples = validation_examples(spec)
        operative = operative_gin(spec)
        with open_trackers(request.trackers, spec.out, hparams=operative) as trackers:
            on_eval = InferenceEval(spec, progress=progress, trackers=trackers)
            announce(spec, on_eval)
            started = time.time()
            train(
                spec.train_config,
                model_dir=spec.out,
                train_stream=host_train_stream(spec.task, seed=request.seed, data_dir=spec.data_dir),
                eval_examples=eval_examples,
                initial_params=params,
                on_eval=on_eval,
                progress=progress,
                operative_config=operative_config(operative, operative.sources, f"synpt finetune: {spec.out}"),
                trackers=trackers,
            )
        return write_results(spec, started) if is_main_process() else {}


def maybe_skip_finished(out: Path) -> dict[str, Any] | None:
    """The results of a finished run directory (and a line saying it is skipped), else None."""
    if not (out / RESULTS_FILE).is_file():
        return None
    results = json.loads((out / RESULTS_FILE).read_text())
    print(
        f"[finetune] skip {out}: finished already (results.json: {results['task']} {results['init']} "
        f"best step {results['best_step']}, {results.get('paper_metric')} {results['score']:.2f}); "
        "delete it to re-run"
    )
    return results


def maybe_initialize(spec: RunSpec):
    """A new run's initial parameters, recorded with its request.json; None when resuming (the checkpoint has them)."""
    params, log = None, ["resumed: the initialisation is in the checkpoint"]
    if not spec.resuming:
        key = jax.random.fold_in(jax.random.key(spec.request.seed), 0)
        source = maybe_load_source_params(spec)
        params, log = initial_params(
            spec.model_config, key, source_params=source, seed=spec.request.seed, **dataclasses.asdict(spec.init)
        )
        if is_main_process():
            record = {**spec.request.identity(), "ckpt": spec.request.ckpt, "init_log": log}
            write_json_atomic(spec.out / REQUEST_FILE, record)
    for line in log:
        print(f"[finetune] init: {line}")
    return params


def maybe_load_source_params(spec: RunSpec):
    """The pre-trained checkpoint's parameters when the init uses them, else None."""
    if not spec.init.needs_checkpoint:
        return None
    print(f"[finetune] loading the pre-trained checkpoint {spec.request.ckpt}")
    return load_checkpoint(spec.source["path"])[0]


def validation_examples(spec: RunSpec) -> list:
    """The teacher-forced validation examples of every eval (EVAL_STEPS batches' worth), whose accuracy selects."""
    limit = spec.knobs.eval_batches * spec.settings.batch_size
    examples = list(itertools.islice(spec.task.examples("validation", data_dir=spec.data_dir), limit))
    if not examples:
        raise SynptError(f"task {spec.task.name}: the validation split is empty; the selection rule needs it")
    return examples


def announce(spec: RunSpec, on_eval: InferenceEval) -> None:
    settings, knobs = spec.settings, spec.knobs
    print(
        f"[finetune] {spec.task.name} ({spec.request.scale} scale, {spec.init.paper_table} settings): "
        f"{settings.steps} steps, batch {settings.batch_size}, LR {settings.learning_rate:g} constant, eval every "
        f"{settings.eval_period} ({len(on_eval.examples)} decoded {settings.decode_split} examples, beam "
        f"{knobs.beam_size}) -> {spec.out}"
    )


def write_results(spec: RunSpec, started: float) -> dict[str, Any]:
    """Apply the selection rule to the run's metrics and write results.json."""
    request, settings, init = spec.request, spec.settings, spec.init
    selection = select_best_validation_step(read_metrics(spec.out))
    metric = settings.paper_metric
    if metric not in selection.metrics:
        raise SynptError(f"the decoded metrics {sorted(selection.metrics)} lack the paper metric {metric!r}")
    results = {
        "task": spec.task.name,
        "init": request.init,
        "transfer": init.transfer,
        "init_scheme": init.scheme,
        "pre_attn_ln_value": init.pre_attn_ln_value,
        "ckpt": request.ckpt,
        "ckpt_label": spec.ckpt_label,
        "ckpt_info": spec.source,
        "natural": request.natural,
        "row": request.row,
        "seed": request.seed,
        "scale": request.scale,
        "paper_table": spec.paper_table,
        "best_step": selection.step,
        "valid_accuracy": selection.valid_accuracy,
        "paper_metric": metric,
        "score": selection.metrics[metric],
        "test_metrics": selection.metrics,
        "decode_split": settings.decode_split,
        "settings": settings.to_dict(),
        "knobs": dataclasses.asdict(spec.knobs),
        "model": spec.model_config.to_dict(),
        "task_options": spec.task.options,
        "vocabulary": spec.vocabulary.name,
        "init_log": json.loads((spec.out / REQUEST_FILE).read_text()).get("init_log"),
        "versions": _versions(),
        "seconds_this_session": round(time.time() - started, 1),
    }
    write_json_atomic(spec.out / RESULTS_FILE, results)
    print(
        f"[finetune] done: best validation accuracy {selection.valid_accuracy:.4f} at step {selection.step}; "
        f"{settings.decode_split} {metric} there = {selection.metrics[metric]:.2f} -> {spec.out / RESULTS_FILE}"
    )
    return results


def _versions() -> dict[str, str]:
    import flax

    import synpt

    return {
        "synpt": synpt.__version__,
        "jax": jax.__version__,
        "flax": flax.__version__,
        "python": platform.python_version(),
    }
