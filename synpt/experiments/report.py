"""The paper's tables from fine-tuning runs: scores, mean ± SD over seeds, and "% of the natural benefit".

Why results.json and not the logs: each run already applied the selection rule (best validation accuracy, decoded
metric at that step) when it finished, so a table is a pure function of the runs' results.json files, which are
small, versioned and easy to copy around.

Rows (what the fine-tuned model was initialised from):

* Random Init: `init == "from_scratch"` with no statistics scheme and no custom layer-norm value;
* Table 1: weights transferred from a checkpoint (`init` `all` / `all_but_embedding`), labelled by the
  checkpoint's pre-training task (or its directory name) and the transfer mode;
* Table 2: a statistics init scheme, labelled "scheme ← checkpoint";
* Table 3: random init with a custom pre-attention layer-norm value;
* natural rows (the "pre-trained on natural language" reference) are the runs whose results.json says
  `"natural": true` (`synpt finetune --natural`) or whose row label is named with `--natural-row`.

Random Init and the natural rows are repeated at the top of every table, because every table's "% of benefit"
is measured against them (reference §1.3): 100 · (score − random) / (natural − random), per task, then averaged
over tasks ("mean of per-task %"); the "% of averaged scores" column is the ratio of the averaged scores instead
(the paper's aggregation is uncertain, so both are shown).
"""

from __future__ import annotations

import csv
import json
import statistics
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from synpt.errors import SynptError
from synpt.init.schemes import SCHEMES

RESULTS_FILE = "results.json"
RANDOM_ROW = "Random Init"
# The paper's column order; other tasks (e.g. the offline g2p demo task) follow alphabetically.
PAPER_TASK_ORDER = (
    "cnndm_10k", "code_translation", "mtop", "retrosynthesis", "squad_v010_allanswers", "squad", "webqsp"
)  # fmt: skip
TABLES = (
    ("table1", "Table 1: what the model was initialised from"),
    ("table2", "Table 2: statistics-only initialisation schemes"),
    ("table3", "Table 3: random init with a custom pre-attention layer-norm value"),
)


@dataclass(frozen=True)
class RunResult:
    """One fine-tuning run's results.json and where it was found."""

    path: Path
    data: dict

    @property
    def task(self) -> str:
        return self.data["task"]

    @property
    def score(self) -> float:
        return float(self.data["score"])

    def metric(self, name: str | None) -> float:
        """The paper metric (`name=None`) or another decoded metric logged at the selected step."""
        if name is None:
            return self.score
        metrics = self.data.get("test_metrics", {})
        if name not in metrics:
            raise SynptError(
                f"{self.path}: no metric {name!r} at the selected step; it has {', '.join(sorted(metrics))}"
            )
        return float(metrics[name])


def find_results(run_dirs: Iterable[str | Path]) -> list[RunResult]:
    """Every results.json under the given directories (searched recursively), sorted by path."""
    found: dict[Path, RunResult] = {}
    for run_dir in map(Path, run_dirs):
        if run_dir.is_file() and run_dir.name == RESULTS_FILE:
            candidates = [run_dir]
        elif run_dir.is_dir():
            candidates = sorted(run_dir.rglob(RESULTS_FILE))
        else:
            raise SynptError(f"{run_dir}: no such run directory")
        for path in candidates:
            try:
                data = json.loads(path.read_text(encoding="utf-8"))
            except json.JSONDecodeError as err:
                raise SynptError(f"{path}: not valid JSON ({err}); delete it and re-run the fine-tuning") from None
            missing = [key for key in ("task", "init", "score") if key not in data]
            if missing:
                raise SynptError(f"{path}: missing field(s) {', '.join(missing)}; not a synpt finetune results.json")
            found[path.resolve()] = RunResult(path, data)
    return [found[p] for p in sorted(found)]


def _scheme_name(init_id: str) -> str:
    """The paper's name of a statistics scheme (its id when unknown, e.g. a scheme added after this code)."""
    return SCHEMES[init_id].paper_name if init_id in SCHEMES else init_id


def classify(data: dict) -> tuple[str, str]:
    """(table id, row label) of a results.json; Random Init's table id is "reference"."""
    if data.get("row"):
        label = str(data["row"])
    else:
        parts = []
        if data.get("init_scheme"):
            parts.append(f"{_scheme_name(data['init_scheme'])} ← {data.get('ckpt_label')}")
        if data.get("transfer"):
            parts.append(f"{data.get('ckpt_label')} [{data['transfer']}]")
        if data.get("pre_attn_ln_value") is not None:
            parts.append(f"pre-attn LN = {float(data['pre_attn_ln_value']):g}")
        label = " + ".join(parts) or RANDOM_ROW
    if label == RANDOM_ROW:
        return "reference", label
    if data.get("init_scheme"):
        return "table2", label
    if data.get("transfer"):
        return "table1", label
    return "table3", label


