"""The task contract (`Task`, `Example`) and the registry tasks enter; lookup by name is `synpt.catalog`."""

from synpt.tasks.registry import Example, Task, register_task

__all__ = ["Example", "Task", "register_task"]
