"""The contract every task meets: the `Task` base class, the `Example` format and the split names.

In the spirit of seqio's `Task(source, preprocessors, metric_fns)`: a task is a named, configured source of examples.
What the CLI, the trainer and the experiments read from a task is *declared* here, with a default, so callers read
attributes instead of probing with `hasattr`/`getattr`:

* `name`, `family` (one of `FAMILIES`);
* `options` — the configured options (`{}` when the task has none), changed only through `with_options`, which
  refuses unknown names and lists the valid ones (one options system for every family);
* `settings` — the downstream fine-tuning settings (`FinetuneSettings`), None for pre-training tasks;
* `default_sizes` — train/valid sizes for `synpt generate` beyond the generic defaults;
* `writes_dataset` — True when `write_dataset(...)` writes the task's files (`synpt generate`);
* `has_oracle` — True when `oracle_target(inputs)` recomputes a target (`synpt verify`);
* `prefix` — the task-name ids that start every input (`synpt show`), () when none;
* `data_info(data_dir)` — what a run records about the data's origin (corpus, size, licence), {} when generated;
* `examples(split, *, seed, data_dir, start, shard_index, shard_count)` — see `Task.examples`; a subclass
  implements `_examples(split, seed, data_dir, shard)` and reads its host's slice from `shard` (a `Shard`).

Which indices a host reads and how a training epoch is shuffled is `synpt.tasks.sharding`, shared by every task.
"""

from __future__ import annotations

import copy
from collections.abc import Iterator
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from synpt.errors import SynptError
from synpt.tasks.sharding import Shard

Example = dict[str, np.ndarray]
"""One example: {"inputs": int32[n], "targets": int32[m]}, EOS (`synpt.vocab.EOS_ID`) already appended to both."""

SPLITS = ("train", "validation", "test")
SPLIT_FILES = {"train": "train.txt", "validation": "valid.txt", "test": "test.txt"}
"""File of each split in the reference layout (`valid.txt` holds the validation split)."""
FAMILIES = ("simple", "lime", "corpus", "natural", "downstream")


def check_split(task_name: str, split: str) -> None:
    if split not in SPLITS:
        raise SynptError(f"task {task_name!r}: unknown split {split!r}; valid: {', '.join(SPLITS)}")


class Task:
    """Base class of every task; subclasses set `name`/`family`, their options and `examples`.

    `examples("train", ...)` is an endless, deterministic stream: example number `i` (global index) depends only on
    (task, options, seed, i), so a run can resume at any position (`start`) and hosts can take disjoint slices
    (`shard_index`, `shard_count`: host k gets the global indices i >= start with i % shard_count == k).
    Other splits ("validation", "test") are finite and in file order, unshuffled.
    """

    name: str = ""
    family: str = ""
    default_options: dict[str, Any] = {}
    """Every option the task accepts, with its default; `options` starts as a copy."""
    options: dict[str, Any]
    settings: Any = None
    default_sizes: ClassVar[dict[str, int]] = {}
    prefix: tuple[int, ...] = ()
    writes_dataset: ClassVar[bool] = False
    has_oracle: ClassVar[bool] = False

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        # A task has an oracle exactly when its class defines one: declared by the definition, read as an attribute.
        cls.has_oracle = cls.oracle_target is not Task.oracle_target

    def __init__(self, default_options: dict[str, Any] | None = None, **options: Any):
        if default_options is not None:
            self.default_options = dict(default_options)
        self.options = dict(self.default_options)
        self.options = self._checked(options)
        self._configure()

    # -- options ---------------------------------------------------------------------------------------------------
    def with_options(self, **options: Any) -> Task:
        """A copy configured with `options`; unknown names or bad values raise SynptError. The task is unchanged."""
        configured = copy.copy(self)
        configured.options = self._checked(options)
        configured._configure()
        return configured

    def _checked(self, options: dict[str, Any]) -> dict[str, Any]:
        unknown = sorted(set(options) - set(self.default_options))
        if unknown:
            current = ", ".join(f"{k}={v!r}" for k, v in sorted(self.options.items()))
            raise SynptError(
                f"task {self.name!r}: unknown option(s) {', '.join(unknown)}; valid options: "
                f"{', '.join(sorted(self.default_options))} (current: {current})"
            )
        return {**self.options, **{k: self._check_option(k, v) for k, v in options.items()}}

    def _check_option(self, key: str, value: Any) -> Any:
        """The checked (possibly normalised) value of one option; raise SynptError for a bad one."""
        if key == "source" and value not in ("stream", "files"):
            raise SynptError(f"task {self.name!r}: source must be 'stream' or 'files', got {value!r}")
        return value

    def _configure(self) -> None:
        """Derive state from `options` after they change (a hook; checks that span several options go here)."""

    def __repr__(self) -> str:
        changed = {k: v for k, v in self.options.items() if v != self.default_options.get(k)}
        return f"{type(self).__name__}({self.name!r}{', ' if changed else ''}{changed or ''})"

    # -- data ------------------------------------------------------------------------------------------------------
    def examples(
        self,
        split: str,
        *,
        seed: int = 0,
        data_dir: str | Path | None = None,
        start: int = 0,
        shard_index: int = 0,
        shard_count: int = 1,
    ) -> Iterator[Example]:
        """Examples of `split` with EOS appended (see the class docstring for the stream contract).

        The split and the shard are checked here, before any file is read.
        """
        check_split(self.name, split)
        return self._examples(split, seed, data_dir, Shard(start, shard_index, shard_count))

    def _examples(self, split: str, seed: int, data_dir: str | Path | None, shard: Shard) -> Iterator[Example]:
        raise NotImplementedError

    def write_dataset(
        self,
        data_root: str | Path,
        *,
        num_train: int,
        num_valid: int,
        seed: int,
        workers: int = 1,
        progress: bool = True,
        num_examples: int | None = None,
    ) -> dict:
        """Write the task's train/valid files under `data_root` and return the manifest (when `writes_dataset`).

        `num_examples` is how many examples are generated before dedup where the task draws both files from one
        stream (default num_train + num_valid). The output does not depend on `workers`.
        """
        if not self.writes_dataset:
            raise SynptError(
                f"task {self.name!r} is a {self.family} task; 'synpt generate' writes synthetic tasks only"
            )
        for flag, value in (("train", num_train), ("valid", num_valid)):
            if value < 0:
                raise SynptError(f"--{flag}={value}: must be >= 0")
        if workers < 1:
            raise SynptError(f"--workers must be at least 1, got {workers}")
        return self._write_dataset(Path(data_root), (num_train, num_valid, num_examples), seed, workers, progress)

    def _write_dataset(self, root: Path, sizes: tuple, seed: int, workers: int, progress: bool) -> dict:
        """`write_dataset` after its checks; `sizes` is (num_train, num_valid, num_examples or None)."""
        raise NotImplementedError

    def data_info(self, data_dir: str | Path | None = None) -> dict:
        """What a run records about where the examples come from (corpus, size, licence); {} when generated."""
        return {}

    def oracle_target(self, ids: list[int]) -> list[int]:
        """The target of an input line (no EOS), recomputed one example at a time (when `has_oracle`)."""
        raise SynptError(f"task {self.name!r} ({self.family}) has no oracle to recompute targets with")