@dataclass
class Cell:
    """Scores of one (row, task): mean, sample SD (ddof=1, None for one seed), count, and % of benefit."""

    scores: list[float]
    benefit: float | None = None

    @property
    def mean(self) -> float:
        return statistics.fmean(self.scores)

    @property
    def sd(self) -> float | None:
        return statistics.stdev(self.scores) if len(self.scores) > 1 else None


@dataclass
class Row:
    label: str
    role: str  # "random", "natural" or "method"
    cells: dict[str, Cell] = field(default_factory=dict)
    average: float | None = None
    average_tasks: int = 0
    benefit_mean: float | None = None
    benefit_of_averages: float | None = None


@dataclass
class Table:
    name: str
    title: str
    tasks: list[str]
    rows: list[Row]


def task_order(tasks: Iterable[str]) -> list[str]:
    tasks = set(tasks)
    return [t for t in PAPER_TASK_ORDER if t in tasks] + sorted(tasks - set(PAPER_TASK_ORDER))


def benefit_percent(score: float, random: float, natural: float) -> float | None:
    """100 · (score − random) / (natural − random); None when natural equals random (no benefit to measure)."""
    gap = natural - random
    return None if gap == 0 else 100.0 * (score - random) / gap


def build_tables(
    results: Sequence[RunResult], natural_rows: Sequence[str] = (), *, metric: str | None = None
) -> list[Table]:
    """Group runs into rows of Tables 1–3 and compute averages and % of benefit; empty tables are left out.

    Cells are each run's paper metric, or the decoded metric `metric` (e.g. "f1") at the same selected step.
    """
    grouped: dict[tuple[str, str], dict[str, list[float]]] = {}
    natural_labels = list(natural_rows)
    for result in results:
        table, label = classify(result.data)
        if result.data.get("natural"):
            table = "reference"
            if label not in natural_labels:
                natural_labels.append(label)
        elif label in natural_rows:
            table = "reference"
        grouped.setdefault((table, label), {}).setdefault(result.task, []).append(result.metric(metric))
    unknown = [name for name in natural_rows if ("reference", name) not in grouped]
    if unknown:
        known = sorted(label for _, label in grouped)
        raise SynptError(f"--natural-row {unknown[0]!r} matches no run; row labels are: {', '.join(known)}")

    def make_row(table: str, label: str, role: str) -> Row:
        return Row(label, role, {task: Cell(scores) for task, scores in grouped[(table, label)].items()})

    references = []
    if ("reference", RANDOM_ROW) in grouped:
        references.append(make_row("reference", RANDOM_ROW, "random"))
    references += [make_row("reference", label, "natural") for label in natural_labels]
    random_row = references[0] if references and references[0].role == "random" else None
    naturals = [row for row in references if row.role == "natural"]

    tables = []
    for name, title in TABLES:
        methods = [make_row(t, label, "method") for (t, label) in sorted(grouped) if t == name]
        if not methods:
            continue
        rows = references + methods
        tasks = task_order(task for row in rows for task in row.cells)
        for row in rows:
            _fill_summary(row, tasks, random_row, naturals)
        tables.append(Table(name, title, tasks, rows))
    if not tables and references:
        rows = references
        tasks = task_order(task for row in rows for task in row.cells)
        for row in rows:
            _fill_summary(row, tasks, random_row, naturals)
        tables.append(Table("references", "Reference rows only (no method runs found)", tasks, rows))
    return tables


def _fill_summary(row: Row, tasks: list[str], random_row: Row | None, naturals: list[Row]) -> None:
    present = [task for task in tasks if task in row.cells]
    row.average_tasks = len(present)
    row.average = statistics.fmean(row.cells[t].mean for t in present) if present else None
    if random_row is None or not naturals:
        return
    comparable = []
    for task in present:
        natural = next((n for n in naturals if task in n.cells), None)
        if natural is None or task not in random_row.cells:
            continue
        random_mean, natural_mean = random_row.cells[task].mean, natural.cells[task].mean
        row.cells[task].benefit = benefit_percent(row.cells[task].mean, random_mean, natural_mean)
        comparable.append((row.cells[task].mean, random_mean, natural_mean))
    benefits = [row.cells[t].benefit for t in present if row.cells[t].benefit is not None]
    row.benefit_mean = statistics.fmean(benefits) if benefits else None
    if comparable:
        means = [statistics.fmean(column) for column in zip(*comparable, strict=True)]
        row.benefit_of_averages = benefit_percent(*means)


