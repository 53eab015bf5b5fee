"""`synpt finetune`: one fine-tuning run of the paper, from initialisation to `results.json`.

Why one driver for every table: Tables 1-3 differ only in how the model is initialised (reference §6) and in two
per-task settings (§5.1), so a run is "task + init + settings", and every run ends the same way: the trainer logs
the teacher-forced validation accuracy and, through `on_eval`, the decoded metrics at every eval step; the paper's
selection rule (selection.py) then picks the step of best validation accuracy and its decoded metrics.

A run directory is resumable: `request.json` records what the run is, so re-running the same command continues from
the latest checkpoint (and re-does an eval an interruption cut short), while a different command pointed at the same
directory is refused. A directory with `results.json` is finished and is skipped.
"""

from __future__ import annotations

import argparse
import ast
import dataclasses
import itertools
import json
import platform
import re
import time
from pathlib import Path
from typing import Any

from synpt.errors import SynptError
from synpt.experiments.report import RESULTS_FILE
from synpt.experiments.selection import select_best_validation_step
from synpt.train.logging import read_metrics

REQUEST_FILE = "request.json"
PREDICTIONS_TO_KEEP = 20  # decoded examples written per eval step (the reference keeps 3), for a look at outputs
TRANSFER_INITS = ("all", "all_but_embedding")
FROM_SCRATCH = "from_scratch"

# T5X macro names the reference's fine-tuning scripts set -> the FinetuneSettings field they change.
GIN_SETTINGS = {
    "TRAIN_STEPS": "steps",
    "LEARNING_RATE": "learning_rate",
    "BATCH_SIZE": "batch_size",
    "PERIOD": "eval_period",
    "EVAL_PERIOD": "eval_period",
    "EVALUATOR_NUM_EXAMPLES": "evaluator_num_examples",
    "INPUT_LEN": "input_length",
    "TARGET_LEN": "target_length",
    "MAX_DECODE_LENGTH": "max_decode_length",
    "PACK": "pack",
}
# ... and the macro names of the run-level knobs below.
GIN_KNOBS = {
    "EVAL_STEPS": "eval_batches",
    "DROPOUT_RATE": "dropout_rate",
    "Z_LOSS": "z_loss",
    "BEAM_SIZE": "beam_size",
    "KEEP_CHECKPOINTS": "keep_checkpoints",
    "PADDING": "padding",
}


@dataclasses.dataclass(frozen=True)
class Knobs:
    """Fine-tuning settings common to every task (reference §4.6, §4.7): not per-task, so not in FinetuneSettings."""

    dropout_rate: float = 0.1
    z_loss: float = 1e-4
    beam_size: int = 4
    alpha: float = 0.6
    eval_batches: int = 128  # EVAL_STEPS: teacher-forced validation batches, cycled over the split
    keep_checkpoints: int | None = None  # the paper keeps all
    # Length buckets give the loss of 512/512 padding with less compute (quirk 18); "fixed" compiles one shape only,
    # which is faster for short CPU runs, where compiling each bucket's step costs more than the padding.
    padding: str = "bucket"


# SCALE=tiny: the same pipeline, shrunk to run in a minute or two on a CPU.
TINY_SETTINGS = {"steps": 30, "eval_period": 10, "batch_size": 8, "evaluator_num_examples": 8, "pack": False}
TINY_LENGTH_CAPS = {"input_length": 128, "target_length": 64, "max_decode_length": 64}
TINY_KNOBS = {"eval_batches": 2, "keep_checkpoints": 2, "padding": "fixed"}
TINY_MODEL = "tiny"


@dataclasses.dataclass(frozen=True)
class FinetuneRequest:
    """Everything that defines a fine-tuning run; recorded as `request.json` in the run directory."""

    task: str
    out: Path
    init: str = FROM_SCRATCH
    ckpt: str | None = None
    transfer: str | None = None
    pre_attn_ln_value: float | None = None
    model: str | None = None
    steps: int | None = None
    seed: int = 0
    data_dir: str | None = None
    scale: str = "paper"
    paper_table: str | None = None
    natural: bool = False
    row: str | None = None
    ckpt_label: str | None = None
    gin_bindings: tuple[str, ...] = ()

    def identity(self) -> dict[str, Any]:
        """The fields that must match for a re-run to continue this run (labels and paths may change)."""
        keep = ("task", "init", "transfer", "pre_attn_ln_value", "model", "steps", "seed", "scale", "paper_table")
        out = {key: getattr(self, key) for key in keep}
        out["gin_bindings"] = list(self.gin_bindings)
        return out


