"""What a run directory holds, read without JAX: its checkpoint steps, a checkpoint's extra JSON, a model config.

Why apart from checkpoints.py (orbax): planning a fine-tuning run (is it resuming? which architecture has the
pre-trained checkpoint?) needs only these small files, and must not pull in JAX. Layout: see checkpoints.py.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from synpt.errors import SynptError
from synpt.model.config import T5Config

STEP_PREFIX = "checkpoint"
_STEP_DIR = re.compile(rf"^{STEP_PREFIX}_(\d+)$")


def checkpoint_steps(run_dir: Path) -> list[int]:
    """Steps of the complete checkpoints in `run_dir`, ascending (orbax's temporary directories are ignored)."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        return []
    steps = []
    for child in run_dir.iterdir():
        match = _STEP_DIR.match(child.name)
        if match and (child / "extra").is_dir():
            steps.append(int(match.group(1)))
    return sorted(steps)


def read_extra(checkpoint_dir: Path) -> dict:
    path = Path(checkpoint_dir) / "extra" / "metadata"
    if not path.is_file():
        raise SynptError(f"{checkpoint_dir} is not a complete synpt checkpoint (missing extra/metadata)")
    return json.loads(path.read_text())


def params_location(path: Path) -> tuple[Path, T5Config]:
    """(orbax params directory, model config) for a params-only dir, a checkpoint dir or a run dir."""
    if (path / "params").is_dir() and (path / "extra").is_dir():  # checkpoint_<step>
        return path / "params", T5Config.from_dict(read_extra(path)["model_config"])
    if (path / "params").is_dir() and (path / "config.json").is_file():  # save_params
        return path / "params", T5Config.from_dict(json.loads((path / "config.json").read_text()))
    steps = checkpoint_steps(path)
    if steps:  # run directory: its latest checkpoint
        return params_location(path / f"{STEP_PREFIX}_{steps[-1]}")
    raise SynptError(
        f"{path} holds no checkpoint: expected a run directory with {STEP_PREFIX}_<step>/ subdirectories, "
        f"a {STEP_PREFIX}_<step> directory, or a params-only directory written by 'synpt init' (params/ + config.json)"
    )
