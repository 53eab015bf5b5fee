"""Where a run's metrics go besides metrics.jsonl: a small `Tracker` interface, TensorBoard and Weights & Biases.

Why an interface: RunLogger (logging.py) writes metrics.jsonl and the console line itself and hands every event to
the run's trackers, so another tracker plugs in by implementing four methods: `scalars` (one event's numbers at a
step), `text` (markdown, e.g. decoded examples), `hparams` (the run's operative config) and `close`. TensorBoard is
the default and needs nothing installed; W&B is an optional extra (`pip install synpt[wandb]`) and honours its own
environment (WANDB_MODE=offline, WANDB_DIR, WANDB_PROJECT). Trackers are selected with the TRACKERS macro
(`--tracker tensorboard,wandb`).
"""

from __future__ import annotations

import hashlib
import html
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Protocol

from synpt.errors import SynptError
from synpt.train.gin_config import tracker_names
from synpt.train.logging import TensorBoardTracker


class Tracker(Protocol):
    def scalars(self, event: str, step: int, values: Mapping[str, float]) -> None: ...

    def text(self, event: str, step: int, name: str, markdown: str) -> None: ...

    def hparams(self, values: Mapping[str, Any]) -> None: ...

    def close(self) -> None: ...


class WandbTracker:
    """A Weights & Biases run named after the run directory; a rerun of the same directory resumes the same W&B run
    (its id is derived from the directory's absolute path). Metrics are logged as `<event>/<name>`."""

    def __init__(self, run_dir: Path):
        try:
            import wandb
        except ImportError:
            raise SynptError(
                "the wandb tracker needs Weights & Biases: pip install 'synpt[wandb]' (or drop wandb from --tracker)"
            ) from None
        self._wandb = wandb
        run_dir = Path(run_dir).resolve()
        digest = hashlib.sha1(str(run_dir).encode()).hexdigest()[:12]
        run_dir.mkdir(parents=True, exist_ok=True)
        self.run = wandb.init(
            project=os.environ.get("WANDB_PROJECT", "synpt"),
            name=run_dir.name,
            id=f"{run_dir.name[:40]}-{digest}",
            resume="allow",
            dir=None if os.environ.get("WANDB_DIR") else str(run_dir),
        )

    def scalars(self, event: str, step: int, values: Mapping[str, float]) -> None:
        self.run.log({f"{event}/{key}": value for key, value in values.items()}, step=step)

    def text(self, event: str, step: int, name: str, markdown: str) -> None:
        self.run.log({f"{event}/{name}": self._wandb.Html(f"<pre>{html.escape(markdown)}</pre>")}, step=step)

    def hparams(self, values: Mapping[str, Any]) -> None:
        self.run.config.update(dict(values), allow_val_change=True)

    def close(self) -> None:
        if self.run is not None:
            self.run.finish()
            self.run = None


TRACKERS = {"tensorboard": TensorBoardTracker, "wandb": WandbTracker}  # the names of gin_config.TRACKER_NAMES


class Trackers:
    """The run's trackers as one: every call goes to each of them. Empty on processes other than 0."""

    def __init__(self, trackers: list[Tracker]):
        self.trackers = trackers

    def scalars(self, event: str, step: int, values: Mapping[str, float]) -> None:
        for tracker in self.trackers:
            tracker.scalars(event, step, values)

    def text(self, event: str, step: int, name: str, markdown: str) -> None:
        for tracker in self.trackers:
            tracker.text(event, step, name, markdown)

    def hparams(self, values: Mapping[str, Any]) -> None:
        for tracker in self.trackers:
            tracker.hparams(values)

    def __enter__(self) -> Trackers:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Close every tracker; closing twice is harmless (the logger closes them at the end of training, and a
        caller's `with open_trackers(...)` again, also when training raised)."""
        trackers, self.trackers = self.trackers, []
        for tracker in trackers:
            tracker.close()


def open_trackers(spec: str, run_dir: str | Path, *, hparams: Mapping[str, Any] | None = None) -> Trackers:
    """The trackers `spec` names (gin_config.tracker_names) for `run_dir`, with `hparams` recorded once at the start."""
    import jax

    names = tracker_names(spec)
    if jax.process_index() != 0:
        return Trackers([])
    trackers = Trackers([TRACKERS[name](Path(run_dir)) for name in names])
    if hparams:
        trackers.hparams({key: value for key, value in hparams.items() if value is not None})
    return trackers


def markdown_table(rows: list[Mapping[str, str]]) -> str:
    """Rows of equal keys as a markdown table (cells on one line, pipes escaped), for text summaries."""
    if not rows:
        return ""
    columns = list(rows[0])
    cell = lambda text: str(text).replace("\\", "\\\\").replace("|", "\\|").replace("\n", " ")
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(cell(row[column]) for column in columns) + " |" for row in rows]
    return "\n".join(lines)
