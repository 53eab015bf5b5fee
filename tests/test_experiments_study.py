"""`synpt study`: spec validation before any training, seed pairing, and resume / skip after an interrupt."""

import csv
import json

import numpy as np
import pytest

from synpt import cli
from synpt.errors import SynptError
from synpt.experiments import evidence
from synpt.experiments.plots import benefit_series, plot_benefit
from synpt.experiments.report import find_results
from synpt.experiments.study import cells, finetune_request, run_study
from synpt.experiments.study_report import write_study_report
from synpt.experiments.study_spec import check_same_study, resolve_spec

# identity stands in for the natural-text row (marked natural); everything at a size that trains in seconds
TINY_SPEC = """
profile = "quickstart"
seeds = {seeds}
tasks = ["g2p"]
rows = {rows}
[pretrain.identity]
label = "natural (identity)"
natural = true
steps = 4
eval_period = 2
batch_size = 4
eval_batches = 1
input_length = 16
target_length = 16
options = {{length_range = [1, 8], pool_size = 16}}
[finetune.g2p]
gin = ["TRAIN_STEPS=4", "EVAL_PERIOD=2", "BATCH_SIZE=4", "EVALUATOR_NUM_EXAMPLES=2", "EVAL_STEPS=1",
       "TRAIN_EXAMPLES=32", "INPUT_LEN=32", "TARGET_LEN=16", "MAX_DECODE_LENGTH=16"]
"""


def tiny_spec(tmp_path, seeds=1, rows=("random", "identity")):
    path = tmp_path / "spec.toml"
    path.write_text(TINY_SPEC.format(seeds=seeds, rows=json.dumps(list(rows))))
    return path


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["--rows", "random,nope"], "unknown pre-training row 'nope'; valid rows: random, ln=VALUE"),
        (["--rows", "random,bogus<-set"], "unknown statistics scheme 'bogus' in a row; valid: "),
        (["--rows", "random,g2p"], "unknown pre-training row 'g2p'"),
        (["--rows", "random,set", "--tasks", "nope"], "unknown downstream task 'nope'; valid: "),
        (["--rows", "set"], "a study needs the row random"),
        (["--rows", "random,ln=abc"], "ln= takes a number"),
        (["--profile", "huge"], "unknown study profile 'huge'; valid profiles: quickstart, cpu, gpu"),
    ],
)
def test_bad_spec_is_refused_before_anything_runs(tmp_path, capsys, flags, message):
    out = tmp_path / "study"
    assert cli.main(["study", *flags, "--out", str(out)]) == 2
    error = capsys.readouterr().err.strip()
    assert message in error and error.count("\n") == 0 and error.startswith("synpt: error:")
    assert not out.exists()


def test_bad_spec_file_keys_and_overrides_are_refused(tmp_path):
    path = tmp_path / "spec.toml"
    for text, message in (
        ("sedes = 3", "unknown key(s) sedes"),
        ("[pretrain.set]\nstepz = 3", "[pretrain.set]: unknown key(s) stepz"),
        ('[finetune.g2p]\ngin = ["TRAIN_STEPZ=3"]', "TRAIN_STEPZ"),
        ("seeds = 0", "seeds must be a positive integer"),
    ):
        path.write_text(text)
        with pytest.raises(SynptError, match=message.replace("[", r"\[").replace("]", r"\]").replace("(", r"\(")
                           .replace(")", r"\)")):  # fmt: skip
            resolve_spec("quickstart", spec_file=path, rows=["random", "set"])


def test_rows_expand_with_labels_schemes_and_the_natural_mark(tmp_path):
    spec = resolve_spec(
        "cpu", spec_file=tiny_spec(tmp_path), rows=["random", "identity", "per_param_scale<-set", "ln=0.4", "set"]
    )
    assert [(r.label, r.init, r.pretrain, r.natural) for r in spec.rows] == [
        ("Random Init", "from_scratch", None, False),
        ("natural (identity)", "all_but_embedding", "identity", True),
        ("Per Param Scale ← Set", "per_param_grouping___init_scale", "set", False),
        ("pre-attn LN = 0.4", "from_scratch", None, False),
        ("Set", "all_but_embedding", "set", False),
    ]
    assert [p.task for p in spec.pretrain] == ["identity", "set"]  # each pre-trained once
    assert spec.rows[3].pre_attn_ln_value == 0.4
    names = [c.name for c in cells(spec)]
    assert names[:2] == ["pretrain/identity", "pretrain/set"] and len(names) == 2 + 5 * 1


