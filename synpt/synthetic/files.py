"""Reference-format data files: `[ids]<TAB>[ids]` lines, THE dataset writer (atomic, dedup), tolerant loading.

Why here and generic: the simple tasks, LIME and the corpus tasks (nonsense summary, nesting language) all write
the reference layout (dedup by input keeping the first, train = first N, valid = last M, §2.12) and all load it the
way seqio does (lines without exactly two tab-separated fields are dropped, §2.13). Every task writes through the
same three pieces: `ordered_map` makes formatted `Chunk`s in order (in worker threads or processes), `SplitWriter`
dedups them and writes the files atomically, and `write_chunks` runs the two with a progress bar. The writer takes
already formatted line bytes plus a 64-bit input digest per line, so it does not care what a line contains.
"""

from __future__ import annotations

import hashlib
import logging
import multiprocessing
import os
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

import numpy as np

from synpt.atomic import temp_path
from synpt.errors import SynptError
from synpt.synthetic.sampling import Ragged

log = logging.getLogger(__name__)

T = TypeVar("T")


def parse_id_list(text: str) -> list[int]:
    """`"[1, 2, 3]"` -> [1, 2, 3]; raises ValueError on anything else (`"[]"` is an empty list)."""
    if len(text) < 2 or text[0] != "[" or text[-1] != "]":
        raise ValueError(f"not a bracketed id list: {text[:40]!r}")
    body = text[1:-1]
    return [int(x) for x in body.split(", ")] if body else []


def parse_id_pair(line: str) -> tuple[list[int], list[int]]:
    """One reference line `[ids]<TAB>[ids]` -> (inputs, targets); ValueError when it is not exactly that."""
    fields = line.rstrip("\n").split("\t")
    if len(fields) != 2:
        raise ValueError(f"expected 2 tab-separated fields, found {len(fields)}")
    return parse_id_list(fields[0]), parse_id_list(fields[1])


@dataclass
class LoadReport:
    """What a loader kept and dropped; `bad_lines` names the first few malformed lines as `file:line: why`."""

    path: Path
    lines: int = 0
    malformed: int = 0
    bad_lines: list[str] = field(default_factory=list)

    def note_bad(self, lineno: int, why: str, keep: int = 5) -> None:
        self.malformed += 1
        if len(self.bad_lines) < keep:
            self.bad_lines.append(f"{self.path}:{lineno}: {why}")

    def log(self) -> None:
        if self.malformed:
            log.warning(
                "%s: dropped %d malformed of %d lines (as seqio does); first: %s",
                self.path,
                self.malformed,
                self.lines,
                "; ".join(self.bad_lines),
            )


def _check_file(path: Path, what: str) -> None:
    if not path.is_file():
        raise SynptError(f"{path}: {what} file not found; generate it with 'synpt generate' or fix --data-dir")
    if path.stat().st_size == 0:
        raise SynptError(f"{path}: {what} file is empty; regenerate it with 'synpt generate'")


_PIECE_BYTES = 16 << 20


def load_id_pairs(path: Path, *, what: str = "data") -> tuple[Ragged, Ragged, LoadReport]:
    """Load a `[ids]<TAB>[ids]` file into (inputs, targets) ragged arrays (no EOS), dropping malformed lines.

    The file is read in pieces of about 16 MB (a released 1 M-line train.txt is over 1 GB), each parsed with a few
    vectorized numpy passes over its bytes. A piece with a malformed line is re-parsed
    line by line, which names the bad lines as `file:line`.
    """
    path = Path(path)
    _check_file(path, what)
    report = LoadReport(path)
    inputs: list[Ragged] = []
    targets: list[Ragged] = []
    with open(path, "rb") as handle:
        rest = b""
        while True:
            block = handle.read(_PIECE_BYTES)
            data = rest + block
            cut = len(data) if not block else data.rfind(b"\n") + 1
            piece, rest = data[:cut], data[cut:]
            if piece:
                piece_inputs, piece_targets = _parse_piece(piece, report)
                inputs.append(piece_inputs)
                targets.append(piece_targets)
            if not block:
                break
    if not sum(len(r) for r in inputs):
        raise SynptError(f"{path}: no valid line among {report.lines}; first problems: {'; '.join(report.bad_lines)}")
    report.log()
    return Ragged.stack(inputs), Ragged.stack(targets), report


def _parse_piece(data: bytes, report: LoadReport) -> tuple[Ragged, Ragged]:
    """Parse complete lines; `report.lines` (lines before this piece) gives the line numbers of bad lines."""
    if not data.endswith(b"\n"):
        data += b"\n"
    num_lines = data.count(b"\n")
    first_line = report.lines + 1
    report.lines += num_lines
    parsed = _parse_exact_piece(np.frombuffer(data, dtype=np.uint8), num_lines)
    if parsed is not None:
        return parsed
    pairs = []
    for lineno, line in enumerate(data[:-1].split(b"\n"), first_line):
        try:
            pairs.append(parse_id_pair(line.decode("utf-8", errors="replace")))
        except ValueError as err:
            report.note_bad(lineno, str(err))
    return Ragged.from_lists([p[0] for p in pairs]), Ragged.from_lists([p[1] for p in pairs])


