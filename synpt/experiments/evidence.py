"""A study's evidence from fine-tuning runs: per task and metric, each row's mean with its 95 % CI, its % of the
natural benefit with a paired bootstrap CI, the natural - Random Init precondition, and the findings' verdicts.

Why a module apart from report.py: report.py builds the paper's Tables 1-3 (mean ± SD, as the paper prints them);
this is the statistics that say whether a difference is real. Both read the same results.json files (RunResult),
so `synpt study` and `synpt report` give the same numbers for the same runs.

Metrics: "valid_accuracy" is the teacher-forced validation accuracy at the selected step (less noisy); any other
name is a decoded metric logged at that step (`test_metrics`), e.g. g2p's phoneme F1 `f1`, the headline there.
Pairing is by the `seed` field: seed s of every row shares the data order and the fresh init.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from synpt.errors import SynptError
from synpt.experiments import stats
from synpt.experiments.report import RANDOM_ROW, RunResult, classify, task_order
from synpt.experiments.verdicts import FINDINGS, difference_verdict, share_verdict

VALID_ACCURACY = "valid_accuracy"


def metric_value(result: RunResult, metric: str) -> float:
    """`valid_accuracy`, `score` (the paper metric) or a decoded metric of a run at its selected step."""
    if metric == VALID_ACCURACY:
        return float(result.data["valid_accuracy"])
    if metric in ("score", result.data.get("paper_metric")):
        return result.score  # the paper metric at the selected step
    return result.metric(metric)


def accuracy_if_recorded(results: Sequence[RunResult], task: str) -> list[str]:
    """["valid_accuracy"] when every run of `task` recorded it (results.json of synpt finetune), else []."""
    runs = [r for r in results if r.task == task]
    return [VALID_ACCURACY] if runs and all("valid_accuracy" in r.data for r in runs) else []


def row_label(result: RunResult, natural_rows: Sequence[str] = ()) -> tuple[str, str]:
    """(label, role) of a run: role "random", "natural" or "method"."""
    label = classify(result.data)[1]
    if label == RANDOM_ROW:
        return label, "random"
    return label, "natural" if result.data.get("natural") or label in natural_rows else "method"


@dataclass
class RowStats:
    """A row of one (task, metric): values by seed, mean CI, % of benefit, and the paired difference vs Random Init."""

    label: str
    role: str
    values: dict[int, float]
    runs: list[RunResult] = field(repr=False, default_factory=list)
    mean: stats.Interval | None = None
    benefit: stats.Benefit | None = None
    difference: stats.Interval | None = None  # row - Random Init, paired by seed


@dataclass(frozen=True)
class Verdict:
    claim: str
    paper: str
    row: str
    verdict: str

    def line(self) -> str:
        return f"{self.claim} (paper: {self.paper}) [{self.row}]: {self.verdict}"


@dataclass
class MetricStats:
    task: str
    metric: str
    rows: list[RowStats]
    natural: str | None = None  # the natural row's label
    natural_gain: stats.Interval | None = None  # natural - Random Init, paired
    verdicts: list[Verdict] = field(default_factory=list)


def analyse(
    results: Sequence[RunResult],
    metrics: dict[str, Sequence[str]],
    *,
    natural_rows: Sequence[str] = (),
    row_order: Sequence[str] = (),
) -> list[MetricStats]:
    """The statistics of every (task, metric) in `metrics` (task -> metric names) over `results`.

    Rows follow `row_order`, then Random Init, the natural rows and the others alphabetically.
    """
    out = []
    for task in task_order({r.task for r in results}):
        runs = [r for r in results if r.task == task]
        for metric in metrics.get(task, ()):
            out.append(_analyse_metric(task, metric, runs, natural_rows, row_order))
    return out


def _analyse_metric(task, metric, runs, natural_rows, row_order) -> MetricStats:
    rows: dict[str, RowStats] = {}
    for run in runs:
        label, role = row_label(run, natural_rows)
        row = rows.setdefault(label, RowStats(label, role, {}))
        seed = int(run.data.get("seed", 0))
        if seed in row.values:
            raise SynptError(
                f"{task} row {label!r} has two runs with seed {seed} ({row.runs[0].path.parent} and "
                f"{run.path.parent}); seeds pair the rows, so give each run of a row its own seed"
            )
        row.values[seed] = metric_value(run, metric)
        row.runs.append(run)
    rank = {label: i for i, label in enumerate(row_order)}
    roles = {"random": 0, "natural": 1, "method": 2}
    ordered = sorted(rows.values(), key=lambda r: (rank.get(r.label, len(rank)), roles[r.role], r.label))
    result = MetricStats(task, metric, ordered)
    random = next((r for r in ordered if r.role == "random"), None)
    natural = next((r for r in ordered if r.role == "natural"), None)
    for row in ordered:
        row.mean = stats.mean_interval([row.values[s] for s in sorted(row.values)])
        if random is not None and row is not random:
            seeds = sorted(set(row.values) & set(random.values))
            row.difference = stats.paired_difference([row.values[s] for s in seeds], [random.values[s] for s in seeds])
        if random is not None and natural is not None:
            seeds = sorted(set(row.values) & set(random.values) & set(natural.values))
            row.benefit = stats.bootstrap_benefit(*([r.values[s] for s in seeds] for r in (row, random, natural)))
    if random is not None and natural is not None:
        result.natural, result.natural_gain = natural.label, natural.difference
    result.verdicts = _verdicts(result)
    return result


def _verdicts(result: MetricStats) -> list[Verdict]:
    out = []
    for finding in FINDINGS:
        for row in result.rows:
            if row.role != "method" or not row.runs or not finding.matches(row.runs[0].data):
                continue
            if finding.kind == "difference":
                if row.difference is None:
                    continue
                verdict = difference_verdict(row.difference, _digits(result.metric))
            else:
                if row.benefit is None or result.natural_gain is None:
                    continue
                verdict = share_verdict(result.natural_gain, row.benefit, finding.paper_percent, _digits(result.metric))
            out.append(Verdict(finding.claim, finding.paper, row.label, verdict))
    return out


def _number(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value + 0.0:.{digits}f}"


def _mean_text(interval: stats.Interval, digits: int) -> str:
    if interval.half_width is None:
        return _number(interval.estimate, digits)
    return f"{interval.estimate:.{digits}f} ± {interval.half_width:.{digits}f}"


def _digits(metric: str) -> int:
    """Accuracies are fractions (4 decimals); decoded metrics are percentages (2)."""
    return 4 if metric == VALID_ACCURACY else 2


def _benefit_text(row: RowStats) -> str:
    if row.role == "random":
        return "0 (reference)"
    if row.role == "natural":
        return "100 (reference)"
    if row.benefit is None:
        return "—"
    interval = row.benefit.interval
    text = _number(interval.estimate, 1)
    if interval.low is not None:
        text += f" [{interval.low:.1f}, {interval.high:.1f}]"
    if row.benefit.undefined:
        counts = f"{row.benefit.undefined}/{row.benefit.resamples} resamples"
        left_out = f" ({counts} without natural benefit left out)"
        text += left_out if interval.low is not None else f" (no CI: {counts} had no natural benefit)"
    return text


def _metric_title(metric: str) -> str:
    if metric == VALID_ACCURACY:
        return "teacher-forced validation accuracy at the selected step"
    return f"decoded {metric} at the selected step"


def to_markdown(analysis: Sequence[MetricStats]) -> str:
    """A table per (task, metric): mean ± 95 % CI half-width, n, % of natural benefit [95 % bootstrap CI]; then
    the verdicts."""
    out = []
    for item in analysis:
        digits = _digits(item.metric)
        out.append(f"#### {item.task} · {item.metric} ({_metric_title(item.metric)})\n")
        if item.natural_gain is not None:
            gain = item.natural_gain
            out.append(
                f"natural ({item.natural}) minus Random Init, paired over {gain.n} seeds: "
                f"{_number(gain.estimate, digits)}, 95 % CI {gain.text(digits)}\n"
            )
        out.append("| row | mean ± 95 % CI | n | % of natural benefit [95 % CI] |")
        out.append("|---|---|---|---|")
        for row in item.rows:
            out.append(f"| {row.label} | {_mean_text(row.mean, digits)} | {row.mean.n} | {_benefit_text(row)} |")
        out.append("")
    lines = [f"- {item.task} · {item.metric}: {v.line()}" for item in analysis for v in item.verdicts]
    if lines:
        out += ["### Verdicts\n", *lines, ""]
    return "\n".join(out)


def _interval_json(interval: stats.Interval | None) -> dict | None:
    if interval is None:
        return None
    return {"estimate": interval.estimate, "low": interval.low, "high": interval.high, "n": interval.n}


def to_json(analysis: Sequence[MetricStats]) -> list[dict]:
    return [
        {
            "task": item.task,
            "metric": item.metric,
            "natural": item.natural,
            "natural_minus_random": _interval_json(item.natural_gain),
            "rows": [
                {
                    "label": row.label,
                    "role": row.role,
                    "values_by_seed": {str(s): v for s, v in sorted(row.values.items())},
                    "mean": _interval_json(row.mean),
                    "minus_random": _interval_json(row.difference),
                    "benefit_percent": None
                    if row.benefit is None
                    else _interval_json(row.benefit.interval)
                    | {"resamples": row.benefit.resamples, "undefined": row.benefit.undefined},
                }
                for row in item.rows
            ],
            "verdicts": [v.__dict__ for v in item.verdicts],
        }
        for item in analysis
    ]


def write_runs_csv(results: Iterable[RunResult], path: Path, natural_rows: Sequence[str] = ()) -> None:
    """One line per run: task, row, role, seed, path, selected step, valid_accuracy, score, every decoded metric."""
    results = list(results)
    metric_names = sorted({name for r in results for name in r.data.get("test_metrics", {})})
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["task", "row", "role", "seed", "path", "best_step", "valid_accuracy", "paper_metric", "score"]
            + metric_names
        )
        for result in results:
            label, role = row_label(result, natural_rows)
            metrics = result.data.get("test_metrics", {})
            writer.writerow(
                [result.task, label, role, result.data.get("seed"), str(result.path.parent)]
                + [result.data.get(key) for key in ("best_step", "valid_accuracy", "paper_metric", "score")]
                + [metrics.get(name) for name in metric_names]
            )
