"""Device mesh, parameter/batch shardings and each host's share of the training stream.

Why a ("data", "model") mesh: the paper trains data-parallel only (reference §4.4), which is the default
(model axis of size 1, every parameter replicated, batches split along "data"). An optional model axis shards the
large matrices by name (attention heads, MLP hidden units, vocabulary), in the spirit of T5X's logical-axis rules,
for models that do not fit one device. Shardings never change the arithmetic, only where it runs.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding
from jax.sharding import PartitionSpec as P

from synpt.errors import SynptError
from synpt.tasks.sharding import first_host_index

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


class StreamPosition:
    """This host's place in the global training stream, exact with any batching (bucketed, packed) and host count.

    Host p of n reads the global indices i >= start with i % n == p (`host_train_stream`); after consuming k
    examples its next index is `first + k * n`. Packed batches hold a varying number of examples, so hosts drift
    apart: a checkpoint records every host's next index (`host_positions`) and, as `examples_consumed`, the
    frontier below which every index was consumed. A run resumed with the same number of processes restarts each
    host at its own next index (exact); with another number of processes, or from a checkpoint without
    `host_positions`, at the frontier (exact for bucketed and fixed padding, where hosts never drift apart; with
    packing a few examples past the frontier are seen again).
    """

    def __init__(self, checkpoint_extra: dict | None = None):
        self.index, self.count = jax.process_index(), jax.process_count()
        extra = checkpoint_extra or {}
        positions = extra.get("host_positions")
        if positions is not None and len(positions) == self.count:
            self.start = int(positions[self.index])
        else:
            self.start = int(extra.get("examples_consumed", 0))
        self.first = first_host_index(self.start, self.index, self.count)
        self.consumed = 0

    def advance(self, examples: int) -> None:
        self.consumed += examples

    def next_index(self) -> int:
        """The global index of the next example this host reads."""
        return self.first + self.consumed * self.count

    def checkpoint_fields(self) -> dict[str, int | list[int]]:
        """`examples_consumed` and `host_positions` for the checkpoint (a collective: every host must call it)."""
        from jax.experimental import multihost_utils

        mine = np.asarray(self.next_index(), np.int64)
        positions = [int(p) for p in np.asarray(multihost_utils.process_allgather(mine)).reshape(-1)]
        return {"examples_consumed": min(positions), "host_positions": positions}


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


def describe_mesh(mesh: Mesh) -> str:
    """E.g. `8 devices as data 4 x model 2 (2 processes)`."""
    processes = len({d.process_index for d in mesh.devices.flat})
    return (
        f"{mesh.devices.size} devices as data {mesh.shape['data']} x model {mesh.shape['model']} "
        f"({processes} process{'es' * (processes > 1)})"
    )


def describe_shardings(tree, shardings) -> str:
    """One compact line per partition spec: how many leaves and values of `tree` are laid out that way."""
    leaves: Counter[str] = Counter()
    values: Counter[str] = Counter()
    for leaf, sharding in zip(jax.tree.leaves(tree), jax.tree.leaves(shardings), strict=True):
        spec = str(tuple(sharding.spec)) if tuple(sharding.spec) else "replicated"
        leaves[spec] += 1
        values[spec] += int(np.prod(np.shape(leaf)))
    mesh = jax.tree.leaves(shardings)[0].mesh
    lines = [f"parameter shardings over {describe_mesh(mesh)}:"]
    lines += [f"  {spec}: {leaves[spec]} leaves, {values[spec]:,} values" for spec in sorted(leaves)]
    return "\n".join(lines)


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
    """Assemble each host's local rows into global arrays sharded over "data" (one host: a plain device_put).

    Hosts bucket their own rows, so with several processes each feature is first zero-padded to the widest host's
    length (padding is weightless and masked, so this changes no loss)."""
    sharding = batch_sharding(mesh)
    local_batch = _common_widths(local_batch) if jax.process_count() > 1 else local_batch
    return {k: jax.make_array_from_process_local_data(sharding, np.asarray(v)) for k, v in local_batch.items()}


def _common_widths(local_batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    from jax.experimental import multihost_utils

    names = sorted(local_batch)
    widths = np.asarray([local_batch[k].shape[1] for k in names], np.int64)
    widest = np.asarray(multihost_utils.process_allgather(widths)).reshape(-1, len(names)).max(axis=0)
    return {
        k: np.pad(local_batch[k], ((0, 0), (0, int(w) - local_batch[k].shape[1])))
        for k, w in zip(names, widest, strict=True)
    }


def host_rows(batch: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """This host's contiguous block of a batch every host built whole (eval batches), so that `global_batch` of the
    blocks is the batch itself."""
    index, count = jax.process_index(), jax.process_count()
    return {k: np.split(v, count)[index] for k, v in batch.items()}


def put_global(tree, shardings):
    """Place a host-side (or single-device) tree, identical on every process, onto global `shardings`; one
    process: a plain device_put (no copy through host memory)."""
    if jax.process_count() == 1:
        return jax.device_put(tree, shardings)

    def to_global(leaf, sharding):
        value = np.asarray(leaf)
        return jax.make_array_from_callback(value.shape, sharding, lambda index: value[index])

    return jax.tree.map(to_global, tree, shardings)


def host_local(tree):
    """A tree of global arrays as host numpy arrays on every process (for per-process work such as decoding);
    with one process the tree itself."""
    if jax.process_count() == 1:
        return tree
    from jax.experimental import multihost_utils

    return multihost_utils.process_allgather(tree, tiled=True)


def replicated(mesh: Mesh) -> NamedSharding:
    return NamedSharding(mesh, P())
