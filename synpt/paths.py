"""Where data lives: `--data-dir` flag > `$SYNPT_DATA_DIR` > `./data`."""

from __future__ import annotations

import os
from pathlib import Path

DATA_DIR_ENV = "SYNPT_DATA_DIR"


def resolve_data_dir(flag: str | os.PathLike | None = None) -> Path:
    """The data directory to use, by precedence: explicit flag, environment variable, `./data`."""
    if flag:
        return Path(flag).expanduser()
    env = os.environ.get(DATA_DIR_ENV)
    if env:
        return Path(env).expanduser()
    return Path("data")
