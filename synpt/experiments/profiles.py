"""Named study profiles: every size of `synpt study` in one place, as plain data.

A profile says which model is trained, how each pre-training row is pre-trained (until its plateau), which table
rows are fine-tuned, on which downstream tasks with which fine-tuning overrides, and over how many seeds.

* `quickstart`: `synpt quickstart`, the study in miniature (one task, g2p; three seeds; tiny sizes; meant to take
  at most 15 minutes on 2 CPU cores).
* `cpu`: the full CPU study (g2p and code_translation, five seeds).
* `gpu`: t5_small-sized, minutes on one GPU (documented; not run in CI).

docs/experiments.md records what the `quickstart` and `cpu` profiles measured on a 2-core machine.
Row syntax (also for `--rows` and the TOML spec): `random` (Random Init), `ln=0.4` (pre-attention LN = 0.4 on a
random init), `P` (transfer all_but_embedding from pre-training row P, a catalog task id or alias), `SCHEME<-P`
(a statistics scheme, by id or alias, with the statistics of P's checkpoint).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from synpt.errors import SynptError

ACCURACY_PLATEAU = "accuracy"  # synthetic tasks: stop when the validation accuracy stops improving (or reaches 0.99)
LOSS_PLATEAU = "loss"  # natural text: stop when the validation loss stops falling


@dataclass(frozen=True)
class PretrainRow:
    """How one pre-training row is pre-trained: task, options, sizes, and the plateau rule that ends it."""

    task: str
    label: str
    options: dict[str, Any] = field(default_factory=dict)
    natural: bool = False  # the 100 % reference of the % of benefit
    # How its table row fine-tunes: all_but_embedding (the paper's synthetic rows: their ids mean nothing downstream)
    # or all (the natural row, whose byte vocabulary is the fine-tuning tasks' own, so the embedding carries over).
    transfer: str = "all_but_embedding"
    steps: int = 800  # at most; the plateau usually ends the run earlier
    batch_size: int = 32
    input_length: int = 32
    target_length: int = 32
    eval_period: int = 100
    eval_batches: int = 4
    plateau: str = ACCURACY_PLATEAU
    patience: int = 3  # evals without an improvement larger than min_delta
    min_delta: float = 0.005  # accuracy points (accuracy plateau) or relative loss (loss plateau)


@dataclass(frozen=True)
class DownstreamTask:
    """A fine-tuning task of the study: `synpt finetune` overrides, vocabulary, and the decoded metrics reported
    (the first one is the headline; the teacher-forced validation accuracy is always reported too)."""

    name: str
    gin_bindings: tuple[str, ...]
    metrics: tuple[str, ...]
    vocab: str | None = None


@dataclass(frozen=True)
class Profile:
    name: str
    description: str
    model: str
    pretrain: tuple[PretrainRow, ...]  # the pre-training rows the profile knows how to train
    synthetic_template: PretrainRow  # how a catalog task named only in a row (e.g. lime) is pre-trained
    rows: tuple[str, ...]
    tasks: tuple[DownstreamTask, ...]
    seeds: int

    def pretrain_row(self, task: str) -> PretrainRow:
        """The profile's pre-training row for `task` (a canonical task name), else the synthetic template's."""
        known = {row.task: row for row in self.pretrain}
        return known.get(task) or dataclasses.replace(self.synthetic_template, task=task, label=task, options={})


_TINY_FINETUNE = (
    "BATCH_SIZE=16",
    "EVAL_STEPS=8",
    "KEEP_CHECKPOINTS=1",
    "PADDING='fixed'",
    # The paper's fine-tuning LR. Few steps on few examples at 1e-3 leave a randomly initialised tiny model far from
    # converged, which is where a pre-trained init shows (at 1e-2 every row converged alike on this data; measured
    # on g2p, see docs/experiments.md).
    "LEARNING_RATE=0.001",
    "TRAIN_STEPS=300",
    "EVAL_PERIOD=100",
    # The first 500 training examples: pre-training shows most when fine-tuning data is scarce.
    "TRAIN_EXAMPLES=500",
)
_G2P = DownstreamTask("g2p", (*_TINY_FINETUNE, "EVALUATOR_NUM_EXAMPLES=100"), metrics=("f1", "em"))
# Java -> C# in bytes (the natural row's vocabulary), cut to 128 bytes each way; greedy decoding of 32 examples
# keeps each eval short (the teacher-forced validation accuracy selects the step, as in the paper).
_CODE = DownstreamTask(
    "code_translation",
    (*_TINY_FINETUNE, "INPUT_LEN=128", "TARGET_LEN=128", "MAX_DECODE_LENGTH=128", "EVALUATOR_NUM_EXAMPLES=32",
     "BEAM_SIZE=1"),
    metrics=("bleu", "em"),
    vocab="bytes",
)  # fmt: skip
_ROWS = ("random", "natural", "set", "per_param_scale<-set", "ln=0.4")
_TINY_SET = PretrainRow(
    task="set",
    label="Set",
    # Short arguments from a 64-token pool, ids compacted to 0..n-1 (pretraining.CompactIds): ~0.2 s per step on one
    # CPU thread; at 2,000 steps it was still learning (validation accuracy 0.72 and rising), hence room to plateau.
    options={"length_range": (8, 24), "pool_size": 64},
    steps=8000,
    eval_period=250,
)
# Span-corrupted prose in 128-byte inputs (targets of at most 29 ids: natural_text's target_length for 128); ~0.5 s
# per step on one CPU thread, the longest cell of the CPU study (at 2,000 steps the loss still fell ~1 % per eval).
_TINY_NATURAL = PretrainRow(
    task="natural_text", label="natural", natural=True, transfer="all", steps=4000, eval_period=250,
    input_length=128, target_length=29, plateau=LOSS_PLATEAU,
)  # fmt: skip

# t5_small on one GPU: longer pre-training at the paper's batch (the full task options for Set, no id compaction).
_GPU_PRETRAIN = dict(steps=20000, batch_size=128, input_length=256, eval_period=1000, eval_batches=16)
_GPU_SET = dataclasses.replace(_TINY_SET, options={}, target_length=256, **_GPU_PRETRAIN)

PROFILES: dict[str, Profile] = {
    "quickstart": Profile(
        name="quickstart",
        description="the study in miniature: g2p, 3 seeds, tiny model (<= 15 min on 2 CPU cores)",
        model="tiny",
        pretrain=(
            dataclasses.replace(_TINY_NATURAL, steps=800, eval_period=200),
            dataclasses.replace(_TINY_SET, steps=800, eval_period=200),
        ),
        synthetic_template=dataclasses.replace(_TINY_SET, steps=800, eval_period=200),
        rows=_ROWS,
        tasks=(_G2P,),
        seeds=3,
    ),
    "cpu": Profile(
        name="cpu",
        description="the full CPU study: g2p and code_translation, 5 seeds, tiny model (<= 90 min on 2 CPU cores)",
        model="tiny",
        pretrain=(_TINY_NATURAL, _TINY_SET),
        synthetic_template=_TINY_SET,
        rows=_ROWS,
        tasks=(_G2P, _CODE),
        seeds=5,
    ),
    "gpu": Profile(
        name="gpu",
        description="t5_small-sized: g2p and code_translation, 5 seeds (minutes on one GPU; not run in CI)",
        model="t5_small",
        pretrain=(dataclasses.replace(_TINY_NATURAL, **_GPU_PRETRAIN, target_length=128), _GPU_SET),
        synthetic_template=_GPU_SET,
        rows=_ROWS,
        tasks=(
            DownstreamTask(
                "g2p",
                (
                    "TRAIN_STEPS=2000",
                    "EVAL_PERIOD=250",
                    "BATCH_SIZE=32",
                    "EVALUATOR_NUM_EXAMPLES=500",
                    "TRAIN_EXAMPLES=5000",
                    "KEEP_CHECKPOINTS=1",
                    "PADDING='fixed'",
                    "LEARNING_RATE=0.001",
                ),
                metrics=("f1", "em"),
            ),
            DownstreamTask(
                "code_translation",
                (
                    "TRAIN_STEPS=4000",
                    "EVAL_PERIOD=500",
                    "BATCH_SIZE=32",
                    "EVALUATOR_NUM_EXAMPLES=500",
                    "TRAIN_EXAMPLES=5000",
                    "INPUT_LEN=256",
                    "TARGET_LEN=256",
                    "MAX_DECODE_LENGTH=256",
                    "KEEP_CHECKPOINTS=1",
                    "PADDING='fixed'",
                    "LEARNING_RATE=0.001",
                ),
                metrics=("bleu", "em"),
                vocab="bytes",
            ),
        ),  # fmt: skip
        seeds=5,
    ),
}


def get_profile(name: str) -> Profile:
    if name not in PROFILES:
        raise SynptError(f"unknown study profile {name!r}; valid profiles: {', '.join(PROFILES)}")
    return PROFILES[name]
