"""The machinery every generated task shares: options, the seeded block stream, file sources, `write_dataset`.

Why blocks: example i of (task, seed) is example i % BLOCK_SIZE of block i // BLOCK_SIZE, and block b has its own
`SeedSequence([seed, task, stream, b])`. So any example can be produced without the ones before it (resume,
sharding, worker processes) and the output never depends on batch size or worker count, while each block is
still generated with a few vectorized numpy calls.

A task may have several *parts* written to separate files (LIME: induct, deduct, abduct). Its example stream is
then the round-robin mixture of the parts: global example i is example i // P of part i % P (equal rates).
"""

from __future__ import annotations

import copy
import functools
import logging
from collections import deque
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from functools import lru_cache
from pathlib import Path

import numpy as np

from synpt import __version__
from synpt.errors import SynptError
from synpt.paths import resolve_data_dir
from synpt.tasks.files import Chunk, SplitWriter, load_id_pairs, write_json_atomic
from synpt.tasks.native import format_pairs
from synpt.tasks.registry import Example
from synpt.tasks.sampling import BLOCK_SIZE, Ragged, block_rng, concat, stable_task_id

log = logging.getLogger(__name__)

EOS_ID = 1
VALIDATION_STREAM_SIZE = 10_000
"""Examples in the generated validation stream (the reference's valid.txt size)."""
SPLITS = ("train", "validation", "test")


def with_eos(seqs: Ragged) -> Ragged:
    return concat(seqs, Ragged.constant(EOS_ID, len(seqs)))


