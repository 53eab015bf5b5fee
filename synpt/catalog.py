"""Every task by name: the built-in synthetic and downstream tasks, and users' own task folders.

Why a module of its own: the CLI, the gin configs and the table scripts name a pre-training `task_id` and a
fine-tuning task the same way, so both resolve through `get_task`. The task modules register themselves on import
(`synpt.tasks.registry`); this module sits above both families, imports them, and adds users' folders. Importing it
never touches data files (reference quirk 21): folders are looked at only when a name is not registered.
"""

from __future__ import annotations

from pathlib import Path

import synpt.natural.task
import synpt.synthetic.corpora
import synpt.synthetic.lime
import synpt.synthetic.simple  # noqa: F401  (these register the synthetic tasks and the natural-text task)
from synpt.downstream.tasks import downstream_task_for_folder
from synpt.errors import SynptError
from synpt.tasks.registry import Task, registered_aliases, registered_names, registered_task


def get_task(name: str, data_dir: str | Path | None = None) -> Task:
    """The task registered as `name` (a paper name or a reference generator alias).

    A name that is not registered but has a folder `DATA_DIR/finetuning_data/<name>/` becomes a downstream task with
    default settings, so users bring their own data without code (data dir: `data_dir` > $SYNPT_DATA_DIR > ./data).
    """
    task = registered_task(name) or downstream_task_for_folder(name, data_dir)
    if task is not None:
        return task
    raise SynptError(
        f"unknown task {name!r}. Valid tasks: {', '.join(task_names())}; or put your own data in "
        f"DATA_DIR/finetuning_data/{name}/{{train,valid,test}}.txt"
    )


def task_names(family: str | None = None) -> list[str]:
    """Registered task names (not aliases), optionally only one family, in registration order."""
    return registered_names(family)


def task_aliases() -> dict[str, str]:
    """alias -> canonical task name."""
    return registered_aliases()
