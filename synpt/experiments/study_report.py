"""A finished study's report: pre-training plateaus, the statistics and verdicts (evidence.py), and its files.

Writes into OUT: tables.md (what is printed), tables.json (every number), runs.csv (one line per fine-tuning
run) and benefit.png (% of natural benefit per row with its 95 % CI, one panel per task).
"""

from __future__ import annotations

import json
from pathlib import Path

from synpt.experiments import evidence
from synpt.experiments.plots import plot_benefit
from synpt.experiments.report import find_results
from synpt.experiments.study import PRETRAIN_SEED, pretrain_summaries
from synpt.experiments.study_spec import StudySpec


def _pretrain_lines(summaries: list[dict]) -> list[str]:
    lines = [f"Pre-training (once per row, seed {PRETRAIN_SEED}):\n"]
    for s in summaries:
        accuracy = "—" if s.get("valid_accuracy") is None else f"{s['valid_accuracy']:.4f}"
        loss = "—" if s.get("valid_loss") is None else f"{s['valid_loss']:.4f}"
        lines.append(
            f"- {s['label']} ({s['task']}): stopped at step {s['step']} of at most {s['max_steps']}: {s['stopped']}; "
            f"validation accuracy {accuracy}, loss {loss}"
        )
    return [*lines, ""]


def write_study_report(spec: StudySpec, out: str | Path) -> str:
    """Analyse the study's runs, write its files, and return the markdown."""
    out = Path(out)
    results = find_results([out / "finetune"])
    metrics = {task.name: [evidence.VALID_ACCURACY, *task.metrics] for task in spec.tasks}
    analysis = evidence.analyse(results, metrics, row_order=[row.label for row in spec.rows])
    markdown = "\n".join([*_pretrain_lines(pretrain_summaries(spec, out)), evidence.to_markdown(analysis)])
    (out / "tables.md").write_text(markdown + "\n", encoding="utf-8")
    record = {
        "spec": spec.to_json(),
        "pretrain": pretrain_summaries(spec, out),
        "statistics": evidence.to_json(analysis),
    }
    (out / "tables.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
    evidence.write_runs_csv(results, out / "runs.csv")
    plot_benefit(analysis, out)
    return markdown