def test_more_seeds_may_be_added_but_not_another_design(tmp_path):
    spec = resolve_spec("quickstart", spec_file=tiny_spec(tmp_path, seeds=2))
    (tmp_path / "out").mkdir()
    (tmp_path / "out" / "study.json").write_text(json.dumps(spec.to_json()))
    check_same_study(tmp_path / "out", resolve_spec("quickstart", spec_file=tiny_spec(tmp_path, seeds=3)))
    with pytest.raises(SynptError, match="seeds may grow, not shrink"):
        check_same_study(tmp_path / "out", resolve_spec("quickstart", spec_file=tiny_spec(tmp_path, seeds=1)))
    other = resolve_spec("quickstart", spec_file=tiny_spec(tmp_path, seeds=2, rows=("random", "identity", "ln=0.4")))
    with pytest.raises(SynptError, match="holds another study .*rows"):
        check_same_study(tmp_path / "out", other)


def test_seeds_pair_the_data_order_and_the_fresh_init(tmp_path):
    """Seed s of every row: the same training stream and the same random init (LN rows differ only in the LN)."""
    from synpt.experiments.finetune import maybe_initialize
    from synpt.experiments.plan import plan_run
    from synpt.model.t5 import flatten_names
    from synpt.train.partitioning import host_train_stream

    spec = resolve_spec("quickstart", spec_file=tiny_spec(tmp_path, seeds=2), rows=["random", "ln=0.4"])
    by_name = {c.name: c for c in cells(spec)}

    def planned(row, seed):
        return plan_run(finetune_request(spec, by_name[f"finetune/g2p/{row}/seed_{seed}"], tmp_path / "out"))

    def first_examples(plan):
        stream = host_train_stream(plan.task, seed=plan.request.seed, data_dir=plan.data_dir)(0)
        return [next(stream)["inputs"].tolist() for _ in range(6)]

    random1, ln1, random0 = planned("Random_Init", 1), planned("pre-attn_LN_=_0.4", 1), planned("Random_Init", 0)
    assert random1.train_config.seed == ln1.train_config.seed == 1  # dropout stream
    assert first_examples(random1) == first_examples(ln1) != first_examples(random0)
    params = {name: flatten_names(maybe_initialize(plan)) for name, plan in
              (("random1", random1), ("ln1", ln1), ("random0", random0))}  # fmt: skip
    changed = [k for k in params["random1"] if not np.array_equal(params["random1"][k], params["ln1"][k])]
    assert changed and all(k.endswith("attention_layer_norm/scale") for k in changed)
    assert all(np.all(np.asarray(params["ln1"][k]) == np.float32(0.4)) for k in changed)
    kernels = [k for k in params["random1"] if k.endswith("kernel")]
    assert not any(np.array_equal(params["random1"][k], params["random0"][k]) for k in kernels)


