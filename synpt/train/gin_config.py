"""Gin files and `--gin.KEY=VALUE` bindings with the T5X macro names the reference scripts use.

Why macros only: the reference drives T5X through a handful of top-level gin macros (MODEL_DIR,
MIXTURE_OR_TASK_NAME, TASK_FEATURE_LENGTHS, TRAIN_STEPS, BATCH_SIZE, ...). synpt parses gin's syntax with gin's own
parser, keeps exactly those macros (plus a few synpt ones, listed in `MACROS`), and turns them into a
`TrainConfig`; an unknown key is an error that names the file and line and lists the valid keys, instead of a
silently ignored binding. `include` and `%MACRO` references work as in gin.

Why one table for every command: `synpt train`, `synpt pretrain` and `synpt finetune` read the same names with the
same types, so one gin file or override means the same everywhere; a macro that a command cannot use is refused
with that command's reason (`unused`, e.g. `TRAIN_UNUSED` here and the fine-tuning table in experiments/plan.py).
The files in `synpt/configs` ship with the package (the repository's top-level `configs` is a link to them), so
`--gin_file=pretrain.gin` or `--gin_file=configs/runs/pretrain.gin` resolve from any directory.
"""

from __future__ import annotations

import ast
import dataclasses
import os
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from gin import config_parser

from synpt.atomic import temp_path
from synpt.errors import SynptError
from synpt.train.config import TrainConfig

CONFIGS_DIR = Path(__file__).resolve().parents[1] / "configs"  # the packaged gin files (synpt/configs)


@dataclasses.dataclass(frozen=True)
class Macro:
    types: tuple[type, ...]
    help: str
    field: str | None = None  # the TrainConfig field it sets directly, if any


_NUMBER = (int, float)
MACROS: dict[str, Macro] = {
    "MODEL_DIR": Macro((str,), "run directory (checkpoints, metrics.jsonl, config.json)"),
    "MIXTURE_OR_TASK_NAME": Macro((str,), "task to train on (synpt task name)"),
    "TASK_FEATURE_LENGTHS": Macro((dict,), "{'inputs': N, 'targets': M}"),
    "MODEL": Macro((str,), "model preset (tiny, tiny_1_1, t5_small, t5_1_1_small, t5_base)", "model"),
    "ACTIVATION_DTYPE": Macro((str,), "float32 or bfloat16 (float16 is refused)", "dtype"),
    "TRAIN_STEPS": Macro((int,), "total optimizer steps", "steps"),
    "BATCH_SIZE": Macro((int,), "global batch size in examples", "batch_size"),
    "LEARNING_RATE": Macro((*_NUMBER, type(None)), "constant LR, or rsqrt multiplier (None = 1)", "learning_rate"),
    "SCHEDULE": Macro((str,), "rsqrt (1/sqrt(max(t, WARMUP_STEPS))) or constant", "schedule"),
    "WARMUP_STEPS": Macro((int,), "rsqrt warmup steps", "warmup_steps"),
    "DROPOUT_RATE": Macro(_NUMBER, "dropout rate while training", "dropout_rate"),
    "Z_LOSS": Macro(_NUMBER, "z-loss coefficient (1e-4 fine-tuning, 0 pre-training)", "z_loss"),
    "EVAL_PERIOD": Macro((int,), "steps between evaluations", "eval_period"),
    "EVAL_STEPS": Macro((int, type(None)), "teacher-forced eval batches (None: every example once)", "eval_batches"),
    "CHECKPOINT_PERIOD": Macro((int,), "steps between checkpoints", "checkpoint_every"),
    "KEEP_CHECKPOINTS": Macro((int, type(None)), "checkpoints kept (None keeps all)", "keep_checkpoints"),
    "LOG_EVERY": Macro((int,), "steps between train log lines", "log_every"),
    "PACK": Macro((bool,), "pack training examples (overrides PADDING)"),
    "PADDING": Macro((str,), "bucket, fixed (the reference's) or pack", "padding"),
    "SEED": Macro((int,), "seed of init, dropout and data", "seed"),
    "GRAD_ACCUM": Macro((int,), "micro-batches per step (gradient accumulation)", "grad_accum"),
    "MODEL_PARALLEL": Macro((int,), "devices per model replica (mesh 'model' axis)", "model_parallel"),
    "INITIAL_CHECKPOINT_PATH": Macro((str, type(None)), "params to start from (run dir, checkpoint or init dir)"),
    "DATA_DIR": Macro((str, type(None)), "data directory (default: $SYNPT_DATA_DIR or ./data)"),
    "DATA_SOURCE": Macro((str, type(None)), "synthetic tasks: stream (generate) or files (read the data dir)"),
    "TASK_OPTIONS": Macro((dict,), "synthetic task options, e.g. {'length_range': (10, 50)}"),
    "TRACKERS": Macro((str,), "comma-separated trackers: tensorboard, wandb (pip install synpt[wandb]), or none"),
    # fine-tuning's decoded evals and data (synpt finetune; the reference fine-tuning scripts' names)
    "PERIOD": Macro((int,), "steps between evals and checkpoints (= EVAL_PERIOD)"),
    "INPUT_LEN": Macro((int,), "alias of TASK_FEATURE_LENGTHS['inputs'] (wins over it)"),
    "TARGET_LEN": Macro((int,), "alias of TASK_FEATURE_LENGTHS['targets'] (wins over it; sizes the decode cache)"),
    "EVALUATOR_NUM_EXAMPLES": Macro((int,), "examples decoded at each eval"),
    "MAX_DECODE_LENGTH": Macro((int,), "longest decoded output"),
    "BEAM_SIZE": Macro((int,), "beam width of the decoded evals"),
    "TRAIN_EXAMPLES": Macro((int, type(None)), "fine-tune on the first N training examples (file order)"),
}

