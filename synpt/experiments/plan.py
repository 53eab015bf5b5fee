"""Planning a fine-tuning run: `plan_run(request) -> RunSpec`, every decision made before any training, no JAX.

Why a pure step: everything that defines a run (the task and its paper settings, the scale and --gin overrides,
the initialisation, the model architecture, the checkpoint's label, whether the run directory continues the same
run) is decided here from the request and a few small files, so it can be tested without a device and a bad
command fails before a model exists. The recipe (finetune.py) then only executes a RunSpec.

Why a run is "task + init + settings": Tables 1-3 differ only in how the model is initialised (reference §6) and
in two per-task settings (§5.1). A run directory records what defines the run (`RunSpec.fingerprint`: settings,
init, model, seed and the --ckpt checkpoint's identity) in run.json, so re-running the same command resumes it, while
a different command pointed at the same directory is refused (train/run_identity.py).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import re
from pathlib import Path
from typing import Any

from synpt.catalog import get_task
from synpt.downstream.settings import PAPER_SETTINGS, FinetuneSettings, settings_for
from synpt.errors import SynptError
from synpt.init.schemes import SCHEMES, get_scheme
from synpt.model.config import T5Config, get_config
from synpt.paths import resolve_data_dir
from synpt.train.config import TrainConfig
from synpt.train.gin_config import LENGTH_ALIASES, GinValues, parse_gin, tracker_names
from synpt.train.run_dir import checkpoint_steps
from synpt.train.run_identity import RUN_FILE, check_run_dir, checkpoint_identity, train_fingerprint
from synpt.train.sources import checkpoint_model_config, is_hf_folder, resolve_checkpoint

REQUEST_FILE = "request.json"
TRANSFER_INITS = ("all", "all_but_embedding")
FROM_SCRATCH = "from_scratch"
SCALES = ("paper", "tiny")


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
    log_every: int | None = None  # LOG_EVERY; None: every min(100, eval period) steps
    grad_accum: int = 1


# `synpt finetune` reads the same gin macros as `synpt train` (gin_config.MACROS). The ones that set a setting of
# the run (FinetuneSettings or Knobs field) ...
FINETUNE_FIELDS: dict[str, str] = {
    "TRAIN_STEPS": "steps",
    "BATCH_SIZE": "batch_size",
    "LEARNING_RATE": "learning_rate",
    "EVAL_PERIOD": "eval_period",
    "PERIOD": "eval_period",
    "EVALUATOR_NUM_EXAMPLES": "evaluator_num_examples",
    **LENGTH_ALIASES,
    "MAX_DECODE_LENGTH": "max_decode_length",
    "PACK": "pack",
    "TRAIN_EXAMPLES": "train_examples",
    "EVAL_STEPS": "eval_batches",
    "BEAM_SIZE": "beam_size",
    "DROPOUT_RATE": "dropout_rate",
    "Z_LOSS": "z_loss",
    "KEEP_CHECKPOINTS": "keep_checkpoints",
    "PADDING": "padding",
    "LOG_EVERY": "log_every",
    "GRAD_ACCUM": "grad_accum",
}
# ... the ones that name what the flags name (a flag given on the command line wins) ...
FINETUNE_REQUEST_MACROS: dict[str, str] = {
    "MODEL_DIR": "out",
    "MIXTURE_OR_TASK_NAME": "task",
    "SEED": "seed",
    "MODEL": "model",
    "DATA_DIR": "data_dir",
    "INITIAL_CHECKPOINT_PATH": "ckpt",
    "TRACKERS": "trackers",
}
# ... TASK_FEATURE_LENGTHS (both lengths), and the ones it refuses, with the reason.
_SYNTHETIC_ONLY = "it configures synthetic pre-training tasks; downstream tasks read their files"
_UNSHARDED = "not supported by synpt finetune yet: its decoded evals run unsharded, in the model's dtype"
FINETUNE_UNUSED: dict[str, str] = {
    "SCHEDULE": "fine-tuning uses a constant LEARNING_RATE (reference §4.6)",
    "WARMUP_STEPS": "fine-tuning uses a constant LEARNING_RATE (reference §4.6)",
    "CHECKPOINT_PERIOD": "fine-tuning checkpoints at every eval (EVAL_PERIOD), which the selection rule needs",
    "DATA_SOURCE": _SYNTHETIC_ONLY,
    "TASK_OPTIONS": _SYNTHETIC_ONLY,
    "MODEL_PARALLEL": _UNSHARDED,
    "ACTIVATION_DTYPE": _UNSHARDED,
}
_NOT_NONE = {"LEARNING_RATE": "a constant learning rate", "EVAL_STEPS": "a number of validation batches"}
_KNOB_FIELDS = {field.name for field in dataclasses.fields(Knobs)}

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
    vocab: str | None = None  # "t5", "bytes" or a SentencePiece model file; None: the task's own vocabulary
    steps: int | None = None
    seed: int = 0
    data_dir: str | None = None
    scale: str = "paper"
    paper_table: str | None = None
    natural: bool = False
    row: str | None = None
    ckpt_label: str | None = None
    gin_bindings: tuple[str, ...] = ()  # the run's setting macros, KEY=VALUE (request_from_args: final values)
    gin_sources: tuple[tuple[str, str], ...] = ()  # (macro, where it was set), for config.gin; not the identity
    trackers: str = "tensorboard"  # TRACKERS; not the identity (a rerun may log elsewhere)

    def identity(self) -> dict[str, Any]:
        """The fields that must match for a re-run to continue this run (labels and paths may change)."""
        keep = ("task", "init", "transfer", "pre_attn_ln_value", "model", "vocab", "steps", "seed", "scale")
        keep += ("paper_table",)
        out = {key: getattr(self, key) for key in keep}
        out["gin_bindings"] = list(self.gin_bindings)
        return out


def request_from_args(args: argparse.Namespace) -> FinetuneRequest:
    """The request that flags and gin (`--gin_file`, `--gin_search_paths`, `--gin.KEY=VALUE`) describe.

    Gin is read once here, by the one parser: macros that name what a flag names (MODEL_DIR = --out, ...) fill the
    request where the flag is not given, and the run's setting macros are kept as KEY=VALUE with their final
    values, so request.json records what the run is whether it came from a file or the command line.
    """
    values = parse_gin(
        args.gin_files,
        args.gin_bindings,
        search_paths=args.gin_search_paths,
        unused=FINETUNE_UNUSED,
        reader="synpt finetune",
    )
    fields = {field.name for field in dataclasses.fields(FinetuneRequest)} - {"gin_bindings", "gin_sources", "trackers"}
    given = {name: getattr(args, name) for name in fields if getattr(args, name, None) is not None}
    sources = dict(values.sources)
    for key, name in FINETUNE_REQUEST_MACROS.items():
        flag = "--" + name.replace("_", "-")
        if key in values and name not in given:
            given[name] = values[key]
        elif name in given:
            sources[key] = flag
    if args.tracker is not None:
        given["trackers"] = args.tracker
    tracker_names(given.get("trackers", ""))
    for name, key in (("task", "MIXTURE_OR_TASK_NAME"), ("out", "MODEL_DIR")):
        if name not in given:
            raise SynptError(f"synpt finetune needs --{name} (or --gin.{key}=...)")
    settings = [key for key in values if key not in FINETUNE_REQUEST_MACROS]
    return FinetuneRequest(
        **{**given, "out": Path(given["out"])},
        gin_bindings=tuple(f"{key}={values[key]!r}" for key in settings),
        gin_sources=tuple(sources.items()),
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
                f"scheme ({', '.join(SCHEMES)})"
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


def parse_gin_bindings(bindings: tuple[str, ...]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(settings changes, knob changes) from `KEY=VALUE` bindings of the run's setting macros."""
    values = parse_gin([], list(bindings), unused=FINETUNE_UNUSED, reader="synpt finetune")
    settings, knobs = {}, {}
    lengths = values.pop("TASK_FEATURE_LENGTHS", None)
    if lengths is not None:
        if set(lengths) != {"inputs", "targets"}:
            raise SynptError(f"TASK_FEATURE_LENGTHS must be {{'inputs': N, 'targets': M}}, got {lengths!r}")
        settings.update(input_length=lengths["inputs"], target_length=lengths["targets"])
    for key, value in values.items():
        if key not in FINETUNE_FIELDS:
            raise SynptError(f"{key} names the run, not a setting: give it as a flag or to request_from_args")
        if value is None and key in _NOT_NONE:
            raise SynptError(f"synpt finetune needs {_NOT_NONE[key]} for {key}, got None")
        field = FINETUNE_FIELDS[key]
        (knobs if field in _KNOB_FIELDS else settings)[field] = value
    return settings, knobs


