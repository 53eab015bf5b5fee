"""Progress policy: bars only on a terminal, plain periodic lines elsewhere, nothing when disabled; the train
ETA counts the evals left; compilation is measured apart."""

from __future__ import annotations

import io

import jax
import jax.numpy as jnp

from synpt import progress
from synpt.train.compile_time import compile_seconds
from synpt.train.config import TrainConfig
from synpt.train.trainer import _TimeLeft


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_plain_progress_prints_a_line_per_interval_and_where_it_ended():
    clock, stream = FakeClock(), io.StringIO()
    display = progress.PlainProgress(10, "eval", "batch", stream=stream, interval=30, clock=clock)
    display.update(3)
    assert stream.getvalue() == ""  # within the first interval: quiet
    clock.now = 31
    display.set_postfix_str("eta 1m")
    display.update(2)
    clock.now = 95
    display.update(5)
    display.close()
    assert stream.getvalue().splitlines() == [
        "[eval] 5/10 batch (50%), 31s | eta 1m",
        "[eval] 10/10 batch (100%), 1m35s | eta 1m",
        "[eval] 10/10 batch (100%), 1m35s | eta 1m",
    ]
    quick = progress.PlainProgress(4, "decoding", "batch", stream=stream, clock=FakeClock())
    quick.update(4)
    quick.close()  # never printed: no closing line either
    assert "decoding" not in stream.getvalue()


def test_plain_progress_of_unknown_total_counts_without_a_percentage():
    clock, stream = FakeClock(), io.StringIO()
    display = progress.PlainProgress(None, "f.txt", "B", stream=stream, interval=1, clock=clock)
    clock.now = 2
    display.update(4096)
    assert stream.getvalue().splitlines() == ["[f.txt] 4096 B, 2s"]


def test_bar_policy_off_terminal_and_disabled(capsys, monkeypatch):
    monkeypatch.setattr(progress, "PLAIN_INTERVAL_S", 0.0)
    assert list(progress.iterate(range(3), 3, "eval", "batch", enabled=False)) == [0, 1, 2]
    assert capsys.readouterr().err == ""  # --no-progress: nothing at all
    assert list(progress.iterate(range(2), 2, "eval", "batch")) == [0, 1]
    err = capsys.readouterr().err  # pytest's stderr is no terminal: plain lines, no tqdm redraws
    assert "[eval] 1/2 batch (50%)" in err and "\r" not in err
    assert isinstance(progress.bar(5, "train", "step"), progress.PlainProgress)


def test_format_duration():
    assert [progress.format_duration(s) for s in (4.4, 65, 7260)] == ["4s", "1m05s", "2h01m"]


class RecordingBar:
    def __init__(self):
        self.postfix = None

    def set_postfix_str(self, text: str) -> None:
        self.postfix = text


def test_time_left_counts_the_evals_left():
    bar = RecordingBar()
    time_left = _TimeLeft(TrainConfig(steps=10, eval_period=4), bar)
    assert [time_left.evals_left(step) for step in (0, 4, 8, 9, 10)] == [3, 2, 1, 1, 0]
    time_left.train_period(2, 1.0)
    assert bar.postfix == "eta 8s + 3 evals"  # no eval timed yet
    time_left.eval_done(4, 20.0)
    assert bar.postfix == "eta 46s incl. 2 evals"  # 6 steps x 1 s + 2 evals x 20 s


def test_compile_seconds_grow_when_something_compiles():
    before = compile_seconds()
    jax.jit(lambda x: x * 3 + 1)(jnp.ones(7)).block_until_ready()
    middle = compile_seconds()
    jax.jit(lambda x: x * 3 + 1)  # nothing compiled
    assert middle > before and compile_seconds() == middle
