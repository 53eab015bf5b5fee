"""Tables, % of benefit arithmetic and selection rules on hand-made results.json / metrics.jsonl files."""

import csv
import json
import math

import pytest

from synpt import cli
from synpt.errors import SynptError
from synpt.experiments import report
from synpt.experiments.selection import (
    first_step_reaching,
    max_accuracy_step,
    select_best_validation_step,
)
from synpt.train.logging import read_metrics


def write_run(root, name, *, task, score, init="from_scratch", metric="em", **fields):
    run = root / name
    run.mkdir(parents=True)
    data = {"task": task, "init": init, "score": score, "paper_metric": metric, "seed": 0, **fields}
    (run / "results.json").write_text(json.dumps(data))
    return run


@pytest.fixture
def runs(tmp_path):
    """Two tasks; Random Init, a natural row, Set transfer with two seeds, a scheme and an LN value."""
    for task, random, natural, set_scores, scale, ln in (
        ("mtop", 20.0, 60.0, (40.0, 44.0), 30.0, 25.0),
        ("code_translation", 10.0, 30.0, (25.0, 25.0), 12.0, 11.0),
    ):
        write_run(tmp_path, f"{task}/random", task=task, score=random)
        write_run(
            tmp_path, f"{task}/t5", task=task, score=natural, init="all", transfer="all", ckpt_label="t5_small",
            natural=True,
        )  # fmt: skip
        for seed, score in enumerate(set_scores):
            write_run(
                tmp_path, f"{task}/set_{seed}", task=task, score=score, init="all_but_embedding",
                transfer="all_but_embedding", ckpt_label="set", seed=seed,
            )  # fmt: skip
        write_run(
            tmp_path, f"{task}/scale", task=task, score=scale, init="per_param_grouping___init_scale",
            init_scheme="per_param_grouping___init_scale", ckpt_label="set",
        )  # fmt: skip
        write_run(tmp_path, f"{task}/ln", task=task, score=ln, pre_attn_ln_value=0.4)
    return tmp_path


def table(tables, name):
    return next(t for t in tables if t.name == name)


def row(tab, label):
    return next(r for r in tab.rows if r.label == label)


def test_benefit_percent_formula():
    assert report.benefit_percent(40.0, 20.0, 60.0) == 50.0
    assert report.benefit_percent(10.0, 20.0, 60.0) == -25.0
    assert report.benefit_percent(5.0, 3.0, 3.0) is None


def test_tables_rows_columns_and_benefit(runs):
    tables = report.build_tables(report.find_results([runs]))
    assert [t.name for t in tables] == ["table1", "table2", "table3"]
    t1 = table(tables, "table1")
    assert t1.tasks == ["code_translation", "mtop"]
    assert [r.label for r in t1.rows] == ["Random Init", "t5_small [all]", "set [all_but_embedding]"]
    assert [r.role for r in t1.rows] == ["random", "natural", "method"]
    set_row = row(t1, "set [all_but_embedding]")
    mtop = set_row.cells["mtop"]
    assert mtop.mean == 42.0 and mtop.sd == pytest.approx(math.sqrt(8.0)) and len(mtop.scores) == 2
    assert mtop.benefit == pytest.approx(100 * (42 - 20) / (60 - 20))  # 55
    assert set_row.cells["code_translation"].benefit == pytest.approx(75.0)
    assert set_row.average == pytest.approx((42 + 25) / 2)
    assert set_row.benefit_mean == pytest.approx((55 + 75) / 2)
    # ratio of averaged scores: (33.5 - 15) / (45 - 15)
    assert set_row.benefit_of_averages == pytest.approx(100 * 18.5 / 30)
    assert row(t1, "Random Init").benefit_mean == 0.0
    assert row(t1, "t5_small [all]").benefit_mean == 100.0
    t2 = table(tables, "table2")
    assert row(t2, "Per Param Scale ← set").cells["mtop"].benefit == pytest.approx(25.0)
    t3 = table(tables, "table3")
    assert row(t3, "pre-attn LN = 0.4").cells["code_translation"].benefit == pytest.approx(5.0)


def test_natural_row_flag_and_unknown_name(runs):
    for path in runs.rglob("results.json"):
        data = json.loads(path.read_text())
        data.pop("natural", None)
        path.write_text(json.dumps(data))
    results = report.find_results([runs])
    assert all(r.role != "natural" for r in report.build_tables(results)[0].rows)
    tables = report.build_tables(results, ["t5_small [all]"])
    assert row(table(tables, "table1"), "t5_small [all]").role == "natural"
    with pytest.raises(SynptError, match="--natural-row 'nope' matches no run"):
        report.build_tables(results, ["nope"])


