"""Where a checkpoint argument points: the one resolver behind every `--ckpt`, `--stats-from` and
`INITIAL_CHECKPOINT_PATH`.

A checkpoint may be a synpt run directory (its latest checkpoint), a `checkpoint_<step>` directory, a params-only
directory (`synpt init`), a Hugging Face T5 folder (`save_pretrained` / `synpt export-hf`: config.json + weights), or
a Hub id `hf:org/name[@revision]`, fetched into the Hugging Face cache. Why one place: each command used to accept
a different subset of these. Reading the model config (`checkpoint_model_config`) needs no JAX, so planning a run
stays cheap; `load_checkpoint` reads the arrays.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from synpt.errors import SynptError
from synpt.model.config import T5Config
from synpt.model.hf_hub import download_hub_model, is_hub_id
from synpt.train.run_dir import params_location


def is_hf_folder(path: Path) -> bool:
    """A Hugging Face `save_pretrained` folder (and not a synpt params directory, which also has config.json)."""
    has_weights = (path / "model.safetensors").is_file() or (path / "pytorch_model.bin").is_file()
    return path.is_dir() and (path / "config.json").is_file() and has_weights and not (path / "params").exists()


def resolve_checkpoint(spec: str | os.PathLike) -> Path:
    """The local directory of a checkpoint argument (a Hub id is downloaded, or read from the cache)."""
    path = download_hub_model(spec) if is_hub_id(spec) else Path(spec).expanduser().absolute()
    if not path.exists():
        raise SynptError(f"checkpoint path {path} does not exist")
    return path


def checkpoint_model_config(spec: str | os.PathLike) -> T5Config:
    """The model config of a checkpoint, read from its JSON files (no arrays, no JAX)."""
    path = resolve_checkpoint(spec)
    if is_hf_folder(path):
        from synpt.model.hf_config import config_from_hf

        return config_from_hf(json.loads((path / "config.json").read_text()))
    return params_location(path)[1]


def load_checkpoint(spec: str | os.PathLike) -> tuple[Any, T5Config]:
    """(params, T5Config) of a checkpoint of any kind listed in the module docstring."""
    path = resolve_checkpoint(spec)
    if is_hf_folder(path):
        from synpt.model.hf import import_hf

        return import_hf(path)
    from synpt.train.checkpoints import load_params

    return load_params(path)
