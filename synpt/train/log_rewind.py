"""Rewind a run's logs to the step it resumes from, so metrics.jsonl and TensorBoard hold one record per step.

Why: a run killed after its last checkpoint has logged steps that the resumed run will train (and log) again.
Every record of step s is written before checkpoint s is saved (the trainer logs and evaluates first), so dropping
the records after the restored step removes exactly what will be redone: no step is lost or logged twice, whatever
LOG_EVERY, the checkpoint period and the moment of the kill. The restart is marked by a `resume` record.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from synpt.atomic import temp_path
from synpt.train.logging import METRICS_FILE, event_step, read_tfrecords, tfrecord_frame

RESUME_EVENT = "resume"


def _replace(path: Path, data: bytes) -> None:
    tmp = temp_path(path)
    tmp.write_bytes(data)
    os.replace(tmp, path)


def rewind_metrics(path: Path, step: int) -> int:
    """Keep the records of steps <= `step` (and earlier restart marks); returns how many were dropped."""
    if not path.is_file():
        return 0
    kept, dropped = [], 0
    for line in path.read_bytes().split(b"\n"):
        if not line.strip():
            continue
        try:
            record = json.loads(line)
        except json.JSONDecodeError:  # the half-written last line of a killed run
            dropped += 1
            continue
        if record.get("step", 0) <= step:
            kept.append(line + b"\n")
        else:
            dropped += 1
    if dropped:
        _replace(path, b"".join(kept))
    return dropped


def rewind_tensorboard(logdir: Path, step: int) -> None:
    """Drop the TensorBoard events after `step` (and a truncated last record) from every event file."""
    for path in sorted(logdir.glob("*/events.out.tfevents.*")):
        data = path.read_bytes()
        kept = b"".join(tfrecord_frame(r) for r in read_tfrecords(data) if event_step(r) <= step)
        if kept != data:
            _replace(path, kept)


def rewind_logs(run_dir: Path, step: int) -> int:
    """Rewind metrics.jsonl and TensorBoard to `step` and mark the restart; returns the metrics records dropped."""
    metrics = run_dir / METRICS_FILE
    dropped = rewind_metrics(metrics, step)
    rewind_tensorboard(run_dir / "tensorboard", step)
    if metrics.is_file():
        with open(metrics, "a") as handle:
            handle.write(json.dumps({"event": RESUME_EVENT, "step": step, "dropped": dropped}) + "\n")
    return dropped
