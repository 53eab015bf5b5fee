"""The registry every task enters: synthetic pre-training tasks and downstream fine-tuning tasks register here.

Why here, below both families: a task module registers its tasks when it is imported, and it may only import
downwards. Looking a name up across every family (and users' folders) is `synpt.catalog.get_task`, which sits above
both families and imports them.

The contract every task meets is `Task` below; see docs/architecture.md for the example format.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Protocol, runtime_checkable

import numpy as np

from synpt.errors import SynptError

Example = dict[str, np.ndarray]
"""One example: {"inputs": int32[n], "targets": int32[m]}, EOS (id 1) already appended to both sides."""

FAMILIES = ("simple", "lime", "corpus", "downstream")

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


def registered_task(name: str) -> Task | None:
    """The task registered as `name` (canonical name or alias), or None; registers nothing itself."""
    return _TASKS.get(_ALIASES.get(name, name))


def registered_names(family: str | None = None) -> list[str]:
    """Registered task names (not aliases), optionally only one family, in registration order."""
    return [name for name, task in _TASKS.items() if family is None or task.family == family]


def registered_aliases() -> dict[str, str]:
    """alias -> canonical task name."""
    return dict(_ALIASES)
