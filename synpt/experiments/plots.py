"""Validation curves per task: teacher-forced accuracy and the decoded paper metric against the step.

Why these two curves: the selection rule picks the step of best validation accuracy and reports the decoded metric
there, so seeing both curves side by side shows whether the rule picked a sensible point and how much each init
changes the speed of fine-tuning (the paper's runs overfit heavily).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from synpt.experiments.report import RunResult, classify, task_order
from synpt.experiments.selection import inference_metrics, validation_accuracy
from synpt.train.logging import read_metrics


def plot_validation_curves(results: Sequence[RunResult], out_dir: str | Path, metric: str | None = None) -> list[Path]:
    """Write `curves_<task>.png` under `out_dir` for every task with runs; returns the written paths.

    The right panel shows `metric`, or each task's paper metric.

    Runs without a metrics.jsonl beside their results.json are skipped (results copied without logs).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    written = []
    for task in task_order({r.task for r in results}):
        runs = [r for r in results if r.task == task and (r.path.parent / "metrics.jsonl").is_file()]
        if not runs:
            continue
        figure, (acc_axis, metric_axis) = plt.subplots(1, 2, figsize=(11, 4))
        shown = metric or runs[0].data.get("paper_metric", "score")
        for run in runs:
            records = read_metrics(run.path.parent)
            label = f"{classify(run.data)[1]} (seed {run.data.get('seed', '?')})"
            accuracy = validation_accuracy(records)
            (line,) = acc_axis.plot(list(accuracy), list(accuracy.values()), marker=".", label=label)
            decoded = {step: m[shown] for step, m in inference_metrics(records).items() if shown in m}
            metric_axis.plot(list(decoded), list(decoded.values()), marker=".", color=line.get_color(), label=label)
            best = run.data.get("best_step")
            if best in decoded:
                metric_axis.plot([best], [decoded[best]], marker="*", markersize=12, color=line.get_color())
        acc_axis.set(title=f"{task}: teacher-forced validation accuracy", xlabel="step", ylabel="token accuracy")
        metric_axis.set(title=f"{task}: decoded {shown} (★ = selected step)", xlabel="step", ylabel=shown)
        acc_axis.legend(fontsize=7)
        figure.tight_layout()
        path = out_dir / f"curves_{task}.png"
        figure.savefig(path, dpi=110)
        plt.close(figure)
        written.append(path)
    return written


def benefit_series(analysis, task: str) -> tuple[list, list[str]]:
    """The metrics of `task` that `benefit.png` plots, and a note for each one it leaves out.

    Why leave some out: a % of benefit divides by natural - Random Init, so on a metric where that difference's
    interval does not lie above 0 (decoded scores at their floor, e.g. exact match 0 for every run) the percentages
    are noise around a division by ~0 (thousands of %), and drawn beside a measurable metric they squash its scale.
    """
    plotted, notes = [], []
    for item in analysis:
        if item.task != task or item.natural is None:
            continue
        if item.natural_gain is not None and item.natural_gain.above(0.0):
            plotted.append(item)
        else:
            shown = f"CI {item.natural_gain.text()}" if item.natural_gain is not None else "one seed"
            notes.append(f"{item.metric}: not plotted, no measurable natural benefit ({shown})")
    return plotted, notes


def plot_benefit(analysis, out_dir: str | Path) -> Path | None:
    """`benefit.png`: % of natural benefit per row with its 95 % bootstrap CI, one panel per task, one marker series
    per metric with a measurable natural benefit (benefit_series; evidence.MetricStats); None when no row has a % of
    benefit."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    tasks = list(dict.fromkeys(item.task for item in analysis if item.natural is not None))
    if not tasks:
        return None
    figure, axes = plt.subplots(1, len(tasks), figsize=(5.5 * len(tasks), 4.2), squeeze=False)
    for axis, task in zip(axes[0], tasks, strict=True):
        items, notes = benefit_series(analysis, task)
        first = next(item for item in analysis if item.task == task and item.natural is not None)
        labels = [row.label for row in first.rows if row.role == "method"]
        for offset, item in enumerate(items):
            rows = {row.label: row for row in item.rows}
            xs, ys, errors = [], [], [[], []]
            for x, label in enumerate(labels):
                interval = rows[label].benefit.interval if label in rows and rows[label].benefit else None
                if interval is None or interval.estimate is None:
                    continue
                low = interval.low if interval.low is not None else interval.estimate
                high = interval.high if interval.high is not None else interval.estimate
                xs.append(x + (offset - (len(items) - 1) / 2) * 0.15)
                ys.append(interval.estimate)
                errors[0].append(interval.estimate - low)
                errors[1].append(high - interval.estimate)
            axis.errorbar(xs, ys, yerr=errors, fmt="o", capsize=4, label=item.metric)
        axis.axhline(0, color="grey", linewidth=0.8)
        axis.axhline(100, color="grey", linewidth=0.8, linestyle="--")
        axis.set_xticks(range(len(labels)), labels, rotation=20, ha="right", fontsize=8)
        axis.set_xlim(-0.5, max(len(labels), 1) - 0.5)
        axis.set(title=f"{task}: % of natural benefit (95 % CI)", ylabel="% of benefit")
        for note in notes:
            axis.plot([], [], " ", label=note)  # a legend line without a marker
        axis.legend(fontsize=7)
    figure.tight_layout()
    path = Path(out_dir) / "benefit.png"
    path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(path, dpi=110)
    plt.close(figure)
    return path
