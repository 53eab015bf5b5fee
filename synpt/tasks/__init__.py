"""Tasks: synthetic generators, downstream tasks, vocabularies and metrics, behind one registry."""

from synpt.tasks.registry import Example, Task, get_task, register_task, task_aliases, task_names

__all__ = ["Example", "Task", "get_task", "register_task", "task_aliases", "task_names"]
