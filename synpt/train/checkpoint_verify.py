"""A training checkpoint's manifest (each file's size and sha256, written last) and what to do with a damaged one.

Why: orbax renames a finished checkpoint into place, so a kill never leaves half a checkpoint under its final name;
but a disk error, a truncated copy or a bad sync can still damage one later, and restoring it fails deep inside
tensorstore (or, worse, reads garbage). The manifest makes damage detectable; a damaged checkpoint is moved to
`RUN_DIR/damaged/` rather than deleted, since it is the researcher's data. A checkpoint without a manifest (written
before manifests existed, or killed between the rename and the manifest) is trusted if it restores.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sys
from pathlib import Path

from synpt.atomic import write_json_atomic

MANIFEST_FILE = "manifest.json"
DAMAGED_DIR = "damaged"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def _files(checkpoint: Path) -> dict[str, list]:
    return {
        str(p.relative_to(checkpoint)): [p.stat().st_size, _sha256(p)]
        for p in sorted(checkpoint.rglob("*"))
        if p.is_file() and p.name != MANIFEST_FILE
    }


def write_manifest(checkpoint: Path) -> None:
    write_json_atomic(checkpoint / MANIFEST_FILE, _files(checkpoint))


def verify_manifest(checkpoint: Path) -> str | None:
    """What is wrong with `checkpoint` according to its manifest, or None (also when it has no manifest)."""
    path = checkpoint / MANIFEST_FILE
    if not path.is_file():
        return None
    try:
        expected = json.loads(path.read_text())
    except ValueError:
        return "its manifest is unreadable"
    found = _files(checkpoint)
    for name, (size, digest) in expected.items():
        if name not in found:
            return f"{name} is missing"
        if found[name][0] != size:
            return f"{name} has {found[name][0]} bytes, the manifest says {size}"
        if found[name][1] != digest:
            return f"{name} does not match its checksum"
    return None


def move_aside(checkpoint: Path, problem: str) -> Path:
    """Move a damaged checkpoint to `RUN_DIR/damaged/` (a free name there) with a warning; returns where."""
    target_dir = checkpoint.parent / DAMAGED_DIR
    target_dir.mkdir(exist_ok=True)
    target, number = target_dir / checkpoint.name, 1
    while target.exists():
        target, number = target_dir / f"{checkpoint.name}.{number}", number + 1
    shutil.move(str(checkpoint), str(target))
    print(f"[train] warning: {checkpoint} is damaged ({problem}); moved it to {target}", file=sys.stderr)
    return target
