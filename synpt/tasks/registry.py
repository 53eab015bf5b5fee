"""The registry every task enters: synthetic pre-training tasks and downstream fine-tuning tasks register here.

Why here, below both families: a task module registers its tasks when it is imported, and it may only import
downwards. Looking a name up across every family (and users' folders) is `synpt.catalog.get_task`, which sits above
both families and imports them.

The contract every task meets is `synpt.tasks.task.Task`; see docs/architecture.md for the example format.
"""

from __future__ import annotations

from synpt.errors import SynptError
from synpt.tasks.task import FAMILIES, Example, Task

__all__ = ["Example", "Task", "register_task", "registered_aliases", "registered_names", "registered_task"]

_TASKS: dict[str, Task] = {}
_ALIASES: dict[str, str] = {}


def register_task(task: Task, *, aliases: tuple[str, ...] = ()) -> Task:
    """Register `task` under `task.name` and `aliases`; returns the task so it can be used as a decorator result.

    Registering a name twice is an error (it would silently shadow a task).
    """
    if not isinstance(task, Task):
        raise SynptError(f"{task!r} is not a synpt.tasks.Task; derive task classes from it")
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