@pytest.mark.slow
def test_study_runs_resumes_after_an_interrupt_and_skips_finished_cells(tmp_path, capsys):
    spec = resolve_spec("quickstart", spec_file=tiny_spec(tmp_path))
    out = tmp_path / "study"
    first = run_study(spec, out)
    assert [c.name for c in first] == [
        "pretrain/identity", "finetune/g2p/Random_Init/seed_0", "finetune/g2p/natural__identity_/seed_0"
    ]  # fmt: skip
    progress = [line for line in capsys.readouterr().out.splitlines() if line.startswith("[study] ")]
    assert progress[-1].startswith("[study] 3/3 finetune/g2p/natural__identity_/seed_0: done in ")
    assert "ETA" in progress[-1]
    plateau = json.loads((out / "pretrain" / "identity" / "plateau.json").read_text())
    assert plateau["seed"] == 0 and plateau["step"] <= 4 and plateau["stopped"]
    record = json.loads((out / "pretrain" / "identity" / "run.json").read_text())
    assert record["kind"] == "pretrain" and record["fingerprint"]["run"]["task"] == "identity"

    # interrupt: one run lost its results.json (killed while finishing), one never started
    resumed, fresh = out / "finetune/g2p/Random_Init/seed_0", out / "finetune/g2p/natural__identity_/seed_0"
    train_lines = (resumed / "metrics.jsonl").read_text().count('"event": "train"')
    (resumed / "results.json").unlink()
    for path in sorted(fresh.rglob("*"), reverse=True):
        path.unlink() if path.is_file() else path.rmdir()
    second = run_study(spec, out, jobs=2)
    assert sorted(c.name for c in second) == sorted(str(p.relative_to(out)) for p in (resumed, fresh))
    assert (resumed / "metrics.jsonl").read_text().count('"event": "train"') == train_lines  # not re-trained
    assert (fresh / "results.json").is_file() and (out / "logs").is_dir()
    assert run_study(spec, out) == []  # everything finished: nothing runs
    assert "skipped (finished already)" in capsys.readouterr().out

    markdown = write_study_report(spec, out)
    assert "stopped at step" in markdown and "| natural (identity) |" in markdown
    rows = list(csv.DictReader((out / "runs.csv").open()))
    assert sorted((r["row"], r["role"], r["seed"]) for r in rows) == [
        ("Random Init", "random", "0"), ("natural (identity)", "natural", "0")
    ]  # fmt: skip
    saved = json.loads((out / "tables.json").read_text())
    assert {s["metric"] for s in saved["statistics"]} == {"valid_accuracy", "f1", "em"}


def test_a_pre_training_row_aimed_at_another_kind_of_run_is_refused_before_training(tmp_path):
    from synpt.experiments.pretraining import pretrain_until_plateau

    spec = resolve_spec("quickstart", spec_file=tiny_spec(tmp_path))
    taken = tmp_path / "taken"
    taken.mkdir()
    (taken / "run.json").write_text(json.dumps({"kind": "finetune", "fingerprint": {}}))
    with pytest.raises(SynptError, match="holds a finetune run"):
        pretrain_until_plateau(spec.pretrain[0], "tiny", taken, progress=False)
    assert sorted(p.name for p in taken.iterdir()) == ["run.json"]


def test_evidence_tables_and_verdicts_on_hand_made_runs(tmp_path):
    """Rows found by their init (not their labels): Set transfer, Per Param Scale statistics, pre-attn LN."""

    def write(name, seed, score, **fields):
        run = tmp_path / name / f"seed_{seed}"
        run.mkdir(parents=True)
        data = {"task": "g2p", "init": "from_scratch", "score": score, "paper_metric": "em", "seed": seed,
                "valid_accuracy": score / 100, "test_metrics": {"f1": 0.0}, **fields}  # fmt: skip
        (run / "results.json").write_text(json.dumps(data))

    for seed, base in enumerate((40.0, 60.0, 50.0, 45.0)):
        write("random", seed, base)
        write("natural", seed, base + 10 + seed % 2, init="all", transfer="all", natural=True, ckpt_label="t5")
        set_info = {"ckpt_label": "Set", "ckpt_info": {"pretrain_task": "set"}}
        write(
            "set", seed, base + (4, 9, 5, 8)[seed], init="all_but_embedding", transfer="all_but_embedding", **set_info
        )
        scheme = "per_param_grouping___init_scale"
        write("scale", seed, base + (-2, 2, -1, 1)[seed], init=scheme, init_scheme=scheme, **set_info)
        write("ln", seed, base + 1 + 0.1 * seed, pre_attn_ln_value=0.4)
    results = find_results([tmp_path])
    [item] = evidence.analyse(results, {"g2p": ["em"]})
    [floor] = evidence.analyse(find_results([tmp_path]), {"g2p": ["f1"]})  # f1 0 everywhere: at its floor
    plotted, notes = benefit_series([item, floor], "g2p")
    assert plotted == [item] and notes == ["f1: not plotted, no measurable natural benefit (CI 0.00..0.00)"]
    assert plot_benefit([item, floor], tmp_path / "plot").name == "benefit.png"
    assert [r.label for r in item.rows] == [
        "Random Init", "t5 [all]", "Per Param Scale ← Set", "Set [all_but_embedding]", "pre-attn LN = 0.4"
    ]  # fmt: skip
    assert item.natural_gain.estimate == pytest.approx(10.5) and item.natural_gain.above(0)
    rows = {r.label: r for r in item.rows}
    assert rows["Set [all_but_embedding]"].benefit.interval.estimate == pytest.approx(100 * 6.5 / 10.5)
    verdicts = {v.row: v.verdict for v in item.verdicts}
    assert verdicts["Set [all_but_embedding]"].startswith("reproduced (CI ")
    assert "the paper's 65 % is inside the CI" in verdicts["Set [all_but_embedding]"]
    assert verdicts["Per Param Scale ← Set"].startswith("inconclusive (CI -")
    assert verdicts["pre-attn LN = 0.4"].startswith("reproduced (difference CI 0.")
    text = evidence.to_markdown([item])
    assert "| Set [all_but_embedding] | 55.25 ± " in text and "### Verdicts" in text
    assert "Set pre-training gives a share of natural pre-training's benefit (paper: 65 %)" in text
    with pytest.raises(SynptError, match="two runs with seed 0"):
        evidence.analyse([*results, results[0]], {"g2p": ["em"]})