_DECODED = "decoded evals are synpt finetune's"
TRAIN_UNUSED: dict[str, str] = {
    "PERIOD": "set EVAL_PERIOD and CHECKPOINT_PERIOD",
    "EVALUATOR_NUM_EXAMPLES": _DECODED,
    "MAX_DECODE_LENGTH": _DECODED,
    "BEAM_SIZE": _DECODED,
    "TRAIN_EXAMPLES": "pre-training streams its task's examples; subsets of fine-tuning data are synpt finetune's",
}
"""The macros `synpt train` / `synpt pretrain` refuse, with the reason shown to the user."""


@dataclasses.dataclass(frozen=True)
class _MacroRef:
    name: str


class _Delegate(config_parser.ParserDelegate):
    def __init__(self, macros: Mapping[str, Macro]):
        self.macros = macros

    def configurable_reference(self, scoped_configurable_name, evaluate):
        raise SynptError(
            f"@{scoped_configurable_name}: synpt gin files bind macros only (KEY = value); "
            f"valid keys: {', '.join(self.macros)}"
        )

    def macro(self, macro_name):
        return _MacroRef(macro_name)


def _where(location) -> str:
    if location.filename and location.filename.startswith("--gin."):
        return location.filename
    return f"{location.filename}:{location.line_num}"


def _config_candidates(name: str) -> list[Path]:
    """Where a packaged config may be: `runs/pretrain.gin`, `configs/runs/...`, `synpt/configs/...`, or a bare
    file name found once under synpt/configs (`pretrain.gin`)."""
    relative = name
    for prefix in ("synpt/configs/", "configs/"):
        relative = relative.removeprefix(prefix)
    candidates = [CONFIGS_DIR / relative]
    if "/" not in name:
        candidates += sorted(CONFIGS_DIR.rglob(name))
    return candidates


def _resolve_include(name: str, including: Path | None, search_paths: Sequence[str] = ()) -> Path:
    """A gin file by name: beside the including file, as given, in each search path, then the packaged configs."""
    candidates = [Path(name)]
    if including is not None:
        candidates.insert(0, including.parent / name)
    candidates += [Path(directory) / name for directory in search_paths]
    candidates += _config_candidates(name)
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise SynptError(
        f"gin file {name!r} not found (looked in {', '.join(dict.fromkeys(str(c) for c in candidates))}); "
        "add its folder with --gin_search_paths=DIR"
    )


