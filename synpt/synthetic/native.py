"""The Python side of the C kernels in `synpt/synthetic/native/` (the extension `synpt.synthetic._native`).

Why a wrapper: the kernels take numpy arrays through the buffer protocol and return buffers; here they become
`Ragged` arrays again (no copy), and every kernel of one kind (sampler, target) gets the same Python signature as
the task machinery expects: `sampler(rng, count, ctx) -> (arg1, arg2)` and `target(a, b, ctx) -> Ragged`. The
C calling conventions are documented in `native/native.h`.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np

from synpt.errors import SynptError
from synpt.synthetic.sampling import Ragged

try:
    from synpt.synthetic import _native
except ImportError as err:  # pragma: no cover - only without a build
    raise SynptError(
        "synpt's C extension (synpt.synthetic._native) is not built. Install with ./setup.sh or "
        "'pip install -e .' on a machine with a C compiler (Debian/Ubuntu: apt-get install gcc python3-dev). "
        f"Import error: {err}"
    ) from None

SET_ORDER_CODES = {"cpython": 0, "sorted": 1, "first_appearance": 2}


def _warn_if_stale() -> None:
    """A developer who edited the C sources but did not rebuild gets told, instead of silently old behaviour."""
    sources = list((Path(__file__).parent / "native").glob("*.[ch]"))
    built = Path(_native.__file__).stat().st_mtime
    if sources and max(p.stat().st_mtime for p in sources) > built:
        warnings.warn(
            "synpt/synthetic/native/ is newer than the built extension; rebuild with "
            "'.venv/bin/python setup.py build_ext --inplace' (or ./setup.sh)",
            stacklevel=2,
        )


_warn_if_stale()


def as_ragged(values, lengths) -> Ragged:
    """A Ragged over the buffers a kernel returned (writable, no copy)."""
    return Ragged(np.frombuffer(values, dtype=np.int32), np.frombuffer(lengths, dtype=np.int64))


def ragged_args(r: Ragged | None) -> tuple:
    """(values, lengths) as the contiguous int32/int64 arrays the kernels read, or (None, None)."""
    if r is None:
        return None, None
    return np.ascontiguousarray(r.values, dtype=np.int32), np.ascontiguousarray(r.lengths, dtype=np.int64)


def sample(name: str, seed: bytes, count: int, lo: int, hi: int, pool, balanced: bool = False):
    """`count` samples (arg1, arg2 or None) of the C sampler `name` (the table in native/module.c), or for the
    `lime_<mode>` samplers `count` whole examples (inputs, targets); `seed` is 32 bytes."""
    v1, l1, v2, l2 = _native.sample(name, seed, int(count), int(lo), int(hi), pool, bool(balanced))
    return as_ragged(v1, l1), (None if v2 is None else as_ragged(v2, l2))


def sampler(name: str):
    """The sampler `name` as `(rng, count, ctx) -> (arg1, arg2 or None)`; it draws its seed from `rng`."""

    def fn(rng: np.random.Generator, count: int, ctx) -> tuple[Ragged, Ragged | None]:
        return sample(name, rng.bytes(32), count, ctx.lo, ctx.hi, ctx.pool, ctx.balanced)

    fn.__name__ = fn.__qualname__ = f"sample_{name}"
    return fn


def target(name: str):
    """The C target `name` (the table in native/module.c: sort and the set operations union, intersect, set_1_minus_2,
    set_2_minus_1) as `(a, b, ctx) -> Ragged`; the set operations write their members in `ctx.set_order`."""

    def fn(a: Ragged, b: Ragged | None, ctx) -> Ragged:
        return as_ragged(*_native.target(name, *ragged_args(a), *ragged_args(b), SET_ORDER_CODES[ctx.set_order]))

    fn.__name__ = fn.__qualname__ = f"target_{name}"
    return fn


def cpython_set_order(op: int, x, y) -> list[int]:
    """The emulated CPython 3.11 order of list(set(x)) (op 0), set(x) | set(y) (1), & (2) or - (3)."""
    name = ("list_set", "union", "intersect", "set_1_minus_2")[op]
    x, y = (Ragged.from_lists([list(v)]) for v in (x, y))
    return as_ragged(*_native.target(name, *ragged_args(x), *ragged_args(y), 0)).values.tolist()


def assemble(head: np.ndarray, arg1: Ragged, arg2: Ragged | None, divider: int) -> Ragged:
    """Row r = head + arg1[r] (+ [divider] + arg2[r])."""
    head = np.ascontiguousarray(head, dtype=np.int32)
    return as_ragged(*_native.assemble(head, *ragged_args(arg1), *ragged_args(arg2), int(divider)))


def format_pairs(
    inputs: Ragged, targets: Ragged, buffer: bytearray | None = None
) -> tuple[bytes | memoryview, np.ndarray, np.ndarray]:
    """The lines `str(list(inputs[i])) + "\\t" + str(list(targets[i])) + "\\n"`, their byte lengths, and a 64-bit
    digest of every input (the dedup key). Rows must be non-empty on both sides (empty targets are [32096]).

    With `buffer` (a bytearray reused across calls, grown as needed) the text is a memoryview of it, valid until the
    buffer is used again; without, a bytes object.
    """
    target = bytearray() if buffer is None else buffer
    nbytes, lengths, digests = _native.format_pairs(target, *ragged_args(inputs), *ragged_args(targets))
    text = bytes(target[:nbytes]) if buffer is None else memoryview(target)[:nbytes]
    return text, np.frombuffer(lengths, dtype=np.int64), np.frombuffer(digests, dtype=np.uint64)


def digests(seqs: Ragged) -> np.ndarray:
    """The 64-bit digest `format_pairs` gives each row (a digest of the inputs only)."""
    return format_pairs(seqs, seqs)[2]


