"""The task contract (`Task`, `Example`, `SPLITS`), host sharding and epoch order, and the registry tasks enter.

Lookup by name across every family (and users' folders) is `synpt.catalog`.
"""

from synpt.tasks.registry import register_task
from synpt.tasks.sharding import EpochShuffle, Shard, check_shard, epoch_order, host_indices, host_slice
from synpt.tasks.task import FAMILIES, SPLIT_FILES, SPLITS, Example, Task, check_split

__all__ = [
    "FAMILIES",
    "SPLITS",
    "SPLIT_FILES",
    "EpochShuffle",
    "Example",
    "Shard",
    "Task",
    "check_shard",
    "check_split",
    "epoch_order",
    "host_indices",
    "host_slice",
    "register_task",
]
