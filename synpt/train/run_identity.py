"""What a run directory is: its kind (pretrain / finetune / init / export) and the fingerprint of what defines it.

Why: a run directory is the researcher's data. A command pointed at a directory of another kind (fine-tuning into
a pre-training run), or at the same kind with another definition (another task, seed, batch or source checkpoint),
would silently mix two runs' checkpoints and logs. `claim_run_dir` therefore compares the command with
`RUN_DIR/run.json` before anything is written, refuses with the list of differences, and records the fields that
may change between sessions (e.g. more steps) in the file's history. No JAX: planning a run checks it too.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import shutil
import time
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

from synpt.atomic import write_json_atomic
from synpt.errors import SynptError, storage_errors
from synpt.train.config import TrainConfig
from synpt.train.run_dir import checkpoint_steps
from synpt.train.run_lock import LOCK_FILE, hold_run_dir

RUN_FILE = "run.json"
# TrainConfig fields that may change between sessions of one run: none changes what a step computes
VARIABLE_FIELDS = ("steps", "checkpoint_every", "eval_period", "keep_checkpoints", "log_every", "model_parallel")
KINDS = ("pretrain", "finetune", "init", "export")
_SAMPLED_BYTES = 1 << 16  # per file end, for a checkpoint's content identity


def infer_kind(run_dir: Path) -> str | None:
    """The kind of `run_dir`: from run.json, else from the files of a directory written before run.json existed."""
    run_dir = Path(run_dir)
    record = run_dir / RUN_FILE
    if record.is_file():
        return json.loads(record.read_text())["kind"]
    if (run_dir / "request.json").is_file() or (run_dir / "results.json").is_file():
        return "finetune"
    if checkpoint_steps(run_dir) or (run_dir / "metrics.jsonl").is_file():
        return "pretrain"
    if (run_dir / "params").is_dir() and (run_dir / "metadata.json").is_file():
        return "init"
    if (run_dir / "model.safetensors").is_file():
        return "export"
    return None


def _describe(value: Any) -> str:
    text = json.dumps(value, sort_keys=True)
    return text if len(text) <= 80 else text[:77] + "..."


def differences(previous: Mapping[str, Any], current: Mapping[str, Any], prefix: str = "") -> list[str]:
    """`key: old -> new` for every (nested) field that differs."""
    found = []
    for key in sorted(set(previous) | set(current)):
        old, new = previous.get(key), current.get(key)
        if isinstance(old, dict) and isinstance(new, dict):
            found += differences(old, new, f"{prefix}{key}.")
        elif old != new:
            found.append(f"{prefix}{key}: {_describe(old)} -> {_describe(new)}")
    return found


def _normalised(value: Any) -> Any:
    """`value` as it reads back from JSON (tuples become lists), so a fresh fingerprint compares equal."""
    return json.loads(json.dumps(value, sort_keys=True))


def check_run_dir(run_dir: str | os.PathLike, kind: str, fingerprint: Mapping[str, Any]) -> dict | None:
    """Refuse `run_dir` if it holds another kind of run or a run with another fingerprint; its record, else None."""
    assert kind in KINDS, kind
    run_dir = Path(run_dir)
    found = infer_kind(run_dir)
    if found is None:
        return None
    if found != kind:
        raise SynptError(
            f"{run_dir} holds a {found} run; this {kind} command would overwrite it. "
            "Choose another output directory (or delete that one to start over)"
        )
    record_path = run_dir / RUN_FILE
    if not record_path.is_file():
        return None  # written before run.json existed: adopted as is
    record = json.loads(record_path.read_text())
    changed = differences(record.get("fingerprint", {}), _normalised(dict(fingerprint)))
    if changed:
        raise SynptError(
            f"{run_dir} holds a {kind} run with other settings ({'; '.join(changed)}); rerun it with the same "
            "settings, or choose another output directory (or delete that one to start over)"
        )
    return record


def record_run_dir(
    run_dir: str | os.PathLike, kind: str, fingerprint: Mapping[str, Any], variable: Mapping[str, Any] = ()
) -> None:
    """Write run.json: kind, fingerprint, the current values of the fields that may change, and their history."""
    run_dir = Path(run_dir)
    path = run_dir / RUN_FILE
    record = json.loads(path.read_text()) if path.is_file() else {"kind": kind, "history": []}
    variable = _normalised(dict(variable))
    previous = record.get("variable")
    if previous != variable:
        record["history"].append(
            {"time": time.strftime("%Y-%m-%dT%H:%M:%S"), "changed": differences(previous or {}, variable)}
        )
    record.update(kind=kind, fingerprint=_normalised(dict(fingerprint)), variable=variable)
    with storage_errors(run_dir):
        write_json_atomic(path, record)


@contextlib.contextmanager
def claim_run_dir(
    run_dir: str | os.PathLike,
    kind: str,
    fingerprint: Mapping[str, Any],
    variable: Mapping[str, Any] = (),
    *,
    primary: bool = True,
) -> Iterator[None]:
    """Check `run_dir` (nothing is written if it is refused), lock it for the block and record what it is; a full
    disk or read-only directory inside the block is one line naming the path (errors.storage_errors).

    Other processes of a multi-process run (`primary=False`) only check.
    """
    check_run_dir(run_dir, kind, fingerprint)
    if not primary:
        yield
        return
    run_dir = Path(run_dir)
    fresh = not run_dir.exists()
    try:
        with hold_run_dir(run_dir), storage_errors(run_dir):
            check_run_dir(run_dir, kind, fingerprint)  # again under the lock: another process may have started it
            record_run_dir(run_dir, kind, fingerprint, variable)
            yield
    except BaseException:
        if fresh and run_dir.is_dir() and {p.name for p in run_dir.iterdir()} <= {RUN_FILE, LOCK_FILE}:
            shutil.rmtree(run_dir, ignore_errors=True)  # a command that failed before writing leaves nothing
        raise


def checkpoint_identity(path: str | os.PathLike) -> dict[str, Any]:
    """Path, step and a cheap content digest of a checkpoint (a run dir's latest, a checkpoint dir or a params dir).

    The digest covers every file's name and size and the first and last 64 KiB of its bytes: enough to tell two
    checkpoints apart, without reading gigabytes at every start.
    """
    path = Path(path).expanduser().absolute()
    if not path.exists():  # e.g. a Hugging Face Hub id: its name is all there is to compare
        return {"path": str(path), "step": None, "content": None}
    steps = checkpoint_steps(path)
    target = path / f"checkpoint_{steps[-1]}" if steps else path
    digest = hashlib.sha256()
    skip = {RUN_FILE, LOCK_FILE}  # a params dir written by `synpt init` holds these too; they are not content
    files = sorted(p for p in target.rglob("*") if p.is_file() and p.name not in skip) if target.is_dir() else [target]
    for file in files:
        size = file.stat().st_size
        digest.update(f"{file.relative_to(target.parent)}\0{size}\0".encode())
        with open(file, "rb") as handle:
            digest.update(handle.read(_SAMPLED_BYTES))
            if size > _SAMPLED_BYTES:
                handle.seek(max(_SAMPLED_BYTES, size - _SAMPLED_BYTES))
                digest.update(handle.read())
    step = steps[-1] if steps else None
    if step is None and target.name.startswith("checkpoint_"):
        step = int(target.name.rpartition("_")[2])
    return {"path": str(path), "step": step, "content": digest.hexdigest()[:16]}


def train_fingerprint(config: TrainConfig, run_info: Mapping[str, Any]) -> tuple[dict, dict]:
    """(fingerprint, variable fields) of a training run: its TrainConfig with the model spelled out, and `run_info`
    (task, options, source checkpoints' identities: whatever else defines the run)."""
    settings = config.to_dict()
    variable = {key: settings.pop(key) for key in VARIABLE_FIELDS}
    settings["model"] = config.model_config().to_dict()
    return {"train": settings, "run": dict(run_info)}, variable
