"""Orbax checkpoints: full resume state for training runs, and params-only checkpoints for `synpt init` & co.

Layout of a run directory (T5X-like names):

    RUN_DIR/config.json                    the run's TrainConfig and model config
    RUN_DIR/checkpoint_<step>/params       model parameters (orbax PyTree, float32)
    RUN_DIR/checkpoint_<step>/opt_state    Adafactor statistics and update count
    RUN_DIR/checkpoint_<step>/extra        JSON: step, examples consumed, seed, RNG key data, model config

A params-only checkpoint (`save_params`) is `DIR/params` plus `DIR/config.json` (model config) and
`DIR/metadata.json`. Orbax writes each checkpoint into a temporary directory and renames it when complete, so a
run killed mid-save leaves the previous checkpoint as the latest one (atomicity). Reading the layout without
JAX (steps, extra JSON, model config): run_dir.py.

Each training checkpoint also gets `manifest.json` (every file's size and sha256), written last. A restore checks
it and falls back, newest first: a checkpoint that fails its manifest or cannot be read is moved aside to
`RUN_DIR/damaged/` (never deleted) with a warning, and the next older one is used (checkpoint_verify.py).
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any

import jax
import orbax.checkpoint as ocp

from synpt.atomic import write_json_atomic
from synpt.errors import SynptError, storage_error
from synpt.model.config import T5Config
from synpt.model.t5 import init_params
from synpt.train.checkpoint_verify import move_aside, verify_manifest, write_manifest
from synpt.train.run_dir import STEP_PREFIX, params_location, read_extra


def describe_config(config: T5Config) -> str:
    """A one-line summary of the fields that decide parameter shapes and the forward pass."""
    d = config.to_dict()
    keys = ("d_model", "num_heads", "head_dim", "num_encoder_layers", "num_decoder_layers", "d_ff", "feed_forward")
    keys += ("tie_embeddings", "vocab_size", "dtype")
    return ", ".join(f"{k}={d[k]}" for k in keys if k in d)


def check_same_model(found: T5Config, wanted: T5Config, where: Path) -> None:
    """Raise when a checkpoint in `where` belongs to a different architecture than the one requested.

    Dropout is a training setting and may differ (fine-tuning turns it on for a pre-trained checkpoint).
    """
    strip = lambda c: {k: v for k, v in c.to_dict().items() if k != "dropout_rate"}
    if strip(found) != strip(wanted):
        raise SynptError(
            f"{where} holds a checkpoint of another model.\n  checkpoint: {describe_config(found)}\n"
            f"  requested:  {describe_config(wanted)}\n"
            "Use a fresh --out/MODEL_DIR for this model, or request the checkpoint's model."
        )


def abstract_params(config: T5Config, sharding=None):
    """Shapes and dtypes of `init_params(config)` (no memory), with `sharding` (default: this process's 1st device)."""
    sharding = sharding or jax.sharding.SingleDeviceSharding(jax.local_devices()[0])
    shapes = jax.eval_shape(lambda: init_params(config, jax.random.key(0)))
    return jax.tree.map(lambda s: jax.ShapeDtypeStruct(s.shape, s.dtype, sharding=sharding), shapes)


class RunCheckpoints:
    """Save and restore the full training state of one run directory (every N steps, keep K)."""

    def __init__(self, run_dir: Path, *, keep: int | None = None):
        self.run_dir = Path(run_dir).absolute()
        options = ocp.CheckpointManagerOptions(
            max_to_keep=keep, step_prefix=STEP_PREFIX, enable_async_checkpointing=False, create=True
        )
        self.manager = ocp.CheckpointManager(self.run_dir, options=options)

    def latest_step(self) -> int | None:
        return self.manager.latest_step()

    def path(self, step: int) -> Path:
        return self.run_dir / f"{STEP_PREFIX}_{step}"

    def save(self, step: int, params, opt_state, extra: dict) -> Path:
        """Write checkpoint `step` and then its manifest; a full disk or read-only directory is a SynptError, and
        the half-written temporary directory is removed (the previous checkpoints stay as they were)."""
        try:
            self.manager.save(
                step,
                args=ocp.args.Composite(
                    params=ocp.args.StandardSave(params),
                    opt_state=ocp.args.StandardSave(opt_state),
                    extra=ocp.args.JsonSave(extra),
                ),
                force=True,
            )
            self.manager.wait_until_finished()
            write_manifest(self.path(step))
        except Exception as err:
            for partial in self.run_dir.glob(f"{STEP_PREFIX}_{step}.orbax-checkpoint-tmp*"):
                shutil.rmtree(partial, ignore_errors=True)
            converted = storage_error(err, self.path(step))
            if converted is None:
                raise
            raise converted from err
        return self.path(step)

    def read_extra(self, step: int) -> dict:
        return read_extra(self.path(step))

    def restore(self, step: int, abstract_params_tree, abstract_opt_state) -> tuple[Any, Any, dict]:
        restored = self.manager.restore(
            step,
            args=ocp.args.Composite(
                params=ocp.args.StandardRestore(abstract_params_tree),
                opt_state=ocp.args.StandardRestore(abstract_opt_state),
            ),
        )
        return restored["params"], restored["opt_state"], self.read_extra(step)

    def restore_latest(
        self, abstract_params_tree, abstract_opt_state, check_extra: Callable[[dict], None]
    ) -> tuple[Any, Any, dict] | None:
        """(params, opt_state, extra) of the newest usable checkpoint, or None when the run has none yet.

        `check_extra` vets a checkpoint's extra JSON before its arrays are read (a SynptError there, e.g. another
        model, is the user's and propagates). A damaged checkpoint is moved aside with a warning and the next older
        one is tried; when none is usable the error says what to delete.
        """
        moved = []
        while (step := self.latest_step()) is not None:
            path = self.path(step)
            try:
                extra = self.read_extra(step)
            except Exception as err:  # unreadable JSON: damaged like any other file
                problem = f"unreadable extra metadata ({err})"
            else:
                check_extra(extra)
                problem = verify_manifest(path)
                if problem is None:
                    try:
                        params, opt_state, _ = self.restore(step, abstract_params_tree, abstract_opt_state)
                        return params, opt_state, extra
                    except Exception as err:  # orbax / tensorstore fail in many ways on damaged files
                        problem = f"cannot be restored ({str(err).splitlines()[0] if str(err) else type(err).__name__})"
            moved.append(move_aside(path, problem))
            self.manager.reload()
        if moved:
            raise SynptError(
                f"{self.run_dir} has no usable checkpoint left (damaged ones were moved to {moved[0].parent}); "
                f"delete {self.run_dir} to start the run over"
            )
        return None

    def close(self) -> None:
        self.manager.close()


def save_params(path: str | os.PathLike, params, config: T5Config, metadata: dict | None = None) -> Path:
    """Write a params-only checkpoint to `path` (created; an existing params checkpoint there is an error)."""
    path = Path(path).absolute()
    if (path / "params").exists():
        raise SynptError(f"{path} already holds a params checkpoint; choose another --out or delete it")
    path.mkdir(parents=True, exist_ok=True)
    checkpointer = ocp.StandardCheckpointer()
    checkpointer.save(path / "params", params)
    checkpointer.wait_until_finished()
    write_json_atomic(path / "metadata.json", metadata or {})
    write_json_atomic(path / "config.json", config.to_dict())
    return path


def load_params(path: str | os.PathLike, *, sharding=None) -> tuple[Any, T5Config]:
    """Parameters and model config from a run directory (latest checkpoint), a checkpoint dir or a params-only dir."""
    path = Path(path).expanduser().absolute()
    if not path.exists():
        raise SynptError(f"checkpoint path {path} does not exist")
    params_dir, config = params_location(path)
    params = ocp.StandardCheckpointer().restore(params_dir, abstract_params(config, sharding))
    return params, config