@pytest.mark.parametrize("name", ["quickstart", "cpu", "gpu"])
def test_every_profile_resolves_with_its_natural_and_random_rows(name):
    spec = resolve_spec(name)
    labels = [row.label for row in spec.rows]
    assert labels == ["Random Init", "natural", "Set", "Per Param Scale ← Set", "pre-attn LN = 0.4"]
    assert [row.natural for row in spec.rows] == [False, True, False, False, False]
    plateaus = {p.task: p.plateau for p in spec.pretrain}
    assert plateaus == {"natural_text": "loss", "set": "accuracy"}
    assert all(any(b.startswith("TRAIN_EXAMPLES=") for b in task.gin_bindings) for task in spec.tasks)
    assert spec.seeds >= 3 and (name == "quickstart") == ([t.name for t in spec.tasks] == ["g2p"])


def test_plateau_rules_stop_synthetic_at_accuracy_and_natural_at_loss():
    from synpt.experiments.pretraining import plateau_rule
    from synpt.experiments.profiles import PretrainRow

    synthetic = plateau_rule(PretrainRow("set", "Set", patience=2, min_delta=0.01))
    accuracy = lambda *values: [{"accuracy": v, "loss": 1.0} for v in values]  # noqa: E731
    assert synthetic(accuracy(0.2, 0.4, 0.5)) is None  # still improving
    assert synthetic(accuracy(0.2, 0.5, 0.505, 0.51)).startswith("validation accuracy plateau")  # +0.01 at most
    assert synthetic(accuracy(0.2, 0.995)).endswith("(task learnt)")
    natural = plateau_rule(PretrainRow("natural_text", "natural", plateau="loss", patience=2, min_delta=0.01))
    loss = lambda *values: [{"accuracy": 0.1, "loss": v} for v in values]  # noqa: E731
    assert natural(loss(3.0, 2.5, 2.0)) is None
    assert natural(loss(3.0, 2.0, 1.99, 1.985)).startswith("validation loss plateau")  # < 1 % below 2.0
    assert natural(loss(3.0, 2.0, 1.99, 1.90)) is None


def test_jobs_fine_tune_rows_without_a_checkpoint_while_pre_training_runs(tmp_path, monkeypatch):
    """With --jobs 2, a free worker trains Random Init cells while the pre-training runs; a transfer cell starts
    only after its own pre-training has finished."""
    import threading
    import time

    from synpt.experiments import study

    spec = resolve_spec("quickstart", spec_file=tiny_spec(tmp_path, seeds=2))
    events, lock = [], threading.Lock()

    def fake_cell(cell, out):
        with lock:
            events.append(("start", cell.name))
        time.sleep(0.4 if cell.kind == "pretrain" else 0.05)
        with lock:
            events.append(("end", cell.name))

    monkeypatch.setattr(study, "_run_cell_subprocess", fake_cell)
    run_study(spec, tmp_path / "study", jobs=2)
    order = [f"{what} {name}" for what, name in events]
    pretrain_end = order.index("end pretrain/identity")
    assert order.index("start finetune/g2p/Random_Init/seed_0") < pretrain_end
    assert min(i for i, e in enumerate(order) if e.startswith("start finetune/g2p/natural")) > pretrain_end
    assert len(order) == 2 * (1 + 2 * 2)