def request_from_args(args: argparse.Namespace) -> FinetuneRequest:
    return FinetuneRequest(
        task=args.task,
        out=Path(args.out),
        init=args.init,
        ckpt=args.ckpt,
        transfer=args.transfer,
        pre_attn_ln_value=args.pre_attn_ln_value,
        model=args.model,
        steps=args.steps,
        seed=args.seed,
        data_dir=args.data_dir,
        scale=args.scale,
        paper_table=args.paper_table,
        natural=args.natural,
        row=args.row,
        ckpt_label=args.ckpt_label,
        gin_bindings=tuple(args.gin_bindings),
    )


@dataclasses.dataclass(frozen=True)
class InitPlan:
    """How the model is initialised: a weight transfer, a statistics scheme, a layer-norm value (any combination)."""

    transfer: str | None
    scheme: str | None
    pre_attn_ln_value: float | None

    @property
    def needs_checkpoint(self) -> bool:
        return self.transfer is not None or self.scheme is not None

    @property
    def paper_table(self) -> str:
        if self.scheme is not None:
            return "table2"
        if self.pre_attn_ln_value is not None and self.transfer is None:
            return "table3"
        return "table1"


def plan_init(request: FinetuneRequest) -> InitPlan:
    """Validate --init / --transfer / --ckpt / --pre-attn-ln-value together and say what they mean."""
    from synpt.init.schemes import get_scheme

    transfer, scheme = request.transfer, None
    if request.init in TRANSFER_INITS:
        if transfer not in (None, request.init):
            raise SynptError(f"--init {request.init} and --transfer {transfer} disagree; give one of them")
        transfer = request.init
    elif request.init == FROM_SCRATCH:
        if transfer is not None:
            raise SynptError(f"--init from_scratch with --transfer {transfer}: use --init {transfer} to transfer")
    else:
        try:
            scheme = get_scheme(request.init).init_id
        except SynptError:
            raise SynptError(
                f"--init {request.init!r} is not valid: use from_scratch, all, all_but_embedding or a statistics "
                f"scheme ({', '.join(_scheme_ids())})"
            ) from None
    plan = InitPlan(transfer, scheme, request.pre_attn_ln_value)
    if plan.needs_checkpoint and not request.ckpt:
        raise SynptError(f"--init {request.init} uses a pre-trained checkpoint: pass --ckpt RUN_DIR")
    if request.ckpt and not plan.needs_checkpoint:
        raise SynptError(
            f"--ckpt {request.ckpt} is unused with --init {request.init}: use --init all_but_embedding (transfer) or "
            "a statistics scheme, or drop --ckpt"
        )
    return plan


def _scheme_ids() -> list[str]:
    from synpt.init.schemes import SCHEMES

    return list(SCHEMES)