@dataclasses.dataclass
class _Reading:
    """What one `parse_gin` call reads: its macro table, who reads (for errors) and the files included so far."""

    macros: Mapping[str, Macro]
    reader: str | None
    unused: Mapping[str, str]
    search_paths: Sequence[str]
    seen: set[Path] = dataclasses.field(default_factory=set)

    def unknown(self, where: str, key: str) -> SynptError:
        if key in self.unused:
            return SynptError(f"{where}: {self.reader or 'this command'} does not use {key}: {self.unused[key]}")
        valid = [name for name in self.macros if name not in self.unused]
        return SynptError(f"{where}: unknown gin key {key!r}; valid keys: {', '.join(valid)}")


def _parse(text: str, filename: Path | None, values: dict[str, Any], reading: _Reading, label: str = "") -> None:
    """Parse gin `text` (from `filename`, or a command-line binding called `label`) into `values`."""
    parser = config_parser.ConfigParser(text, _Delegate(reading.macros))
    parser._filename = str(filename) if filename is not None else label  # gin copies it into statement locations
    try:
        for statement in parser:
            if isinstance(statement, config_parser.IncludeStatement):
                path = _resolve_include(statement.filename, filename, reading.search_paths).resolve()
                if path not in reading.seen:
                    reading.seen.add(path)
                    _parse(path.read_text(), path, values, reading)
            elif isinstance(statement, config_parser.BindingStatement):
                if statement.scope or statement.arg_name:
                    key = ".".join(p for p in (statement.scope, statement.selector, statement.arg_name) if p)
                    raise reading.unknown(_where(statement.location), key)
                if statement.selector not in reading.macros or statement.selector in reading.unused:
                    raise reading.unknown(_where(statement.location), statement.selector)
                values[statement.selector] = (statement.value, _where(statement.location))
            else:
                raise SynptError(f"{_where(statement.location)}: only 'include' and KEY = value lines are supported")
    except SyntaxError as err:
        raise SynptError(f"{filename or label}: gin syntax error: {err}") from None


def _binding_text(binding: str) -> str:
    """`KEY=VALUE` from the command line; a bare word or path VALUE is taken as a string (no quotes needed)."""
    key, _, value = binding.partition("=")
    try:
        ast.literal_eval(value)
    except (ValueError, SyntaxError):
        if value not in ("True", "False", "None") and not value.startswith(("%", "{", "[", "(", "'", '"')):
            value = repr(value)
    return f"{key.strip()} = {value}"


class GinValues(dict):
    """Macro values (a dict) that also know where each came from: `sources[key]` is "default", "FILE:LINE",
    "--gin.KEY=VALUE" or the flag that set it; config.gin states them."""

    def __init__(self, values: Mapping[str, Any], sources: Mapping[str, str]):
        super().__init__(values)
        self.sources = dict(sources)

    def set(self, key: str, value: Any, source: str) -> None:
        self[key] = value
        self.sources[key] = source


def parse_gin(
    gin_files: Sequence[str],
    gin_bindings: Sequence[str],
    defaults: dict[str, Any] | None = None,
    *,
    search_paths: Sequence[str] = (),
    unused: Mapping[str, str] = TRAIN_UNUSED,
    reader: str | None = None,
) -> GinValues:
    """Macro values from `defaults`, then each gin file, then each `KEY=VALUE` binding (later wins).

    The one parser of synpt's gin, for every command: `unused` maps the macros the reading command refuses to the
    reason it gives, and `reader` names the command in errors. Every value is checked against its macro's types.
    """
    raw: dict[str, tuple[Any, str]] = {k: (v, "default") for k, v in (defaults or {}).items()}
    reading = _Reading(MACROS, reader, unused, search_paths)
    for name in gin_files:
        path = _resolve_include(name, None, search_paths).resolve()
        reading.seen.add(path)
        _parse(path.read_text(), path, raw, reading)
    for binding in gin_bindings:
        _parse(_binding_text(binding) + "\n", None, raw, reading, label=f"--gin.{binding}")
    values = {key: _resolve(key, value, raw, where, MACROS, depth=0) for key, (value, where) in raw.items()}
    return GinValues(values, {key: where for key, (_, where) in raw.items()})


