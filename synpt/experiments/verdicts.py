"""The paper's findings and the rules that turn a study's intervals into one-line verdicts.

The rules (docs/experiments.md, "Studies"):

* Precondition of every "% of natural benefit" finding: the paired difference natural - Random Init must have a 95 %
  interval that lies above 0. Otherwise the verdict is "inconclusive (no measurable natural benefit: CI lo..hi)",
  whatever the row's own interval says: a share of nothing is not evidence.
* A share finding is "reproduced" when the row's bootstrap interval of the % of benefit lies above 0, "not
  reproduced" when it lies at or below 0, else "inconclusive (CI lo..hi)". The line also says whether the paper's
  number lies inside the interval (a share can be reproduced, i.e. positive, yet smaller than the paper's).
* The layer-norm finding is a paired difference, LN row - Random Init: "reproduced" when its interval lies above 0,
  "not reproduced" when at or below 0, else "inconclusive (CI lo..hi)"; a difference of exactly 0 on every seed
  (e.g. exact match 0 for every run) is inconclusive. It needs no natural row.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from synpt.experiments.stats import Benefit, Interval

SET_TASK = "set"
LIME_TASK = "lime"
STATISTICS_SCHEMES = ("per_param_grouping___init_scale", "per_param_grouping___init_mean_std")


@dataclass(frozen=True)
class Finding:
    """One claim of the paper: its sentence, the paper's number, which rows test it, and how."""

    claim: str
    paper: str  # the paper's number, shown beside the verdict
    paper_percent: float | None  # for share findings: is it inside the interval?
    kind: str  # "share" (bootstrap % of benefit) or "difference" (paired difference vs Random Init)
    matches: Callable[[dict], bool]  # on a run's results.json


def _transfer_from(task: str) -> Callable[[dict], bool]:
    return lambda data: bool(data.get("transfer")) and not data.get("init_scheme") and _pretrain_task(data) == task


def _pretrain_task(data: dict) -> str | None:
    return (data.get("ckpt_info") or {}).get("pretrain_task")


FINDINGS = (
    Finding(
        "Set pre-training gives a share of natural pre-training's benefit", "65 %", 65.0, "share",
        _transfer_from(SET_TASK),
    ),
    Finding(
        "LIME pre-training gives a share of natural pre-training's benefit", "67 %", 67.0, "share",
        _transfer_from(LIME_TASK),
    ),
    Finding(
        "Per Param Scale statistics give a share", "39 %, Per Param Mean/SD", 39.0, "share",
        lambda data: data.get("init_scheme") in STATISTICS_SCHEMES,
    ),
    Finding(
        "a constant pre-attention LN 0.4 helps vs Random Init", "Table 3", None, "difference",
        lambda data: data.get("pre_attn_ln_value") is not None and not data.get("transfer")
        and not data.get("init_scheme"),
    ),
)  # fmt: skip


def share_verdict(natural_gain: Interval, benefit: Benefit, paper_percent: float | None, digits: int = 2) -> str:
    """The verdict of a % of benefit finding (rules in the module docstring)."""
    if not natural_gain.above(0.0):
        return f"inconclusive (no measurable natural benefit: CI {natural_gain.text(digits)})"
    interval = benefit.interval
    if interval.above(0.0):
        verdict = "reproduced"
    elif interval.at_or_below(0.0):
        verdict = "not reproduced"
    else:
        return f"inconclusive (CI {interval.text(1)})" + _paper_inside(interval, paper_percent)
    return f"{verdict} (CI {interval.text(1)})" + _paper_inside(interval, paper_percent)


def _paper_inside(interval: Interval, paper_percent: float | None) -> str:
    if paper_percent is None or interval.low is None:
        return ""
    where = "inside" if interval.contains(paper_percent) else "outside"
    return f"; the paper's {paper_percent:g} % is {where} the CI"


def difference_verdict(difference: Interval, digits: int = 2) -> str:
    """The verdict of a paired-difference finding (row - Random Init)."""
    if difference.low == difference.high == 0.0:
        return "inconclusive (the same score on every seed: the metric does not separate the rows)"
    if difference.above(0.0):
        return f"reproduced (difference CI {difference.text(digits)})"
    if difference.at_or_below(0.0):
        return f"not reproduced (difference CI {difference.text(digits)})"
    return f"inconclusive (CI {difference.text(digits)})"
