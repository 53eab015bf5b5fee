"""One process per run directory: an advisory lock file (`RUN_DIR/.lock`) holding the owner's pid and host.

Why flock: the kernel releases it when its holder dies, however it dies (kill -9 included), so a crashed run never
blocks its own restart; the pid and host written into the file only serve to tell a second process who holds the
directory. A lock file left holding a dead process's pid on this host (its holder's lock outlived it, e.g. through a
child that inherited the descriptor) is taken over with a warning. The lock is re-entrant within a process, so a
command (`synpt finetune`) can hold it around a `train` call that takes it too.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import os
import socket
import sys
from collections.abc import Iterator
from pathlib import Path

from synpt.errors import SynptError, storage_errors

LOCK_FILE = ".lock"
_held: dict[Path, int] = {}  # run directory -> nesting depth, for this process


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def _owner(path: Path) -> tuple[int | None, str]:
    """(pid, host) written in a lock file; (None, "") when unreadable or empty."""
    try:
        pid, _, host = path.read_text().strip().partition(" ")
        return int(pid), host
    except (OSError, ValueError):
        return None, ""


def _try_lock(path: Path):
    """An open descriptor holding the flock of `path`, or None when another process holds it."""
    handle = open(path, "a+")  # noqa: SIM115 (held for the lock's lifetime)
    try:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError as err:
        handle.close()
        if err.errno in (errno.EAGAIN, errno.EACCES):
            return None
        raise
    return handle


@contextlib.contextmanager
def hold_run_dir(run_dir: str | os.PathLike, *, primary: bool = True) -> Iterator[None]:
    """Hold `run_dir`'s lock for the block (creating the directory); a second holder gets a one-line SynptError.

    In a multi-process run only the primary process (JAX process 0, which writes the logs) holds it.
    """
    run_dir = Path(run_dir).absolute()
    if not primary:
        yield
        return
    if run_dir in _held:
        _held[run_dir] += 1
        try:
            yield
        finally:
            _held[run_dir] -= 1
        return
    path = run_dir / LOCK_FILE
    host = socket.gethostname()
    with storage_errors(run_dir):
        run_dir.mkdir(parents=True, exist_ok=True)
        handle = _try_lock(path)
        if handle is None:
            pid, owner_host = _owner(path)
            if pid is None or owner_host != host or _alive(pid):
                who = f"process {pid} on {owner_host}" if pid is not None else "another process"
                raise SynptError(
                    f"{run_dir} is in use by {who} (lock file {path}); wait for that run to end or stop it, "
                    "or choose another --out"
                )
            print(f"[run] taking over the stale lock of {run_dir} (process {pid} on {host} is gone)", file=sys.stderr)
            path.unlink(missing_ok=True)
            handle = _try_lock(path)
            if handle is None:
                raise SynptError(f"{run_dir} was locked by another process just now; try again")
        else:
            pid, owner_host = _owner(path)
            if pid is not None and pid != os.getpid():
                print(
                    f"[run] {run_dir}: process {pid} on {owner_host} ended without releasing its lock; taking it over",
                    file=sys.stderr,
                )
        handle.seek(0)
        handle.truncate()
        handle.write(f"{os.getpid()} {host}\n")
        handle.flush()
    _held[run_dir] = 1
    try:
        yield
    finally:
        del _held[run_dir]
        with contextlib.suppress(OSError):
            handle.truncate(0)  # a clean exit leaves an empty lock file (no "ended without releasing" warning)
        handle.close()