class SyntheticTask:
    """Base class of generated tasks; subclasses define `parts`, `_part_files` and `_generate`."""

    family = "simple"
    common_options: dict = {"source": "stream"}

    def __init__(self, name: str, extra_options: dict | None = None):
        self.name = name
        self._defaults = {**self.common_options, **(extra_options or {})}
        self.options = dict(self._defaults)

    # -- options ---------------------------------------------------------------------------------------------
    def with_options(self, **options) -> SyntheticTask:
        """A copy configured with `options`; unknown names or bad values raise SynptError."""
        unknown = sorted(set(options) - set(self._defaults))
        if unknown:
            raise SynptError(
                f"task {self.name!r}: unknown option(s) {', '.join(unknown)}; "
                f"valid: {', '.join(sorted(self._defaults))}"
            )
        configured = copy.copy(self)
        configured.options = {**self.options, **{k: self._check_option(k, v) for k, v in options.items()}}
        return configured

    def _check_option(self, key: str, value):
        if key == "source" and value not in ("stream", "files"):
            raise SynptError(f"task {self.name!r}: source must be 'stream' or 'files', got {value!r}")
        return value

    def __repr__(self) -> str:
        changed = {k: v for k, v in self.options.items() if v != self._defaults[k]}
        return f"{type(self).__name__}({self.name!r}{', ' if changed else ''}{changed or ''})"

    # -- to be defined by subclasses ----------------------------------------------------------------------------
    @property
    def parts(self) -> tuple[str, ...]:
        """Names of the separately written parts (one for a simple task)."""
        raise NotImplementedError

    def _part_files(self, data_root: Path, part: str) -> tuple[Path, Path]:
        """(train file, valid file) of `part` in the reference layout under `data_root`."""
        raise NotImplementedError

    def _generate(self, rng: np.random.Generator, count: int, part: str, seed: int) -> tuple[Ragged, Ragged]:
        """`count` examples of `part` as (inputs, targets) ragged arrays, without EOS."""
        raise NotImplementedError

    def _on_load(self, inputs: Ragged, targets: Ragged, path: Path) -> None:
        """Hook called after a data file is loaded (LIME logs its symbol mapping)."""

    # -- generation ---------------------------------------------------------------------------------------------
    def generate_block(self, block: int, *, seed: int = 0, split: str = "train", part: str | None = None):
        """Block `block` (BLOCK_SIZE examples) of `part`'s generated stream: (inputs, targets), no EOS."""
        part = part or self.parts[0]
        stream = "validation" if split != "train" else "train"
        rng = block_rng(seed, f"{self.name}/{part}", block, stream)
        return self._generate(rng, BLOCK_SIZE, part, seed)

    def blocks(self, split: str = "train", *, seed: int = 0, start_block: int = 0, part: str | None = None):
        """The fast stream: consecutive generated blocks of one part as ragged arrays (endless)."""
        block = start_block
        while True:
            yield self.generate_block(block, seed=seed, split=split, part=part)
            block += 1

    def examples(
        self,
        split: str,
        *,
        seed: int = 0,
        data_dir: Path | None = None,
        start: int = 0,
        shard_index: int = 0,
        shard_count: int = 1,
    ) -> Iterator[Example]:
        """Examples with EOS appended; see `synpt.tasks.registry.Task` for the contract."""
        if split not in SPLITS:
            raise SynptError(f"task {self.name!r}: unknown split {split!r}; valid: {', '.join(SPLITS)}")
        if not 0 <= shard_index < shard_count:
            raise SynptError(f"shard_index must be in [0, shard_count), got {shard_index} of {shard_count}")
        sources = self._sources(split, seed, data_dir)
        num_parts = len(sources)
        first = start + (shard_index - start) % shard_count
        limit = None if split == "train" else sum(len(s) for s in sources)
        index = first
        while limit is None or index < limit:
            source = sources[index % num_parts]
            local = index // num_parts
            if limit is None or local < len(source):
                yield source.example(local)
            index += shard_count

    def _sources(self, split: str, seed: int, data_dir) -> list:
        root = resolve_data_dir(data_dir)
        from_files = self.options["source"] == "files"
        if split != "train" and not from_files:
            from_files = all(self._part_files(root, p)[1].is_file() for p in self.parts)
        if not from_files:
            size = None if split == "train" else -(-VALIDATION_STREAM_SIZE // len(self.parts))
            return [_GeneratedSource(self, p, seed, split, size) for p in self.parts]
        sources = []
        for part in self.parts:
            path = self._part_files(root, part)[0 if split == "train" else 1]
            inputs, targets, _ = load_id_pairs(path, what=f"{self.name} {split}")
            self._on_load(inputs, targets, path)
            epochs_seed = (seed, stable_task_id(f"{self.name}/{part}")) if split == "train" else None
            sources.append(_FileSource(inputs, targets, epochs_seed))
        return sources

    # -- writing ------------------------------------------------------------------------------------------------
    def write_dataset(
        self,
        data_root: Path,
        *,
        num_train: int,
        num_valid: int,
        seed: int,
        workers: int = 1,
        progress: bool = True,
        num_examples: int | None = None,
    ) -> dict:
        """Generate `num_examples` (default train + valid) per part, dedup, split, write atomically; the manifest.

        The output is byte-identical for any `workers` (blocks are independent and written in order).
        """
        num_examples = num_train + num_valid if num_examples is None else num_examples
        if num_examples < num_train + num_valid:
            raise SynptError(f"--num-examples {num_examples} is less than --train {num_train} + --valid {num_valid}")
        if workers < 1:
            raise SynptError(f"--workers must be at least 1, got {workers}")
        data_root = Path(data_root)
        counts = {}
        for part in self.parts:
            train_path, valid_path = self._part_files(data_root, part)
            writer = SplitWriter(train_path, valid_path, num_train=num_train, num_valid=num_valid)
            try:
                for chunk in _generate_chunks(self, part, seed, num_examples, workers, progress):
                    writer.add(chunk)
                counts[part] = writer.finish()
            except BaseException:
                writer.abort()
                raise
        manifest = {
            "task": self.name,
            "family": self.family,
            "parts": list(self.parts),
            "seed": seed,
            "options": {k: list(v) if isinstance(v, tuple) else v for k, v in self.options.items()},
            "num_examples": num_examples,
            "num_train": num_train,
            "num_valid": num_valid,
            "counts": counts,
            "synpt_version": __version__,
        }
        write_json_atomic(self.manifest_path(data_root), manifest)
        return manifest

    def manifest_path(self, data_root: Path) -> Path:
        return self._part_files(Path(data_root), self.parts[0])[0].parent / "manifest.json"


class _GeneratedSource:
    """Random access into a generated stream, caching the current block."""

    def __init__(self, task: SyntheticTask, part: str, seed: int, split: str, size: int | None):
        self.task, self.part, self.seed, self.split, self.size = task, part, seed, split, size
        self._block_id = -1

    def __len__(self) -> int:
        return self.size

    def example(self, index: int) -> Example:
        block, offset = divmod(index, BLOCK_SIZE)
        if block != self._block_id:
            inputs, targets = self.task.generate_block(block, seed=self.seed, split=self.split, part=self.part)
            self._inputs, self._targets = with_eos(inputs), with_eos(targets)
            self._block_id = block
        return _row_example(self._inputs, self._targets, offset)


class _FileSource:
    """Examples of a loaded file; with `epochs_seed` an endless stream, each epoch a seeded full shuffle."""

    def __init__(self, inputs: Ragged, targets: Ragged, epochs_seed: tuple[int, int] | None):
        self.inputs, self.targets = with_eos(inputs), with_eos(targets)
        self.epochs_seed = epochs_seed

    def __len__(self) -> int:
        return len(self.inputs)

    @lru_cache(maxsize=2)  # noqa: B019 - one source object per stream; caches the current epoch's order
    def _order(self, epoch: int) -> np.ndarray:
        rng = np.random.default_rng(np.random.SeedSequence([*self.epochs_seed, stable_task_id("epoch"), epoch]))
        return rng.permutation(len(self.inputs))

    def example(self, index: int) -> Example:
        if self.epochs_seed is not None:
            epoch, index = divmod(index, len(self.inputs))
            index = int(self._order(epoch)[index])
        return _row_example(self.inputs, self.targets, index)


def _row_example(inputs: Ragged, targets: Ragged, row: int) -> Example:
    return {"inputs": inputs.row(row).copy(), "targets": targets.row(row).copy()}


# -- chunk generation, optionally in worker threads ---------------------------------------------------------------
def _format_block(task: SyntheticTask, part: str, seed: int, num_examples: int, block: int, buffer: bytearray) -> Chunk:
    inputs, targets = task.generate_block(block, seed=seed, part=part)
    count = min(BLOCK_SIZE, num_examples - block * BLOCK_SIZE)
    if count < BLOCK_SIZE:
        inputs, targets = inputs.take(np.arange(count)), targets.take(np.arange(count))
    return Chunk(*format_pairs(inputs, targets, buffer))


def _generate_chunks(task: SyntheticTask, part: str, seed: int, num_examples: int, workers: int, progress: bool):
    """Formatted blocks in order; with workers > 1 they are made by threads (same bytes either way).

    Why threads: the C kernels and the formatter release the GIL, so threads run them in parallel without copying
    every formatted block between processes, and without forking a process that may have imported JAX. At most
    2 x workers blocks are in flight, each formatted into a text buffer that is reused once the consumer has taken
    the block (the next `next()`), so memory stays flat and is not requested from the OS block after block.
    """
    from tqdm import tqdm

    make = functools.partial(_format_block, task, part, seed, num_examples)
    num_blocks = -(-num_examples // BLOCK_SIZE)
    bar = tqdm(total=num_examples, unit="ex", unit_scale=True, desc=f"{task.name}/{part}", disable=not progress)
    buffers = deque(bytearray() for _ in range(2 * workers + 1))

    def deliver(chunk: Chunk, buffer: bytearray):
        bar.update(len(chunk.line_lengths))
        yield chunk
        chunk.data.release()  # the consumer is done with the block: its buffer can be reused
        buffers.append(buffer)

    try:
        if workers == 1:
            for block in range(num_blocks):
                buffer = buffers.popleft()
                yield from deliver(make(block, buffer), buffer)
            return
        with ThreadPoolExecutor(workers, thread_name_prefix="synpt-generate") as pool:
            in_flight: deque = deque()
            for block in range(num_blocks):
                buffer = buffers.popleft()
                in_flight.append((pool.submit(make, block, buffer), buffer))
                if len(in_flight) >= 2 * workers:
                    future, used = in_flight.popleft()
                    yield from deliver(future.result(), used)
            while in_flight:
                future, used = in_flight.popleft()
                yield from deliver(future.result(), used)
    finally:
        bar.close()