def _parse_exact_piece(b: np.ndarray, num_lines: int) -> tuple[Ragged, Ragged] | None:
    """Vectorized parse of lines that are exactly `[n, n, ...]<TAB>[n, ...]<LF>` with non-empty lists; else None.

    Every structural byte is checked (brackets around each side, one tab per line, every separator exactly ", "),
    so a piece is accepted only if Python's line-by-line parser would read it the same way.
    """
    newline = np.flatnonzero(b == 10)
    tab = np.flatnonzero(b == 9)
    if len(tab) != num_lines or len(newline) != num_lines:
        return None
    line_start = np.concatenate([[0], newline[:-1] + 1])
    if not (np.all(tab > line_start + 1) and np.all(tab < newline - 2)):
        return None  # one tab inside each line (counts are equal), with room for "[n]" on both sides
    if not (
        np.all(b[line_start] == 91)
        and np.all(b[tab - 1] == 93)
        and np.all(b[tab + 1] == 91)
        and np.all(b[newline - 1] == 93)
    ):
        return None
    is_digit = (b - np.uint8(48)) < 10
    edges = np.diff(is_digit.view(np.int8), prepend=np.int8(0), append=np.int8(0))
    starts, ends = np.flatnonzero(edges == 1), np.flatnonzero(edges == -1)
    widths = ends - starts
    if len(starts) == 0 or widths.max() > 9:
        return None
    # Between numbers there must be exactly ", " or the "]\t[" / "]\n[" of a line boundary.
    before, after = b[starts - 1], b[np.minimum(ends, len(b) - 1)]
    if not (
        np.all((before == 91) | ((before == 32) & (b[starts - 2] == 44))) and np.all((after == 44) | (after == 93))
    ):
        return None
    non_digits = len(b) - int(widths.sum())
    numbers_per_side = np.diff(np.searchsorted(starts, np.stack([line_start, tab, newline], axis=1).reshape(-1)))
    in_len, tg_len = numbers_per_side[0::3], numbers_per_side[1::3]
    separators = len(starts) - 2 * num_lines
    if in_len.min() < 1 or tg_len.min() < 1 or non_digits != 2 * len(starts) + 2 * num_lines:
        return None
    # Exactly two '[' and two ']' per line (each line has them at the checked places) and one ", " per separator.
    if not (
        np.count_nonzero(b == 91) == np.count_nonzero(b == 93) == 2 * num_lines
        and np.count_nonzero(b == 44) == np.count_nonzero(b == 32) == separators
    ):
        return None
    values = np.zeros(len(starts), dtype=np.int64)
    last = len(b) - 1
    for k in range(int(widths.max())):  # digit k of every number at once (at most 9 passes)
        digit = b[np.minimum(starts + k, last)].astype(np.int64) - 48
        values = np.where(widths > k, values * 10 + digit, values)
    both = Ragged(values.astype(np.int32), in_len + tg_len)
    is_input = both.positions < np.repeat(in_len, in_len + tg_len)
    return Ragged(both.values[is_input], in_len), Ragged(both.values[~is_input], tg_len)


def text_digest(line: bytes) -> int:
    """64-bit digest of a line's input part (text before the first tab), for dedup of arbitrary lines."""
    return int.from_bytes(hashlib.blake2b(line.split(b"\t", 1)[0], digest_size=8).digest(), "little")


@dataclass
class Chunk:
    """Formatted lines plus, per line, its byte length and the 64-bit digest of its input (the dedup key).

    `data` may be a memoryview of a buffer that is reused for a later chunk: consumers copy what they keep."""

    data: bytes | memoryview
    line_lengths: np.ndarray
    digests: np.ndarray

    def lines(self) -> list[bytes]:
        ends = np.cumsum(self.line_lengths).tolist()
        return [self.data[a:b] for a, b in zip([0, *ends[:-1]], ends, strict=True)]


def ordered_map(make: Callable[[int], T], count: int, workers: int = 1, *, processes: bool = False) -> Iterator[T]:
    """`make(0)`, `make(1)`, ..., `make(count - 1)` in order; with workers > 1 made ahead by a pool.

    Threads suit work that releases the GIL (the C kernels and the formatter: no copies between processes);
    processes suit pure-Python work (the corpus generators) and need a picklable `make`. They are started with
    "spawn", never forked: the caller may have imported JAX, whose threads a fork can deadlock. At most 2 x workers
    calls are in flight, so memory stays flat.
    """
    if workers == 1:
        for index in range(count):
            yield make(index)
        return
    if processes:
        pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
    else:
        pool = ThreadPoolExecutor(workers, thread_name_prefix="synpt-write")
    with pool:
        in_flight: deque = deque()
        for index in range(count):
            in_flight.append(pool.submit(make, index))
            if len(in_flight) >= 2 * workers:
                yield in_flight.popleft().result()
        while in_flight:
            yield in_flight.popleft().result()


