"""Pre-training one study row until its task is learnt: `pretrain_until_plateau(row, model, out, seed)`.

Why a plateau and not a fixed step count: the paper pre-trains until the synthetic task is learnt, and a row
stopped half-way (the old quickstart's Set stopped at 0.33 validation accuracy) says little about the task.
Synthetic rows stop when the teacher-forced validation accuracy reaches 0.99 or stops improving; the natural row
stops when the validation loss stops falling. The run's `plateau.json` records where and why it stopped, and marks
the row as finished for a resumed study.
"""

from __future__ import annotations

import itertools
import json
from pathlib import Path
from typing import Any

from synpt.atomic import write_json_atomic
from synpt.experiments.profiles import ACCURACY_PLATEAU, PretrainRow

PLATEAU_FILE = "plateau.json"
LEARNT_ACCURACY = 0.99
EXTRA_IDS = range(32000, 32100)  # separators and special targets of the synthetic tasks


class CompactIds:
    """Relabel the ids a pool-restricted synthetic task can emit to 0..n-1 (pad 0 and EOS 1 unchanged).

    Why: with `pool_size=64` the Set task uses ~170 distinct ids, but they are spread over the T5 range, so a model
    would need a 32,128-row softmax, which is most of a tiny model's CPU time. Token identity carries no meaning in
    the synthetic tasks (random draws from the pool), so relabelling is the same task; the relabelled model has a
    256-row embedding, which fine-tuning replaces anyway (transfer all_but_embedding; the statistics schemes skip
    the embedding).
    """

    def __init__(self, task, seed: int):
        import numpy as np

        used = sorted({*map(int, task.context(seed).pool), *task.prefix, *EXTRA_IDS} - {0, 1})
        self.table = np.full(max(used) + 1, -1, dtype=np.int32)
        self.table[[0, 1]] = [0, 1]
        self.table[used] = np.arange(2, len(used) + 2, dtype=np.int32)
        self.vocab_size = -(-(len(used) + 2) // 128) * 128

    def __call__(self, examples):
        for example in examples:
            yield {key: self.table[ids] for key, ids in example.items()}


def plateau_rule(row: PretrainRow):
    """`should_stop(evals)` for the trainer: a reason string once the row's plateau is reached, else None."""

    def should_stop(evals: list[dict[str, float]]) -> str | None:
        if row.plateau == ACCURACY_PLATEAU:
            values = [e["accuracy"] for e in evals]
            if values and values[-1] >= LEARNT_ACCURACY:
                return f"validation accuracy {values[-1]:.4f} >= {LEARNT_ACCURACY} (task learnt)"
            if (
                len(values) > row.patience
                and max(values[-row.patience :]) <= max(values[: -row.patience]) + row.min_delta
            ):
                return f"validation accuracy plateau: no gain > {row.min_delta} in {row.patience} evals"
            return None
        values = [e["loss"] for e in evals]
        if len(values) > row.patience:
            best_before = min(values[: -row.patience])
            if min(values[-row.patience :]) >= best_before * (1 - row.min_delta):
                return f"validation loss plateau: no fall > {row.min_delta:.1%} in {row.patience} evals"
        return None

    return should_stop


def _vocabulary_and_stream(task, seed: int, data_dir):
    """(vocabulary rows or None for the preset's, example transform) of a pre-training task."""
    if task.options.get("pool_size") is not None:
        compact = CompactIds(task, seed)
        return compact.vocab_size, compact, "compacted to 0..n-1 (study)"
    if task.family == "natural":  # natural_text has its own vocabulary (384 rows: bytes and sentinels)
        rows = -(-task.vocabulary(data_dir).vocab_size // 128) * 128
        return rows, (lambda examples: examples), "the task's own vocabulary"
    return None, (lambda examples: examples), "the T5 vocabulary"


def pretrain_until_plateau(
    row: PretrainRow, model: str, out: Path, *, seed: int = 0, data_dir=None, progress: bool = True
) -> dict[str, Any]:
    """Pre-train `row` under `out` (resumable) until its plateau or `row.steps`; returns and writes plateau.json."""
    from synpt.catalog import get_task
    from synpt.experiments.selection import validation_accuracy
    from synpt.model.config import get_config
    from synpt.train.logging import read_metrics
    from synpt.train.run_identity import claim_run_dir, train_fingerprint
    from synpt.train.trainer import TrainConfig, train

    out = Path(out)
    if (out / PLATEAU_FILE).is_file():
        return json.loads((out / PLATEAU_FILE).read_text())
    task = get_task(row.task, data_dir).with_options(**row.options)
    if "inputs_length" in task.options and "inputs_length" not in row.options:  # natural_text: chunks fill the input
        task = task.with_options(inputs_length=row.input_length)
    vocab_size, transform, ids = _vocabulary_and_stream(task, seed, data_dir)
    config = TrainConfig(
        model=get_config(model, **({"vocab_size": vocab_size} if vocab_size else {})),
        steps=row.steps,
        batch_size=row.batch_size,
        input_length=row.input_length,
        target_length=row.target_length,
        padding="fixed",
        eval_period=row.eval_period,
        eval_batches=row.eval_batches,
        checkpoint_every=row.eval_period,
        keep_checkpoints=1,
        log_every=min(50, row.eval_period),
        seed=seed,
    )
    validation = list(itertools.islice(task.examples("validation", seed=seed, data_dir=data_dir),
                                       row.eval_batches * row.batch_size))  # fmt: skip
    identity = {"task": task.name, "task_options": task.options, "ids": ids, "natural": row.natural}
    # Locked and fingerprinted like `synpt pretrain`'s runs: another study (or profile) aimed at the same folder is
    # refused with its differences instead of training on into this row's checkpoints.
    with claim_run_dir(out, "pretrain", *train_fingerprint(config, identity)):
        summary = train(
            config,
            model_dir=out,
            train_stream=lambda start: transform(task.examples("train", seed=seed, data_dir=data_dir, start=start)),
            eval_examples=list(transform(validation)),
            run_info={**identity, "data": task.data_info(data_dir)},
            progress=progress,
            should_stop=plateau_rule(row),
        )
    records = read_metrics(out)
    evals = {r["step"]: r for r in records if r.get("event") == "eval"}
    last = evals.get(summary.step, {})
    accuracy = validation_accuracy(records)
    result = {
        "task": task.name,
        "label": row.label,
        "seed": seed,
        "step": summary.step,
        "max_steps": row.steps,
        "stopped": summary.stopped or f"reached the step limit {row.steps} before a plateau",
        "plateau_rule": row.plateau,
        "valid_accuracy": last.get("accuracy"),
        "valid_loss": last.get("loss"),
        "best_valid_accuracy": max(accuracy.values()) if accuracy else None,
    }
    write_json_atomic(out / PLATEAU_FILE, result)
    return result
