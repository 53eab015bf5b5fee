"""Atomic file writes: readers (and a run killed mid-write) never see half a file.

Why one module at the bottom of the package: generated datasets, manifests, run configs, results and checkpoints'
metadata are all written the same way, by a temporary file in the same folder and an `os.replace`.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def temp_path(path: Path) -> Path:
    """A hidden temporary name beside `path`, unique to this process (two writers never share one)."""
    return path.with_name(f".{path.name}.tmp-{os.getpid()}")


def write_json_atomic(path: str | os.PathLike, payload: Any) -> None:
    """Write `payload` as indented, key-sorted JSON through a temporary file and a rename."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(path)
    tmp.write_text(json.dumps(payload, indent=2, sort_keys=True) + "\n")
    os.replace(tmp, path)
