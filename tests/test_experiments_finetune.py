"""The fine-tuning driver's decisions that need no training: init plan, settings, model config, refusals."""

import json
from pathlib import Path

import pytest

from synpt import cli
from synpt.catalog import get_task
from synpt.errors import SynptError
from synpt.experiments.finetune import (
    FinetuneRequest,
    InitPlan,
    Knobs,
    _check_same_request,
    build_model_config,
    parse_gin_bindings,
    plan_init,
    resolve_settings,
)
from synpt.model.config import get_config


def request(**fields) -> FinetuneRequest:
    return FinetuneRequest(**{"task": "mtop", "out": Path("unused"), **fields})


def test_init_plans_and_their_tables():
    assert plan_init(request()) == InitPlan(None, None, None)
    assert plan_init(request()).paper_table == "table1"
    plan = plan_init(request(init="all_but_embedding", ckpt="c"))
    assert (plan.transfer, plan.scheme, plan.paper_table) == ("all_but_embedding", None, "table1")
    plan = plan_init(request(init="per_param_scale", ckpt="c"))  # an alias resolves to the reference id
    assert (plan.scheme, plan.paper_table) == ("per_param_grouping___init_scale", "table2")
    plan = plan_init(request(pre_attn_ln_value=0.4))
    assert (plan.pre_attn_ln_value, plan.paper_table) == (0.4, "table3")
    assert plan_init(request(init="all", ckpt="c", pre_attn_ln_value=0.4)).paper_table == "table1"


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"init": "all"}, "pass --ckpt"),
        ({"init": "per_param_grouping___init_mean_std"}, "pass --ckpt"),
        ({"ckpt": "c"}, "is unused with --init from_scratch"),
        ({"init": "all", "transfer": "all_but_embedding", "ckpt": "c"}, "disagree"),
        ({"transfer": "all"}, "use --init all to transfer"),
        ({"init": "best_init"}, "--init 'best_init' is not valid"),
    ],
)
def test_inconsistent_init_flags_are_clear_errors(fields, message):
    with pytest.raises(SynptError, match=message):
        plan_init(request(**fields))


def test_gin_bindings_map_reference_macros():
    settings, knobs = parse_gin_bindings(("TRAIN_STEPS=7", "PERIOD=3", "BEAM_SIZE=2", "PADDING='fixed'"))
    assert settings == {"steps": 7, "eval_period": 3} and knobs == {"beam_size": 2, "padding": "fixed"}
    with pytest.raises(SynptError, match="does not know 'NOPE'"):
        parse_gin_bindings(("NOPE=1",))


def test_settings_follow_the_paper_table_scale_and_overrides():
    task = get_task("code_translation")
    _, table1, knobs = resolve_settings(request(task="code_translation"), task, InitPlan(None, None, None))
    _, table2, _ = resolve_settings(request(task="code_translation"), task, InitPlan(None, "x", None))
    assert (table1.evaluator_num_examples, table2.evaluator_num_examples) == (5000, 10000)
    assert (table1.learning_rate, table1.steps, table1.batch_size, knobs.z_loss, knobs.beam_size) == (
        3e-3, 150_000, 32, 1e-4, 4
    )  # fmt: skip
    tiny_task, tiny, tiny_knobs = resolve_settings(
        request(task="code_translation", scale="tiny", steps=12), task, InitPlan(None, None, None)
    )
    assert (tiny.steps, tiny.input_length, tiny.target_length, tiny.max_decode_length) == (12, 128, 64, 64)
    assert tiny_task.settings == tiny and tiny_knobs.padding == "fixed"
    squad = get_task("squad")
    _, squad1, _ = resolve_settings(request(task="squad"), squad, InitPlan(None, None, None))
    _, squad3, _ = resolve_settings(request(task="squad"), squad, InitPlan(None, None, 0.4))
    assert (squad1.pack, squad3.pack, squad1.decode_split) == (True, False, "validation")
    with pytest.raises(SynptError, match="max_decode_length 100 > target length 64"):
        resolve_settings(
            request(task="code_translation", scale="tiny", gin_bindings=("MAX_DECODE_LENGTH=100",)),
            task,
            InitPlan(None, None, None),
        )


def test_model_vocabulary_rows_and_checkpoint_architecture():
    knobs = Knobs()
    fresh = build_model_config(request(model="tiny"), InitPlan(None, None, None), 259, knobs, None)
    assert (fresh.vocab_size, fresh.d_model, fresh.dropout_rate) == (384, 128, 0.1)
    source = get_config("tiny", vocab_size=640, dropout_rate=0.0)
    moved = build_model_config(request(ckpt="c"), InitPlan("all_but_embedding", None, None), 32100, knobs, source)
    assert (moved.vocab_size, moved.d_model, moved.dropout_rate) == (32128, 128, 0.1)
    with pytest.raises(SynptError, match="use --init all_but_embedding"):
        build_model_config(request(ckpt="c"), InitPlan("all", None, None), 32100, knobs, source)
    with pytest.raises(SynptError, match="differs from the architecture"):
        build_model_config(request(ckpt="c", model="t5_small"), InitPlan("all", None, None), 300, knobs, source)


def test_a_different_run_in_the_same_directory_is_refused(tmp_path):
    (tmp_path / "request.json").write_text(json.dumps(request(init="from_scratch").identity()))
    _check_same_request(tmp_path, request(init="from_scratch"))
    with pytest.raises(SynptError, match="another configuration"):
        _check_same_request(tmp_path, request(pre_attn_ln_value=0.4))


def test_finetune_cli_rejects_a_pretraining_task_and_gin_files(tmp_path, capsys):
    assert cli.main(["finetune", "--task", "set", "--out", str(tmp_path / "x")]) == 2
    assert "needs a downstream task" in capsys.readouterr().err
    assert cli.main(["finetune", "--task", "g2p", "--out", str(tmp_path / "x"), "--gin_file=a.gin"]) == 2
    assert "no --gin_file" in capsys.readouterr().err