def test_report_cli_writes_markdown_csv_json(runs, tmp_path, capsys):
    out = tmp_path / "report_out"
    assert cli.main(["report", str(runs), "--out", str(out), "--no-plots"]) == 0
    text = capsys.readouterr().out
    assert "### Table 1" in text and "| set [all_but_embedding] | 25.00 ± 0.00 (n=2) | 42.00 ± 2.83 (n=2) |" in text
    assert "| mtop (em)" in text.replace("| code_translation (em) ", "")
    saved = json.loads((out / "tables.json").read_text())
    assert [t["name"] for t in saved["tables"]] == ["table1", "table2", "table3"]
    lines = list(csv.DictReader((out / "tables.csv").open()))
    set_mtop = next(x for x in lines if x["row"] == "set [all_but_embedding]" and x["task"] == "mtop")
    assert float(set_mtop["benefit_percent"]) == pytest.approx(55.0)


def test_report_errors_are_clear(tmp_path, capsys):
    assert cli.main(["report", str(tmp_path)]) == 2
    assert "no results.json" in capsys.readouterr().err
    (tmp_path / "results.json").write_text("{broken")
    assert cli.main(["report", str(tmp_path)]) == 2
    assert "not valid JSON" in capsys.readouterr().err


def write_metrics(path, lines):
    path.write_text("".join(json.dumps(x) + "\n" for x in lines))


def test_selection_best_accuracy_earliest_tie_and_metrics_at_that_step(tmp_path):
    write_metrics(
        tmp_path / "metrics.jsonl",
        [
            {"event": "train", "step": 5, "loss": 3.0},
            {"event": "eval", "step": 10, "accuracy": 0.5, "loss": 2.0},
            {"event": "inference", "step": 10, "em": 1.0, "f1": 2.0},
            {"event": "eval", "step": 20, "accuracy": 0.8, "loss": 1.0},
            {"event": "inference", "step": 20, "em": 7.0, "f1": 8.0},
            {"event": "eval", "step": 30, "accuracy": 0.8, "loss": 0.9},
            {"event": "inference", "step": 30, "em": 9.0, "f1": 9.5},
        ],
    )
    selection = select_best_validation_step(read_metrics(tmp_path))
    assert (selection.step, selection.valid_accuracy, selection.metrics) == (20, 0.8, {"em": 7.0, "f1": 8.0})


def test_selection_after_resume_uses_latest_line_and_ignores_truncated_tail(tmp_path):
    path = tmp_path / "metrics.jsonl"
    write_metrics(
        path,
        [
            {"event": "eval", "step": 10, "accuracy": 0.9},
            {"event": "inference", "step": 10, "em": 1.0},
            {"event": "eval", "step": 10, "accuracy": 0.4},  # re-run of step 10 after a resume
            {"event": "inference", "step": 10, "em": 2.0},
            {"event": "eval", "step": 20, "accuracy": 0.6},
            {"event": "inference", "step": 20, "em": 3.0},
        ],
    )
    path.write_text(path.read_text() + '{"event": "ev')
    selection = select_best_validation_step(read_metrics(path))
    assert (selection.step, selection.metrics) == (20, {"em": 3.0})


def test_pretraining_selectors_and_cli(tmp_path, capsys):
    write_metrics(
        tmp_path / "metrics.jsonl",
        [{"event": "eval", "step": s, "accuracy": a} for s, a in ((5, 0.5), (10, 0.991), (15, 0.999), (20, 0.995))],
    )
    records = read_metrics(tmp_path)
    assert max_accuracy_step(records) == 15
    assert first_step_reaching(records, 0.99) == 10
    assert first_step_reaching(records, 0.9999) is None
    assert cli.main(["report", str(tmp_path), "--pretrain-step", "99"]) == 0
    assert capsys.readouterr().out.strip() == "10"
    assert cli.main(["report", str(tmp_path), "--pretrain-step", "max"]) == 0
    assert capsys.readouterr().out.strip() == "15"


def test_selection_without_evals_or_inference_is_an_error(tmp_path):
    with pytest.raises(SynptError, match="no teacher-forced validation eval"):
        select_best_validation_step([{"event": "train", "step": 1}])
    with pytest.raises(SynptError, match="no decoded metrics"):
        select_best_validation_step([{"event": "eval", "step": 1, "accuracy": 0.1}])
    with pytest.raises(SynptError, match="no metrics file"):
        read_metrics(tmp_path)


def test_another_decoded_metric_can_fill_the_table(tmp_path):
    write_run(tmp_path, "r", task="g2p", score=0.0, test_metrics={"em": 0.0, "f1": 20.0})
    write_run(tmp_path, "s", task="g2p", score=0.0, init="all", transfer="all", ckpt_label="set", natural=True,
              test_metrics={"em": 0.0, "f1": 40.0})  # fmt: skip
    write_run(tmp_path, "m", task="g2p", score=0.0, pre_attn_ln_value=0.4, test_metrics={"em": 0.0, "f1": 25.0})
    results = report.find_results([tmp_path])
    assert row(report.build_tables(results)[0], "pre-attn LN = 0.4").cells["g2p"].benefit is None  # 0 / 0
    ln = row(report.build_tables(results, metric="f1")[0], "pre-attn LN = 0.4")
    assert ln.cells["g2p"].mean == 25.0 and ln.cells["g2p"].benefit == pytest.approx(25.0)
    assert report.metric_names(results, "f1") == {"g2p": "f1"}
    with pytest.raises(SynptError, match="no metric 'bleu'"):
        report.build_tables(results, metric="bleu")