def _fmt(value: float | None, digits: int = 2) -> str:
    return "—" if value is None else f"{value + 0.0:.{digits}f}"  # + 0.0 turns -0.0 into 0.0


def _score_text(cell: Cell | None) -> str:
    if cell is None:
        return "—"
    if cell.sd is None:
        return _fmt(cell.mean)
    return f"{cell.mean:.2f} ± {cell.sd:.2f} (n={len(cell.scores)})"


def _row_name(row: Row, reference_name: str) -> str:
    if row.role == "method":
        return row.label
    return f"{row.label} ({reference_name if row.role == 'natural' else row.role})"


def to_markdown(
    tables: Sequence[Table], metric_names: dict[str, str] | None = None, *, reference_name: str = "natural"
) -> str:
    """Two markdown tables per paper table: scores (mean ± SD over seeds) and % of the natural benefit.

    `reference_name` names the 100 % rows (e.g. when they are not natural pre-training, as in the quickstart).
    """
    metric_names = metric_names or {}
    out = []
    for table in tables:
        header = [f"{task} ({metric_names[task]})" if task in metric_names else task for task in table.tasks]
        out.append(f"### {table.title}\n")
        out.append("| row | " + " | ".join(header) + " | average |")
        out.append("|---" * (len(header) + 2) + "|")
        partial = False
        for row in table.rows:
            average = _fmt(row.average)
            if row.average is not None and row.average_tasks < len(table.tasks):
                average += "*"
                partial = True
            cells = [_score_text(row.cells.get(task)) for task in table.tasks]
            out.append(f"| {_row_name(row, reference_name)} | " + " | ".join(cells) + f" | {average} |")
        if partial:
            out.append("\n\\* averaged over the tasks this row has, not all columns.")
        if any(row.role == "random" for row in table.rows) and any(row.role == "natural" for row in table.rows):
            out.append(f"\n% of benefit = 100 · (score − random) / ({reference_name} − random)\n")
            out.append("| row | " + " | ".join(table.tasks) + " | mean of per-task % | % of averaged scores |")
            out.append("|---" * (len(table.tasks) + 3) + "|")
            for row in table.rows:
                cells = [_fmt(row.cells[t].benefit, 1) if t in row.cells else "—" for t in table.tasks]
                out.append(
                    f"| {_row_name(row, reference_name)} | "
                    + " | ".join(cells)
                    + f" | {_fmt(row.benefit_mean, 1)} | {_fmt(row.benefit_of_averages, 1)} |"
                )
        else:
            out.append("\n(no % of benefit: needs a Random Init row and a natural row; see `synpt report --help`)")
        out.append("")
    return "\n".join(out)


def to_json(tables: Sequence[Table]) -> dict:
    return {
        "tables": [
            {
                "name": table.name,
                "title": table.title,
                "tasks": table.tasks,
                "rows": [
                    {
                        "label": row.label,
                        "role": row.role,
                        "cells": {
                            task: {"mean": c.mean, "sd": c.sd, "n": len(c.scores), "scores": c.scores}
                            | {"benefit": c.benefit}
                            for task, c in row.cells.items()
                        },
                        "average": row.average,
                        "average_tasks": row.average_tasks,
                        "benefit_mean": row.benefit_mean,
                        "benefit_of_averages": row.benefit_of_averages,
                    }
                    for row in table.rows
                ],
            }
            for table in tables
        ]
    }


def write_csv(tables: Sequence[Table], path: Path) -> None:
    """One long-format CSV: a line per (table, row, task) plus an "average" line per row."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(["table", "row", "role", "task", "mean", "sd", "n", "benefit_percent"])
        for table in tables:
            for row in table.rows:
                for task in table.tasks:
                    if task in row.cells:
                        c = row.cells[task]
                        writer.writerow([table.name, row.label, row.role, task, c.mean, c.sd, len(c.scores), c.benefit])
                writer.writerow(
                    [table.name, row.label, row.role, "average", row.average, None, row.average_tasks, row.benefit_mean]
                )


def metric_names(results: Sequence[RunResult], metric: str | None = None) -> dict[str, str]:
    """task -> the metric its cells show: `metric`, else the paper metric (em, rouge1, ...) the runs recorded."""
    return {r.task: metric or r.data["paper_metric"] for r in results if metric or r.data.get("paper_metric")}
