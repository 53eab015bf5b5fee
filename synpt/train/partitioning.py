"""Device mesh, parameter/batch shardings and each host's share of the training stream.

Why a ("data", "model") mesh: the paper trains data-parallel only (reference §4.4), which is the default
(model axis of size 1, every parameter replicated, batches split along "data"). An optional model axis shards the
large matrices by name (attention heads, MLP hidden units, vocabulary), in the spirit of T5X's logical-axis rules,
for models that do not fit one device. Shardings never change the arithmetic, only where it runs.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from synpt.errors import SynptError

# (regex on the parameter path, spec for a 2-D leaf); the first match wins, anything else is replicated.
PARAM_RULES: tuple[tuple[str, P], ...] = (
    (r"attention/(query|key|value)/kernel", P(None, "model")),
    (r"attention/out/kernel", P("model", None)),
    (r"mlp/wi(_\d)?/kernel", P(None, "model")),
    (r"mlp/wo/kernel", P("model", None)),
    (r"token_embedder/embedding", P("model", None)),
    (r"logits_dense/kernel", P(None, "model")),
)


def host_train_stream(task, *, seed: int, data_dir: Path | None) -> Callable[[int], Iterator[dict]]:
    """The trainer's `train_stream` for this host: `task`'s train examples from global index `start` on, every
    `jax.process_count()`-th one from `jax.process_index()` (the trainer counts consumed examples globally).

    Every command that trains (`synpt train`, `synpt pretrain`, `synpt finetune`) takes its stream from here, so
    a multi-host run never feeds two hosts the same examples."""
    index, count = jax.process_index(), jax.process_count()
    return lambda start: task.examples(
        "train", seed=seed, data_dir=data_dir, start=start, shard_index=index, shard_count=count
    )


def make_mesh(model_parallel: int = 1) -> Mesh:
    """A mesh over all devices with axes ("data", "model"); `model_parallel` devices per model replica."""
    devices = jax.devices()
    if model_parallel < 1 or len(devices) % model_parallel:
        raise SynptError(
            f"model_parallel={model_parallel} must divide the number of devices ({len(devices)}); "
            "use 1 for plain data parallelism"
        )
    grid = np.asarray(devices).reshape(len(devices) // model_parallel, model_parallel)
    return Mesh(grid, ("data", "model"))


def _path_name(path) -> str:
    parts = []
    for key in path:
        for attr in ("key", "name", "idx"):
            if hasattr(key, attr):
                parts.append(str(getattr(key, attr)))
                break
    return "/".join(parts)


def leaf_spec(name: str, shape: tuple[int, ...], mesh: Mesh) -> P:
    """The partition spec of one leaf named `name` (a "/"-joined tree path) of `shape`."""
    model_size = mesh.shape["model"]
    if model_size == 1 or len(shape) != 2:
        return P()
    for pattern, spec in PARAM_RULES:
        if re.search(pattern, name):
            axis = spec.index("model")
            return spec if shape[axis] % model_size == 0 else P()
    return P()


def tree_shardings(tree, mesh: Mesh):
    """NamedShardings for every leaf of `tree` (params, optimizer state or a whole train state) by name rules.

    Optimizer statistics shaped like their parameter follow the parameter's rule (their path contains its name);
    factored row/column vectors and scalars are replicated.
    """
    return jax.tree_util.tree_map_with_path(
        lambda path, leaf: NamedSharding(mesh, leaf_spec(_path_name(path), np.shape(leaf), mesh)), tree
    )


def batch_sharding(mesh: Mesh) -> NamedSharding:
    """Batches are split along their leading (example) dimension over the "data" axis."""
    return NamedSharding(mesh, P("data"))


def global_batch(local_batch: dict[str, np.ndarray], mesh: Mesh) -> dict[str, jax.Array]:
    """Assemble each host's local rows into global arrays sharded over "data" (one host: a plain device_put)."""
    sharding = batch_sharding(mesh)
    return {k: jax.make_array_from_process_local_data(sharding, np.asarray(v)) for k, v in local_batch.items()}


def replicated(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, P())