def _resolve(key: str, value: Any, raw: dict, where: str, macros: Mapping[str, Macro], depth: int) -> Any:
    if isinstance(value, _MacroRef):
        if value.name not in raw or depth > len(raw):
            raise SynptError(f"{where}: %{value.name} is not bound (or refers to itself)")
        target, target_where = raw[value.name]
        return _resolve(key, target, raw, target_where, macros, depth + 1)
    macro = macros[key]
    if not isinstance(value, macro.types) or (isinstance(value, bool) and bool not in macro.types):
        names = " or ".join("None" if t is type(None) else t.__name__ for t in macro.types)
        raise SynptError(f"{where}: {key} must be {names} ({macro.help}), got {value!r}")
    return value


LENGTH_ALIASES = {"INPUT_LEN": "input_length", "TARGET_LEN": "target_length"}


def train_config_from(values: dict[str, Any]) -> TrainConfig:
    """The TrainConfig that a set of macro values describes (unset fields keep TrainConfig's defaults)."""
    fields = {m.field: values[k] for k, m in MACROS.items() if m.field and k in values}
    lengths = values.get("TASK_FEATURE_LENGTHS")
    if lengths is not None:
        if set(lengths) != {"inputs", "targets"}:
            raise SynptError(f"TASK_FEATURE_LENGTHS must be {{'inputs': N, 'targets': M}}, got {lengths!r}")
        fields.update(input_length=lengths["inputs"], target_length=lengths["targets"])
    fields.update({name: values[key] for key, name in LENGTH_ALIASES.items() if key in values})
    if values.get("PACK"):
        fields["padding"] = "pack"
    return TrainConfig(**fields)


def macro_values(config: TrainConfig) -> dict[str, Any]:
    """The macro values that describe `config` (the inverse of `train_config_from`); an unset override
    (ACTIVATION_DTYPE None) is left out."""
    values = {key: getattr(config, m.field) for key, m in MACROS.items() if m.field}
    values["TASK_FEATURE_LENGTHS"] = {"inputs": config.input_length, "targets": config.target_length}
    values["PACK"] = config.padding == "pack"
    return {key: value for key, value in values.items() if value is not None or type(None) in MACROS[key].types}


TRACKER_NAMES = ("tensorboard", "wandb")  # implemented in trackers.py


def tracker_names(spec: str) -> list[str]:
    """The TRACKERS macro as names: `"tensorboard,wandb"` -> ["tensorboard", "wandb"]; "none" or "" selects none.
    Checked here, before any work, so a typo fails at once."""
    names = [name.strip() for name in spec.split(",") if name.strip() and name.strip() != "none"]
    for name in names:
        if name not in TRACKER_NAMES:
            raise SynptError(f"tracker {name!r} is not known; choose from {', '.join(TRACKER_NAMES)} (or none)")
    return list(dict.fromkeys(names))


# The paper's pre-training run as macros: TrainConfig's defaults, the one statement of them (train/config.py);
# `synpt pretrain` starts from these, and configs/runs/pretrain.gin states the same values (tested).
PRETRAIN_DEFAULTS: dict[str, Any] = macro_values(TrainConfig())


OPERATIVE_CONFIG_FILE = "config.gin"


def operative_config(values: Mapping[str, Any], sources: Mapping[str, str], title: str) -> str:
    """The text of a run's config.gin: every macro it ran with, its final value and who set it (`# from ...`).

    It is a gin file of the same macros, so `--gin_file=RUN/config.gin` repeats the run. A value that is no gin
    literal (MODEL taken from INITIAL_CHECKPOINT_PATH is an architecture, not a preset name) is a comment.
    """
    lines = [f"# {title}", "# The operative config: every macro with its final value, and where it came from.", ""]
    for key in MACROS:
        if key not in values:
            continue
        value, source = values[key], sources.get(key, "default")
        try:
            literal = ast.literal_eval(repr(value)) == value
        except (ValueError, SyntaxError):
            literal = False
        if literal:
            lines.append(f"{key} = {value!r}  # from {source}")
        else:
            lines.append(f"# {key}: {type(value).__name__} from {source} (not a gin literal)")
    return "\n".join(lines) + "\n"


def write_operative_config(run_dir: str | Path, text: str) -> Path:
    """Write `text` as `run_dir/config.gin` (process 0 only, atomically, replacing an earlier session's)."""
    import jax

    path = Path(run_dir) / OPERATIVE_CONFIG_FILE
    if jax.process_index() == 0:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = temp_path(path)
        tmp.write_text(text, encoding="utf-8")
        os.replace(tmp, path)
    return path