def resolve_settings(request: FinetuneRequest, task, plan: InitPlan):
    """(task with the run's settings applied, settings, knobs): paper row of the table, scale, flags, gin."""
    table = request.paper_table or plan.paper_table
    paper_tasks = set(PAPER_SETTINGS) - {"default"}
    settings = settings_for(task.name, table) if task.name in paper_tasks else task.settings
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


def describe_checkpoint(ckpt: str) -> dict[str, Any]:
    """What is known about a pre-trained checkpoint: path, step, pre-training task and options (when recorded).

    `label` names it in table rows: "<task>@<step>" (e.g. set@10000, as the paper's checkpoints differ by step),
    falling back to the directory name for checkpoints made elsewhere (e.g. a Hugging Face folder or Hub id).
    """
    path = resolve_checkpoint(ckpt).resolve()
    match = re.fullmatch(r"checkpoint_(\d+)", path.name)
    run_dir = path.parent if match else path
    steps = checkpoint_steps(run_dir)
    step = int(match.group(1)) if match else (steps[-1] if steps else None)
    info: dict[str, Any] = {"path": str(path), "step": step}
    if is_hf_folder(path):
        info["label"] = ckpt.removeprefix("hf:") if isinstance(ckpt, str) and ckpt.startswith("hf:") else path.name
        return info
    config = run_dir / "config.json"
    run = json.loads(config.read_text()).get("run", {}) if config.is_file() else {}
    if run.get("task"):
        info.update(pretrain_task=run["task"], task_options=run.get("task_options"))
    name = info.get("pretrain_task") or run_dir.name
    info["label"] = f"{name}@{step}" if step is not None else name
    return info


