# ruff: noqa: E501  (the settings table is kept one row per task, readable against reference §5.1)
"""Per-task fine-tuning settings of the paper's release scripts (reference §5.1), as one table of data.

Why a table: every number the paper's fine-tuning runs depend on sits in one place that can be read against §5.1
line by line, and a run records the exact row it used. Columns whose value differs between the paper's Table 1
and Tables 2/3 (code translation's evaluator size, SQuAD's packing) have a `_t23` column; `settings_for` picks it.

`g2p` is synpt's own offline task (CMUdict); its row is sized for tiny CPU runs, not taken from the paper.
`default` is used for a user's own folder `DATA_DIR/finetuning_data/<name>/`.
"""

from __future__ import annotations

import dataclasses
from typing import Any

from synpt.errors import SynptError

# fmt: off
# task                   lr     steps   period batch input target decode eval_n  eval_n_t23 split      metrics                 paper_metric pack pack_t23
_TABLE = """
cnndm_10k                1e-3   100000  10000  128   512   256    148    20000   20000      test       rouge1,rouge2,rougeLsum rouge1       no   no
code_translation         3e-3   150000  10000  32    1024  1024   1024   5000    10000      test       em,f1,bleu              em           no   no
mtop                     1e-3   100000  10000  128   1024  128    128    5000    5000       test       em,f1                   em           no   no
retrosynthesis           3e-3   400000  10000  128   256   256    256    5000    5000       test       em,f1                   em           no   no
squad_v010_allanswers    1e-3   250000  10000  128   512   128    128    20000   20000      validation em,f1                   em           yes  no
webqsp                   1e-3   50000   5000   32    2048  256    256    20000   20000      test       em,f1                   em           no   no
g2p                      1e-3   2000    500    32    32    64     64     500     500        test       em,per                  em           no   no
default                  1e-3   100000  10000  128   512   128    128    5000    5000       test       em,f1                   em           no   no
"""
# fmt: on


@dataclasses.dataclass(frozen=True)
class FinetuneSettings:
    """One row of the table: what a fine-tuning run of a task uses unless the user overrides it."""

    learning_rate: float
    steps: int
    eval_period: int
    batch_size: int
    input_length: int
    target_length: int
    max_decode_length: int
    evaluator_num_examples: int
    decode_split: str
    metrics: tuple[str, ...]
    paper_metric: str
    pack: bool
    # Fine-tune on the first N training examples in file order (None: all). The same N lines for every seed, so
    # seeds stay paired; pre-training shows most when fine-tuning data is scarce.
    train_examples: int | None = None

    def replace(self, **changes: Any) -> FinetuneSettings:
        """A copy with `changes`; unknown names raise `SynptError` listing the valid ones."""
        fields = {f.name for f in dataclasses.fields(self)}
        unknown = sorted(set(changes) - fields)
        if unknown:
            raise SynptError(f"unknown fine-tuning setting(s) {', '.join(unknown)}; valid: {', '.join(sorted(fields))}")
        if "metrics" in changes:
            changes["metrics"] = tuple(changes["metrics"])
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["metrics"] = list(self.metrics)
        return out


def _parse_table(text: str) -> dict[str, dict[str, FinetuneSettings]]:
    table: dict[str, dict[str, FinetuneSettings]] = {}
    for line in text.strip().splitlines():
        (
            task,
            lr,
            steps,
            period,
            batch,
            inp,
            tgt,
            decode,
            eval_n,
            eval_n_t23,
            split,
            metrics,
            paper,
            pack,
            pack_t23,
        ) = line.split()
        common = dict(
            learning_rate=float(lr),
            steps=int(steps),
            eval_period=int(period),
            batch_size=int(batch),
            input_length=int(inp),
            target_length=int(tgt),
            max_decode_length=int(decode),
            decode_split=split,
            metrics=tuple(metrics.split(",")),
            paper_metric=paper,
        )
        table[task] = {
            "table1": FinetuneSettings(**common, evaluator_num_examples=int(eval_n), pack=pack == "yes"),
            "table2": FinetuneSettings(**common, evaluator_num_examples=int(eval_n_t23), pack=pack_t23 == "yes"),
        }
        table[task]["table3"] = table[task]["table2"]
    return table


PAPER_SETTINGS = _parse_table(_TABLE)
"""task -> {"table1" | "table2" | "table3" -> FinetuneSettings}."""

PAPER_TABLES = ("table1", "table2", "table3")


def settings_for(task: str, table: str = "table1") -> FinetuneSettings:
    """The settings of `task` for the paper's `table` (`default` for tasks the table does not list)."""
    if table not in PAPER_TABLES:
        raise SynptError(f"unknown paper table {table!r}; choose one of {', '.join(PAPER_TABLES)}")
    return PAPER_SETTINGS.get(task, PAPER_SETTINGS["default"])[table]