def write_chunks(writer: SplitWriter, chunks: Iterable[Chunk], *, total: int, desc: str, progress: bool) -> dict:
    """Feed `chunks` to `writer` with a progress bar; `finish()`'s counts, or on any error the files removed."""
    from tqdm import tqdm

    bar = tqdm(total=total, unit="ex", unit_scale=True, desc=desc, disable=not progress)
    try:
        for chunk in chunks:
            writer.add(chunk)
            bar.update(len(chunk.line_lengths))
        return writer.finish()
    except BaseException:
        writer.abort()
        raise
    finally:
        bar.close()


def keep_first(seen: set[int], digests: np.ndarray) -> np.ndarray | None:
    """Dedup by digest: add `digests` to `seen`; None when every one was new (the usual case), else a bool mask that
    is true at the first occurrence of each digest not seen before."""
    values = np.asarray(digests, dtype=np.uint64).tolist()
    fresh = set(values)
    if len(fresh) == len(values) and seen.isdisjoint(fresh):
        seen |= fresh
        return None
    keep = np.zeros(len(values), dtype=bool)
    for i, digest in enumerate(values):
        keep[i] = digest not in seen
        seen.add(digest)
    return keep


class SplitWriter:
    """Writes a generated stream as the reference's train/valid split, atomically.

    Lines are deduplicated by input digest (the first occurrence wins; `dedup=False` keeps every line), the first
    `num_train` kept lines go to `train_path` (every kept line when `num_train` is None: a file that is the whole
    stream) and the last `num_valid` kept lines to `valid_path` (lines in between are dropped, as the reference
    does). Files are written to temporary names and renamed only by `finish()`, so an interrupted run (Ctrl-C)
    never leaves a half-written train.txt/valid.txt; `abort()` removes the temporary files.
    """

    def __init__(
        self,
        train_path: Path,
        valid_path: Path | None,
        *,
        num_train: int | None,
        num_valid: int = 0,
        dedup: bool = True,
    ):
        self.train_path = Path(train_path)
        self.valid_path = None if valid_path is None else Path(valid_path)
        self.num_train, self.num_valid, self.dedup = num_train, num_valid, dedup
        for path in (self.train_path, self.valid_path):
            if path is not None:
                path.parent.mkdir(parents=True, exist_ok=True)
        self._train_tmp = temp_path(self.train_path)
        self._train_file = open(self._train_tmp, "wb")  # noqa: SIM115 - closed by finish()/abort()
        self._tail: deque[bytes] = deque(maxlen=max(num_valid, 1))
        self._seen: set[int] = set()  # the input digests kept so far
        self.generated = 0
        self.kept = 0
        self.written_train = 0

    def add(self, chunk: Chunk) -> None:
        """Add the lines of one chunk, in order."""
        self.generated += len(chunk.line_lengths)
        data, lengths = chunk.data, chunk.line_lengths
        keep = keep_first(self._seen, chunk.digests) if self.dedup else None
        if keep is not None:  # some line repeats an earlier input: drop it
            kept_lines = [line for line, k in zip(chunk.lines(), keep.tolist(), strict=True) if k]
            data, lengths = b"".join(kept_lines), lengths[keep]
        n = len(lengths)
        self.kept += n
        to_train = n if self.num_train is None else min(n, self.num_train - self.written_train)
        if to_train > 0:
            cut = int(lengths[:to_train].sum())
            self._train_file.write(data[:cut])
            self.written_train += to_train
            data, lengths = data[cut:], lengths[to_train:]
        if len(lengths) and self.num_valid:
            ends = np.cumsum(lengths).tolist()
            self._tail.extend(bytes(data[a:b]) for a, b in zip([0, *ends[:-1]], ends, strict=True))

    @property
    def complete(self) -> bool:
        """True once enough kept lines exist for both splits (more lines only move the valid tail)."""
        return self.num_train is None or self.kept >= self.num_train + self.num_valid

    def finish(self) -> dict:
        """Rename the temporary files into place and return the split counts."""
        self._train_file.close()
        if not self.complete:
            self.abort()
            raise SynptError(
                f"only {self.kept} distinct examples for train {self.num_train} + valid {self.num_valid}; "
                "raise --num-examples"
            )
        valid_lines = list(self._tail)[-self.num_valid :] if self.num_valid else []
        if self.valid_path is not None:
            valid_tmp = temp_path(self.valid_path)
            with open(valid_tmp, "wb") as handle:
                handle.writelines(valid_lines)
        os.replace(self._train_tmp, self.train_path)
        if self.valid_path is not None:
            os.replace(valid_tmp, self.valid_path)
        return {
            "generated": self.generated,
            "duplicates_removed": self.generated - self.kept,
            "train": self.written_train,
            "valid": len(valid_lines),
            "dropped_between": self.kept - self.written_train - len(valid_lines),
        }

    def abort(self) -> None:
        """Close and delete the temporary files (the final files are left as they were)."""
        self._train_file.close()
        for path in (self.train_path, self.valid_path):
            if path is not None:
                temp_path(path).unlink(missing_ok=True)
