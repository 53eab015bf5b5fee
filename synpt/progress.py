"""How long-running work shows progress, decided in one place: bars on a terminal, plain lines elsewhere.

Why a policy module: training, its teacher-forced evals and its decoding all report progress, and each must behave
the same way: a tqdm bar when stderr is a terminal; when it is not (a log file, a pipe, a batch job), no bar
redraws but one plain line every `PLAIN_INTERVAL_S` seconds (and a last one for work that lasted that long);
nothing at all with `--no-progress` (enabled=False). Log lines go through `write`, which keeps bars intact.
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Protocol, TextIO, TypeVar

PLAIN_INTERVAL_S = 30.0
T = TypeVar("T")


class Progress(Protocol):
    def update(self, n: int = 1) -> None: ...

    def set_postfix_str(self, text: str) -> None: ...

    def close(self) -> None: ...


class _Silent:
    def update(self, n: int = 1) -> None:
        pass

    def set_postfix_str(self, text: str) -> None:
        pass

    def close(self) -> None:
        pass


class PlainProgress:
    """Progress as occasional plain lines, `[desc] 40/100 step (40%), 1m05s | postfix`, for non-terminals."""

    def __init__(
        self,
        total: int | None,
        desc: str,
        unit: str,
        *,
        initial: int = 0,
        stream: TextIO | None = None,
        interval: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.total, self.desc, self.unit, self.n = total, desc, unit, initial
        self.stream, self.clock = stream or sys.stderr, clock
        self.interval = PLAIN_INTERVAL_S if interval is None else interval
        self.started = self.last_line = clock()
        self.postfix = ""

    def update(self, n: int = 1) -> None:
        self.n += n
        if self.clock() - self.last_line >= self.interval:
            self._line()

    def set_postfix_str(self, text: str) -> None:
        self.postfix = text

    def close(self) -> None:
        if self.last_line > self.started:  # it printed before: say where it ended
            self._line()

    def _line(self) -> None:
        self.last_line = self.clock()
        percent = f" ({100 * self.n / self.total:.0f}%)" if self.total else ""
        done = f"{self.n}/{self.total}" if self.total is not None else f"{self.n}"
        postfix = f" | {self.postfix}" if self.postfix else ""
        elapsed = format_duration(self.last_line - self.started)
        print(f"[{self.desc}] {done} {self.unit}{percent}, {elapsed}{postfix}", file=self.stream)
        self.stream.flush()


def bar(
    total: int | None,
    desc: str,
    unit: str,
    *,
    enabled: bool = True,
    initial: int = 0,
    leave: bool = True,
    unit_scale: bool = False,
) -> Progress:
    """A progress display for `total` units of work (None: unknown) under the policy above (`leave=False`: a
    nested bar, such as an eval inside training, that disappears when done; `unit_scale`: 1.2M rather than
    1200000 on a terminal bar)."""
    if not enabled:
        return _Silent()
    if sys.stderr.isatty():
        from tqdm.auto import tqdm

        return tqdm(
            total=total, initial=initial, desc=desc, unit=unit, leave=leave, dynamic_ncols=True, unit_scale=unit_scale
        )
    return PlainProgress(total, desc, unit, initial=initial)


def iterate(items: Iterable[T], total: int, desc: str, unit: str, *, enabled: bool = True) -> Iterator[T]:
    """`items`, advancing a nested `bar` by one per item."""
    display = bar(total, desc, unit, enabled=enabled, leave=False)
    try:
        for item in items:
            yield item
            display.update(1)
    finally:
        display.close()


def write(message: str) -> None:
    """Print a line without breaking a bar that is being drawn."""
    from tqdm.auto import tqdm

    tqdm.write(message)


def format_duration(seconds: float) -> str:
    """`42s`, `3m05s`, `2h07m`."""
    seconds = max(0, round(seconds))
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"