def preset_of(request: FinetuneRequest) -> str:
    """The model preset of a run without a checkpoint: --model, else tiny at tiny scale, else T5-small."""
    return request.model or (TINY_MODEL if request.scale == "tiny" else "t5_small")


def build_model_config(
    request: FinetuneRequest, plan: InitPlan, vocab_size: int, knobs: Knobs, source_config: T5Config | None
) -> T5Config:
    """The fine-tuning model: the checkpoint's architecture when one is used, else the --model preset.

    Vocabulary rows: the task vocabulary rounded up to a multiple of 128 (32,100 -> 32,128 for the T5 vocabulary),
    except with transfer "all", which keeps the checkpoint's embedding and therefore its row count.
    """
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
        base = preset_of(request)
    rows = -(-vocab_size // 128) * 128
    if plan.transfer == "all":
        if source_config.vocab_size < vocab_size:
            raise SynptError(
                f"--init all keeps the checkpoint's {source_config.vocab_size}-row embedding, but the task's "
                f"vocabulary has {vocab_size} ids; use --init all_but_embedding"
            )
        rows = source_config.vocab_size
    return get_config(base, vocab_size=rows, dropout_rate=knobs.dropout_rate)


def check_same_request(out: Path, request: FinetuneRequest) -> None:
    """Refuse a directory written before run.json existed that holds an unfinished run of another configuration
    (its request.json; see `identity`). Newer directories are checked by their fingerprint (RunSpec.fingerprint)."""
    path = out / REQUEST_FILE
    if not path.is_file():
        return
    previous = json.loads(path.read_text())
    previous["gin_bindings"] = _same_values(previous.get("gin_bindings") or [], request.gin_bindings)
    differences = [
        f"{key}: {previous.get(key)!r} -> {value!r}" for key, value in request.identity().items()
        if previous.get(key) != value
    ]  # fmt: skip
    if differences:
        raise SynptError(
            f"{out} holds an unfinished run of another configuration ({'; '.join(differences)}); "
            "choose another --out, or delete that directory to start over"
        )


def _same_values(recorded: list[str], bindings: tuple[str, ...]) -> list[str]:
    """`bindings` when they give the same macro values as `recorded` (`PADDING=fixed`, as earlier versions recorded
    the flag, and `PADDING='fixed'` are one run), else `recorded`, so that the difference is shown."""
    parse = lambda items: dict(parse_gin([], list(items), unused=FINETUNE_UNUSED))
    return list(bindings) if parse(recorded) == parse(bindings) else recorded


def train_config(settings: FinetuneSettings, knobs: Knobs, model_config: T5Config, seed: int) -> TrainConfig:
    """The trainer's config of a fine-tuning run: constant LR, z-loss, a checkpoint at every eval (§4.6)."""
    return TrainConfig(
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
        log_every=knobs.log_every or max(1, min(100, settings.eval_period)),
        seed=seed,
        grad_accum=knobs.grad_accum,
    )


@dataclasses.dataclass(frozen=True)
class RunSpec:
    """A planned fine-tuning run: what the recipe executes."""

    request: FinetuneRequest
    data_dir: Path
    task: Any  # the downstream task with the run's settings applied
    init: InitPlan
    settings: FinetuneSettings
    knobs: Knobs
    vocabulary: Any  # the task's Vocabulary
    source: dict[str, Any] | None  # describe_checkpoint of --ckpt, when the init uses one
    model_config: T5Config
    train_config: TrainConfig
    resuming: bool  # the run directory holds a checkpoint of this same run

    @property
    def out(self) -> Path:
        return Path(self.request.out)

    @property
    def paper_table(self) -> str:
        return self.request.paper_table or self.init.paper_table

    @property
    def ckpt_label(self) -> str | None:
        return self.request.ckpt_label or (self.source or {}).get("label")

    @property
    def fingerprint(self) -> tuple[dict[str, Any], dict[str, Any]]:
        """(what defines the run, what may change between sessions): see train/run_identity.py. Labels (row,
        checkpoint label, --natural) and paths other than --ckpt's may change; so may the number of steps."""
        settings = self.settings.to_dict()
        settings.pop("steps")
        run = {
            "task": self.task.name,
            "vocabulary": self.vocabulary.name,
            "settings": settings,
            "knobs": dataclasses.asdict(self.knobs),
            "init": dataclasses.asdict(self.init),
            "ckpt": checkpoint_identity(self.request.ckpt) if self.init.needs_checkpoint else None,
        }
        return train_fingerprint(self.train_config, run)


def plan_run(request: FinetuneRequest) -> RunSpec:
    """Every decision of a fine-tuning run, checked, before anything is trained (and without JAX)."""
    if request.scale not in SCALES:
        raise SynptError(f"--scale {request.scale!r}: use paper or tiny")
    init = plan_init(request)
    data_dir = resolve_data_dir(request.data_dir)
    task = get_task(request.task, data_dir)  # after the data dir: users' own task folders live there
    if task.family != "downstream":
        raise SynptError(
            f"--task {request.task} is a {task.family} pre-training task; synpt finetune needs a downstream task "
            "(cnndm_10k, code_translation, mtop, retrosynthesis, squad, webqsp, g2p)"
        )
    if request.vocab is not None:
        task = task.with_vocabulary(request.vocab)
    task, settings, knobs = resolve_settings(request, task, init)
    vocabulary = task.vocabulary(data_dir)
    out = Path(request.out)
    source = source_config = None
    if init.needs_checkpoint:
        source, source_config = describe_checkpoint(request.ckpt), checkpoint_model_config(request.ckpt)
    model_config = build_model_config(request, init, vocabulary.vocab_size, knobs, source_config)
    spec = RunSpec(
        request=request,
        data_dir=data_dir,
        task=task,
        init=init,
        settings=settings,
        knobs=knobs,
        vocabulary=vocabulary,
        source=source,
        model_config=model_config,
        train_config=train_config(settings, knobs, model_config, request.seed),
        resuming=bool(checkpoint_steps(out)),
    )
    if not (out / RUN_FILE).is_file():
        check_same_request(out, request)
    check_run_dir(out, "finetune", spec.fingerprint[0])
    return spec


def operative_gin(spec: RunSpec) -> GinValues:
    """Every macro of a planned fine-tuning run at its final value, and where it came from (config.gin, hparams).

    The macros are synpt train's names, so a fine-tuning run's config.gin reads like a pre-training run's; MODEL
    is the checkpoint's architecture (not a preset, so a comment in config.gin) when the init uses one.
    """
    request, settings, knobs = spec.request, spec.settings, spec.knobs
    values: dict[str, Any] = {
        "MODEL_DIR": str(request.out),
        "MIXTURE_OR_TASK_NAME": spec.task.name,
        "TASK_FEATURE_LENGTHS": {"inputs": settings.input_length, "targets": settings.target_length},
        "MODEL": preset_of(request) if spec.source is None else spec.model_config,
        "SEED": request.seed,
        "DATA_DIR": str(spec.data_dir),
        "INITIAL_CHECKPOINT_PATH": request.ckpt,
        "TRACKERS": request.trackers,
    }
    for key, field in FINETUNE_FIELDS.items():
        if key not in LENGTH_ALIASES and key != "PERIOD":
            values[key] = getattr(knobs if field in _KNOB_FIELDS else settings, field)
    values["LOG_EVERY"] = spec.train_config.log_every
    sources = {key: f"the {spec.paper_table} settings of {spec.task.name} at {request.scale} scale" for key in values}
    sources.update(request.gin_sources)
    if request.steps is not None:
        sources["TRAIN_STEPS"] = "--steps"
    return GinValues(values, sources)
