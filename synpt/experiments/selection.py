"""Checkpoint-selection rules over a run's `metrics.jsonl`.

Why a module of its own: the paper's numbers are not "the last checkpoint" but the one picked by a rule
(reference §4.7, quirk 23), and the rule must be the same whether it runs inside `synpt finetune`, in
`synpt report`, or in the pre-training script's `mas` / `99` options.

* Fine-tuning (reference `max_valid_acc_metric.py`): the eval step with the maximum teacher-forced validation
  token accuracy, the earliest step on ties, and the decoded metrics logged at that same step.
* Pre-training: "step of max validation accuracy" and "first step with validation accuracy >= 0.99".

A resumed run may log the same step twice (the eval before an interruption and again after the restart from an
earlier checkpoint); the latest line for a step wins, because it belongs to the run that produced the checkpoint
that is kept.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from synpt.errors import SynptError


@dataclass(frozen=True)
class Selection:
    """The selected eval step, its teacher-forced validation accuracy, and the decoded metrics logged there."""

    step: int
    valid_accuracy: float
    metrics: dict[str, float] = field(default_factory=dict)


def _latest_per_step(records: list[dict], event: str, key: str | None = None) -> dict[int, dict]:
    """step -> the last record of `event` at that step (optionally only records that carry `key`)."""
    by_step: dict[int, dict] = {}
    for record in records:
        if record.get("event") == event and (key is None or key in record):
            by_step[int(record["step"])] = record
    return by_step


def validation_accuracy(records: list[dict]) -> dict[int, float]:
    """step -> teacher-forced validation accuracy, in step order (NaN values are dropped: they never win)."""
    evals = _latest_per_step(records, "eval", "accuracy")
    return {
        step: float(evals[step]["accuracy"]) for step in sorted(evals) if not math.isnan(float(evals[step]["accuracy"]))
    }


def inference_metrics(records: list[dict]) -> dict[int, dict[str, float]]:
    """step -> decoded metrics logged by the inference eval (`on_eval`), in step order."""
    inferences = _latest_per_step(records, "inference")
    return {
        step: {k: float(v) for k, v in inferences[step].items() if k not in ("event", "step") and _is_number(v)}
        for step in sorted(inferences)
    }


def _is_number(value) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def select_best_validation_step(records: list[dict], *, require_metrics: bool = True) -> Selection:
    """The paper's fine-tuning rule: max validation accuracy, earliest step on ties, decoded metrics at that step.

    With `require_metrics`, a selected step without an inference record is an error (the reported number would
    be missing); otherwise its metrics are empty.
    """
    accuracy = validation_accuracy(records)
    if not accuracy:
        raise SynptError("no teacher-forced validation eval was logged yet; train past the first eval period")
    best = max(accuracy.values())
    step = min(s for s, a in accuracy.items() if a == best)
    metrics = inference_metrics(records).get(step)
    if metrics is None and require_metrics:
        raise SynptError(f"step {step} has the best validation accuracy but no decoded metrics were logged there")
    return Selection(step=step, valid_accuracy=best, metrics=metrics or {})


def max_accuracy_step(records: list[dict]) -> int:
    """Pre-training selector "mas": the step of maximum validation accuracy (earliest on ties)."""
    return select_best_validation_step(records, require_metrics=False).step


def first_step_reaching(records: list[dict], threshold: float = 0.99) -> int | None:
    """Pre-training selector "99": the first eval step whose validation accuracy is >= `threshold` (None if none)."""
    return next((step for step, acc in validation_accuracy(records).items() if acc >= threshold), None)