def parse_gin_bindings(bindings: tuple[str, ...]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(settings changes, knob changes) from `KEY=VALUE` bindings with the reference's macro names."""
    settings, knobs = {}, {}
    for binding in bindings:
        key, _, text = binding.partition("=")
        key = key.strip()
        try:
            value = ast.literal_eval(text.strip())
        except (ValueError, SyntaxError):
            value = text.strip().strip("'\"")
        if key in GIN_SETTINGS:
            settings[GIN_SETTINGS[key]] = value
        elif key in GIN_KNOBS:
            knobs[GIN_KNOBS[key]] = value
        else:
            valid = ", ".join([*GIN_SETTINGS, *GIN_KNOBS])
            raise SynptError(f"--gin.{binding}: synpt finetune does not know {key!r}; it accepts {valid}")
    return settings, knobs


def resolve_settings(request: FinetuneRequest, task, plan: InitPlan):
    """(task with the run's settings applied, settings, knobs): paper row of the table, scale, flags, gin."""
    from synpt.downstream.settings import settings_for

    table = request.paper_table or plan.paper_table
    settings = settings_for(task.name, table) if task.name in _paper_tasks() else task.settings
    knobs = Knobs()
    if request.scale == "tiny":
        caps = {key: min(getattr(settings, key), cap) for key, cap in TINY_LENGTH_CAPS.items()}
        settings = settings.replace(**TINY_SETTINGS, **caps)
        knobs = dataclasses.replace(knobs, **TINY_KNOBS)
    gin_settings, gin_knobs = parse_gin_bindings(request.gin_bindings)
    if request.steps is not None:
        gin_settings["steps"] = request.steps
    settings = settings.replace(**gin_settings)
    knobs = dataclasses.replace(knobs, **gin_knobs)
    if settings.max_decode_length > settings.target_length:
        raise SynptError(
            f"max_decode_length {settings.max_decode_length} > target length {settings.target_length}: the decode "
            "cache is sized by the target length (reference §4.8); lower MAX_DECODE_LENGTH or raise TARGET_LEN"
        )
    if settings.eval_period > settings.steps:
        settings = settings.replace(eval_period=settings.steps)
    return task.with_settings(**settings.to_dict()), settings, knobs


def _paper_tasks() -> set[str]:
    from synpt.downstream.settings import PAPER_SETTINGS

    return set(PAPER_SETTINGS) - {"default"}


def _round_up(value: int, multiple: int = 128) -> int:
    return -(-value // multiple) * multiple


def describe_checkpoint(ckpt: str) -> dict[str, Any]:
    """What is known about a pre-trained checkpoint: path, step, pre-training task and options (when recorded).

    `label` names it in table rows: "<task>@<step>" (e.g. set@10000, as the paper's checkpoints differ by step),
    falling back to the directory name for checkpoints made elsewhere (e.g. converted from Hugging Face).
    """
    from synpt.train.run_dir import checkpoint_steps

    path = Path(ckpt).expanduser().resolve()
    match = re.fullmatch(r"checkpoint_(\d+)", path.name)
    run_dir = path.parent if match else path
    steps = checkpoint_steps(run_dir)
    step = int(match.group(1)) if match else (steps[-1] if steps else None)
    info: dict[str, Any] = {"path": str(path), "step": step}
    config = run_dir / "config.json"
    run = json.loads(config.read_text()).get("run", {}) if config.is_file() else {}
    if run.get("task"):
        info.update(pretrain_task=run["task"], task_options=run.get("task_options"))
    name = info.get("pretrain_task") or run_dir.name
    info["label"] = f"{name}@{step}" if step is not None else name
    return info


def build_model_config(request: FinetuneRequest, plan: InitPlan, vocab_size: int, knobs: Knobs, source_config):
    """The fine-tuning model: the checkpoint's architecture when one is used, else the --model preset.

    Vocabulary rows: the task vocabulary rounded up to a multiple of 128 (32,100 -> 32,128 for the T5 vocabulary),
    except with transfer "all", which keeps the checkpoint's embedding and therefore its row count.
    """
    from synpt.model.config import get_config

    if source_config is not None:
        if request.model:
            wanted = get_config(request.model, vocab_size=source_config.vocab_size, dropout_rate=knobs.dropout_rate)
            got = get_config(source_config, dropout_rate=knobs.dropout_rate)
            if wanted != got:
                raise SynptError(
                    f"--model {request.model} differs from the architecture of --ckpt {request.ckpt}; the fine-tuned "
                    "model must match the checkpoint (drop --model)"
                )
        base = source_config
    else:
        base = request.model or (TINY_MODEL if request.scale == "tiny" else "t5_small")
    rows = _round_up(vocab_size)
    if plan.transfer == "all":
        if source_config.vocab_size < vocab_size:
            raise SynptError(
                f"--init all keeps the checkpoint's {source_config.vocab_size}-row embedding, but the task's "
                f"vocabulary has {vocab_size} ids; use --init all_but_embedding"
            )
        rows = source_config.vocab_size
    return get_config(base, vocab_size=rows, dropout_rate=knobs.dropout_rate)


def _check_same_request(out: Path, request: FinetuneRequest) -> None:
    path = out / REQUEST_FILE
    if not path.is_file():
        return
    previous = json.loads(path.read_text())
    differences = [
        f"{key}: {previous.get(key)!r} -> {value!r}" for key, value in request.identity().items()
        if previous.get(key) != value
    ]  # fmt: skip
    if differences:
        raise SynptError(
            f"{out} holds an unfinished run of another configuration ({'; '.join(differences)}); "
            "choose another --out, or delete that directory to start over"
        )


def _versions() -> dict[str, str]:
    import flax
    import jax

    import synpt

    return {
        "synpt": synpt.__version__,
        "jax": jax.__version__,
        "flax": flax.__version__,
        "python": platform.python_version(),
    }


class InferenceEval:
    """The trainer's `on_eval` hook: beam-decode the evaluation set, score it, keep a few predictions.

    The evaluation set is the first EVALUATOR_NUM_EXAMPLES examples of the decode split in file order (reference
    §4.7, quirk 13), trimmed to the feature lengths, with the references the metric wants (quirk 15).
    """

    def __init__(self, task, settings, knobs: Knobs, model_config, data_dir, out: Path):
        self.task, self.settings, self.knobs, self.model_config, self.out = task, settings, knobs, model_config, out
        self.vocabulary = task.vocabulary(data_dir)
        self.examples, self.references = task.evaluation_set(
            settings.decode_split,
            data_dir=data_dir,
            limit=settings.evaluator_num_examples,
            input_length=settings.input_length,
            target_length=settings.target_length,
        )
        if not self.examples:
            raise SynptError(f"task {task.name}: the {settings.decode_split} split is empty; nothing to decode")

    def __call__(self, step: int, params) -> dict[str, float]:
        from synpt.atomic import write_json_atomic
        from synpt.model.decoding import decode_examples

        ids = decode_examples(
            self.model_config,
            params,
            self.examples,
            batch_size=self.settings.batch_size,
            max_decode_length=self.settings.max_decode_length,
            beam_size=self.knobs.beam_size,
            alpha=self.knobs.alpha,
            input_length=self.settings.input_length,
        )
        predictions = [self.vocabulary.decode(list(x)) for x in ids]
        metrics = self.task.compute_metrics(predictions, self.references)
        shown = [
            {"input": self.vocabulary.decode(list(ex["inputs"])), "prediction": pred, "reference": ref}
            for ex, pred, ref in zip(self.examples, predictions, self.references, strict=True)
        ][:PREDICTIONS_TO_KEEP]
        (self.out / "predictions").mkdir(parents=True, exist_ok=True)
        write_json_atomic(self.out / "predictions" / f"step_{step}.json", shown)
        return metrics


def run_finetune(request: FinetuneRequest, *, progress: bool = True) -> dict[str, Any]:
    """Run (or resume, or skip) one fine-tuning run; returns its results.json content."""
    out = Path(request.out)
    results_path = out / RESULTS_FILE
    if results_path.is_file():
        results = json.loads(results_path.read_text())
        print(
            f"[finetune] skip {out}: finished already (results.json: {results['task']} {results['init']} "
            f"best step {results['best_step']}, {results.get('paper_metric')} {results['score']:.2f}); "
            "delete it to re-run"
        )
        return results
    if request.scale not in ("paper", "tiny"):
        raise SynptError(f"--scale {request.scale!r}: use paper or tiny")

    import jax

    from synpt.atomic import write_json_atomic
    from synpt.catalog import get_task
    from synpt.init import apply_init
    from synpt.model.t5 import init_params
    from synpt.paths import resolve_data_dir
    from synpt.train.checkpoints import load_params
    from synpt.train.run_dir import checkpoint_steps
    from synpt.train.trainer import TrainConfig, train

    plan = plan_init(request)
    task = get_task(request.task)
    if task.family != "downstream":
        raise SynptError(
            f"--task {request.task} is a {task.family} pre-training task; synpt finetune needs a downstream task "
            "(cnndm_10k, code_translation, mtop, retrosynthesis, squad, webqsp, g2p)"
        )
    data_dir = resolve_data_dir(request.data_dir)
    task, settings, knobs = resolve_settings(request, task, plan)
    vocabulary = task.vocabulary(data_dir)
    _check_same_request(out, request)
    resuming = bool(checkpoint_steps(out)) if out.is_dir() else False

    source_params = source_config = None
    source_info = None
    if plan.needs_checkpoint:
        source_info = describe_checkpoint(request.ckpt)
        if resuming:
            _, source_config = _load_config_only(request.ckpt)
        else:
            print(f"[finetune] loading the pre-trained checkpoint {request.ckpt}")
            source_params, source_config = load_params(request.ckpt)
    model_config = build_model_config(request, plan, vocabulary.vocab_size, knobs, source_config)

    initial_params, init_log = None, ["resumed: the initialisation is in the checkpoint"]
    if not resuming:
        fresh = init_params(model_config, jax.random.fold_in(jax.random.key(request.seed), 0))
        initial_params, init_log = apply_init(
            fresh,
            scheme=plan.scheme,
            source_params=source_params,
            transfer=plan.transfer,
            pre_attn_ln_value=plan.pre_attn_ln_value,
            seed=request.seed,
        )
        out.mkdir(parents=True, exist_ok=True)
        write_json_atomic(out / REQUEST_FILE, {**request.identity(), "ckpt": request.ckpt, "init_log": init_log})
    for line in init_log:
        print(f"[finetune] init: {line}")

    train_config = TrainConfig(
        model=model_config,
        steps=settings.steps,
        batch_size=settings.batch_size,
        learning_rate=settings.learning_rate,
        schedule="constant",
        z_loss=knobs.z_loss,
        dropout_rate=knobs.dropout_rate,
        input_length=settings.input_length,
        target_length=settings.target_length,
        padding="pack" if settings.pack else knobs.padding,
        eval_period=settings.eval_period,
        eval_batches=knobs.eval_batches,
        checkpoint_every=settings.eval_period,
        keep_checkpoints=knobs.keep_checkpoints,
        log_every=max(1, min(100, settings.eval_period)),
        seed=request.seed,
    )
    eval_limit = knobs.eval_batches * settings.batch_size
    eval_examples = list(itertools.islice(task.examples("validation", data_dir=data_dir), eval_limit))
    if not eval_examples:
        raise SynptError(f"task {task.name}: the validation split is empty; the selection rule needs it")
    on_eval = InferenceEval(task, settings, knobs, model_config, data_dir, out)
    print(
        f"[finetune] {task.name} ({request.scale} scale, {plan.paper_table} settings): {settings.steps} steps, batch "
        f"{settings.batch_size}, LR {settings.learning_rate:g} constant, eval every {settings.eval_period} "
        f"({len(on_eval.examples)} decoded {settings.decode_split} examples, beam {knobs.beam_size}) -> {out}"
    )
    started = time.time()
    train(
        train_config,
        model_dir=out,
        train_stream=lambda start: task.examples("train", seed=request.seed, data_dir=data_dir, start=start),
        eval_examples=eval_examples,
        initial_params=initial_params,
        on_eval=on_eval,
        progress=progress,
    )
    selection = select_best_validation_step(read_metrics(out))
    metric = settings.paper_metric
    if metric not in selection.metrics:
        raise SynptError(f"the decoded metrics {sorted(selection.metrics)} lack the paper metric {metric!r}")
    results = {
        "task": task.name,
        "init": request.init,
        "transfer": plan.transfer,
        "init_scheme": plan.scheme,
        "pre_attn_ln_value": plan.pre_attn_ln_value,
        "ckpt": request.ckpt,
        "ckpt_label": request.ckpt_label or (source_info or {}).get("label"),
        "ckpt_info": source_info,
        "natural": request.natural,
        "row": request.row,
        "seed": request.seed,
        "scale": request.scale,
        "paper_table": request.paper_table or plan.paper_table,
        "best_step": selection.step,
        "valid_accuracy": selection.valid_accuracy,
        "paper_metric": metric,
        "score": selection.metrics[metric],
        "test_metrics": selection.metrics,
        "decode_split": settings.decode_split,
        "settings": settings.to_dict(),
        "knobs": dataclasses.asdict(knobs),
        "model": model_config.to_dict(),
        "task_options": getattr(task, "options", {}),
        "vocabulary": vocabulary.name,
        "init_log": json.loads((out / REQUEST_FILE).read_text()).get("init_log", init_log),
        "versions": _versions(),
        "seconds_this_session": round(time.time() - started, 1),
    }
    write_json_atomic(results_path, results)
    print(
        f"[finetune] done: best validation accuracy {selection.valid_accuracy:.4f} at step {selection.step}; "
        f"{settings.decode_split} {metric} there = {selection.metrics[metric]:.2f} -> {results_path}"
    )
    return results


def _load_config_only(ckpt: str):
    """The checkpoint's model config without reading its arrays (resuming needs only the architecture)."""
    from synpt.train.run_dir import params_location

    return params_location(Path(ckpt).expanduser().absolute())
