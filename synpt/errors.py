"""User-facing errors.

Why a dedicated type: the CLI prints a `SynptError` as one clear message (what is wrong, where, how to fix it)
instead of a traceback, while every other exception still shows its traceback because it is a bug. A full disk, a
read-only file system or a missing permission is the user's environment, not a bug: `storage_errors` turns those
into one line naming the path and the fix.
"""

from __future__ import annotations

import contextlib
import errno
import os
from collections.abc import Iterator


class SynptError(Exception):
    """An error caused by the user's input or environment; the message must say what to do about it."""


STORAGE_FIXES = {
    errno.ENOSPC: "the disk is full: free space (or choose a directory on another disk) and rerun the same command",
    errno.EDQUOT: "the disk quota is exceeded: free space (or choose another directory) and rerun the same command",
    errno.EROFS: "the file system is read-only: choose a writable directory",
    errno.EACCES: "permission denied: fix the directory's permissions or choose another directory",
    errno.EPERM: "operation not permitted: fix the directory's permissions or choose another directory",
}
_STORAGE_WORDS = {  # how libraries that wrap the OSError (orbax, tensorstore) spell these errno values
    errno.ENOSPC: "No space left on device",
    errno.EDQUOT: "Disk quota exceeded",
    errno.EROFS: "Read-only file system",
    errno.EACCES: "Permission denied",
    errno.EPERM: "Operation not permitted",
}


def storage_errno(err: BaseException) -> int | None:
    """The storage errno behind `err` (an OSError, or a library error wrapping one), else None."""
    seen = set()
    while err is not None and id(err) not in seen:
        seen.add(id(err))
        if isinstance(err, OSError) and err.errno in STORAGE_FIXES:
            return err.errno
        text = str(err)
        for number, words in _STORAGE_WORDS.items():
            if words in text:
                return number
        err = err.__cause__ or err.__context__
    return None


def storage_error(err: BaseException, path: str | os.PathLike) -> SynptError | None:
    """A one-line SynptError for a storage failure while writing under `path`, or None if `err` is not one."""
    number = storage_errno(err)
    if number is None:
        return None
    where = getattr(err, "filename", None) or path
    return SynptError(f"cannot write {where}: {STORAGE_FIXES[number]}; files saved before are untouched")


@contextlib.contextmanager
def storage_errors(path: str | os.PathLike) -> Iterator[None]:
    """Re-raise a full-disk / read-only / permission failure inside the block as a one-line SynptError."""
    try:
        yield
    except SynptError:
        raise
    except Exception as err:
        converted = storage_error(err, path)
        if converted is None:
            raise
        raise converted from err
