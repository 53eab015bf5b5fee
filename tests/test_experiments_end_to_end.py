"""pretrain -> finetune with three kinds of init -> report, at tiny sizes, through the CLI."""

import json

import pytest

from synpt import cli
from synpt.experiments.report import benefit_percent
from synpt.experiments.selection import validation_accuracy
from synpt.train.logging import read_metrics

FINETUNE_FLAGS = [
    "--task", "g2p", "--scale", "tiny", "--seed", "0",
    "--gin.TRAIN_STEPS=8", "--gin.EVAL_PERIOD=4", "--gin.EVALUATOR_NUM_EXAMPLES=4", "--gin.BATCH_SIZE=4",
]  # fmt: skip


@pytest.mark.slow
def test_pretrain_finetune_three_inits_report(tmp_path, capsys):
    pretrain_dir = tmp_path / "pretrain" / "set"
    assert (
        cli.main(
            [
                "pretrain",
                "--task",
                "set",
                "--model",
                "tiny",
                "--steps",
                "4",
                "--batch-size",
                "4",
                "--eval-every",
                "4",
                "--checkpoint-every",
                "4",
                "--padding",
                "fixed",
                "--out",
                str(pretrain_dir),
                "--gin.TASK_FEATURE_LENGTHS={'inputs': 24, 'targets': 24}",
                "--gin.EVAL_STEPS=1",
                "--gin.TASK_OPTIONS={'length_range': (8, 16)}",
            ]
        )  # fmt: skip
        == 0
    )
    runs = tmp_path / "finetune"
    inits = {
        "random": ["--init", "from_scratch"],
        "set": ["--init", "all_but_embedding", "--ckpt", str(pretrain_dir), "--natural"],
        "scale": ["--init", "per_param_grouping___init_scale", "--ckpt", str(pretrain_dir)],
    }
    for name, flags in inits.items():
        assert cli.main(["finetune", *FINETUNE_FLAGS, *flags, "--out", str(runs / name)]) == 0
    capsys.readouterr()

    results = {name: json.loads((runs / name / "results.json").read_text()) for name in inits}
    for name, data in results.items():
        accuracy = validation_accuracy(read_metrics(runs / name))
        assert sorted(accuracy) == [4, 8]
        assert data["best_step"] == max(accuracy, key=lambda step: (accuracy[step], -step))
        assert data["valid_accuracy"] == accuracy[data["best_step"]]
        assert data["paper_metric"] == "em" and data["score"] == data["test_metrics"]["em"]
        assert set(data["versions"]) >= {"synpt", "jax", "flax"} and data["settings"]["steps"] == 8
    assert results["set"]["ckpt_label"] == "set@4" and results["set"]["transfer"] == "all_but_embedding"
    assert results["scale"]["init_scheme"] == "per_param_grouping___init_scale"
    assert any("copied" in line for line in results["set"]["init_log"])

    # a finished run is skipped
    assert cli.main(["finetune", *FINETUNE_FLAGS, *inits["random"], "--out", str(runs / "random")]) == 0
    assert "skip" in capsys.readouterr().out

    out = tmp_path / "report"
    assert cli.main(["report", str(runs), "--out", str(out)]) == 0
    tables = json.loads((out / "tables.json").read_text())["tables"]
    assert [t["name"] for t in tables] == ["table2"]
    rows = {row["label"]: row for row in tables[0]["rows"]}
    assert [row["role"] for row in tables[0]["rows"]] == ["random", "natural", "method"]
    assert list(rows) == ["Random Init", "set@4 [all_but_embedding]", "Per Param Scale ← set@4"]
    expected = benefit_percent(results["scale"]["score"], results["random"]["score"], results["set"]["score"])
    assert rows["Per Param Scale ← set@4"]["cells"]["g2p"]["benefit"] == expected
    assert (out / "curves_g2p.png").stat().st_size > 1000
