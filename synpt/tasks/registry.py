"""One registry for every task: synthetic pre-training tasks and downstream fine-tuning tasks.

Why one registry: the CLI, the gin configs and the table scripts name a pre-training `task_id` and a
fine-tuning task the same way, so both resolve through `get_task`. Built-in tasks are registered lazily (on the
first lookup) so that importing synpt never touches data files (reference quirk 21).

The contract every task meets is `Task` below; see docs/architecture.md for the example format.
"""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Iterator
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from synpt.errors import SynptError

Example = dict[str, np.ndarray]
"""One example: {"inputs": int32[n], "targets": int32[m]}, EOS (id 1) already appended to both sides."""

FAMILIES = ("simple", "lime", "corpus", "downstream")

# Modules that register the built-in tasks when imported.
_BUILTIN_MODULES = (
    "synpt.tasks.simple",
    "synpt.tasks.lime",
    "synpt.tasks.corpora",
    "synpt.tasks.downstream",
)


@runtime_checkable
class Task(Protocol):
    """What the data pipeline needs from a task.

    `examples("train", ...)` is an endless, deterministic stream: example number `i` (global index) depends only on
    (task, seed, i), so a run can resume at any position (`start`) and hosts can take disjoint slices
    (`shard_index`, `shard_count`: host k gets the global indices i >= start with i % shard_count == k).
    Other splits ("validation", "test") are finite and in file order, unshuffled.
    """

    name: str
    family: str

    def examples(
        self,
        split: str,
        *,
        seed: int = 0,
        data_dir: Path | None = None,
        start: int = 0,
        shard_index: int = 0,
        shard_count: int = 1,
    ) -> Iterator[Example]: ...


_TASKS: dict[str, Task] = {}
_ALIASES: dict[str, str] = {}
_builtins_loaded = False


def register_task(task: Task, *, aliases: tuple[str, ...] = ()) -> Task:
    """Register `task` under `task.name` and `aliases`; returns the task so it can be used as a decorator result.

    Registering a name twice is an error (it would silently shadow a task).
    """
    if task.family not in FAMILIES:
        raise SynptError(f"task {task.name!r}: family must be one of {', '.join(FAMILIES)}, got {task.family!r}")
    for name in (task.name, *aliases):
        if name in _TASKS or name in _ALIASES:
            raise SynptError(f"a task named {name!r} is already registered; choose another name")
    _TASKS[task.name] = task
    for alias in aliases:
        _ALIASES[alias] = task.name
    return task


def _load_builtins() -> None:
    global _builtins_loaded
    if _builtins_loaded:
        return
    _builtins_loaded = True
    for module in _BUILTIN_MODULES:
        if importlib.util.find_spec(module) is not None:
            importlib.import_module(module)


def get_task(name: str, data_dir: str | Path | None = None) -> Task:
    """The task registered as `name` (a paper name or a reference generator alias).

    A name that is not registered but has a folder `DATA_DIR/finetuning_data/<name>/` becomes a downstream task with
    default settings, so users bring their own data without code (data dir: `data_dir` > $SYNPT_DATA_DIR > ./data).
    """
    _load_builtins()
    canonical = _ALIASES.get(name, name)
    if canonical in _TASKS:
        return _TASKS[canonical]
    from synpt.tasks.downstream import downstream_task_for_folder

    task = downstream_task_for_folder(name, data_dir)
    if task is not None:
        return task
    raise SynptError(
        f"unknown task {name!r}. Valid tasks: {', '.join(task_names())}; or put your own data in "
        f"DATA_DIR/finetuning_data/{name}/{{train,valid,test}}.txt"
    )


def task_names(family: str | None = None) -> list[str]:
    """Registered task names (not aliases), optionally only one family, in registration order."""
    _load_builtins()
    return [name for name, task in _TASKS.items() if family is None or task.family == family]


def task_aliases() -> dict[str, str]:
    """alias -> canonical task name."""
    _load_builtins()
    return dict(_ALIASES)
