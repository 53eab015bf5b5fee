"""The fine-tuning driver: its plan (init, settings, model config, refusals; without JAX), data dir and host shard."""

import itertools
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from synpt import cli, progress
from synpt.catalog import get_task
from synpt.errors import SynptError
from synpt.experiments.plan import (
    FINETUNE_UNUSED,
    FinetuneRequest,
    InitPlan,
    Knobs,
    build_model_config,
    parse_gin_bindings,
    plan_init,
    plan_run,
    resolve_settings,
)
from synpt.experiments.plan import check_same_request as _check_same_request
from synpt.model.config import get_config
from synpt.train.gin_config import parse_gin
from synpt.train.trackers import markdown_table

REPO_ROOT = Path(__file__).resolve().parents[1]


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
    with pytest.raises(SynptError, match="unknown gin key 'NOPE'"):
        parse_gin_bindings(("NOPE=1",))
    with pytest.raises(SynptError, match="synpt finetune does not use SCHEDULE: fine-tuning uses a constant"):
        parse_gin_bindings(("SCHEDULE='rsqrt'",))


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


def test_a_directory_from_before_run_json_with_a_different_request_is_refused(tmp_path):
    (tmp_path / "request.json").write_text(json.dumps(request(init="from_scratch").identity()))
    _check_same_request(tmp_path, request(init="from_scratch"))
    with pytest.raises(SynptError, match="another configuration"):
        _check_same_request(tmp_path, request(pre_attn_ln_value=0.4))
    # bindings recorded as typed (earlier versions) and as final values (request_from_args) are the same run
    (tmp_path / "request.json").write_text(json.dumps(request(gin_bindings=("PADDING=fixed",)).identity()))
    _check_same_request(tmp_path, request(gin_bindings=("PADDING='fixed'",)))
    with pytest.raises(SynptError, match=r"gin_bindings: \['PADDING=fixed'\] -> \[\"PADDING='bucket'\"\]"):
        _check_same_request(tmp_path, request(gin_bindings=("PADDING='bucket'",)))


def test_finetune_cli_rejects_a_pretraining_task_and_missing_gin_files(tmp_path, capsys):
    assert cli.main(["finetune", "--task", "set", "--out", str(tmp_path / "x")]) == 2
    assert "needs a downstream task" in capsys.readouterr().err
    assert cli.main(["finetune", "--task", "g2p", "--out", str(tmp_path / "x"), "--gin_file=a.gin"]) == 2
    assert "gin file 'a.gin' not found" in capsys.readouterr().err
    assert cli.main(["finetune", "--task", "g2p"]) == 2
    assert "synpt finetune needs --out (or --gin.MODEL_DIR=...)" in capsys.readouterr().err


def test_finetune_gin_bindings_use_the_one_gin_parser():
    with pytest.raises(SynptError, match="TRAIN_STEPS must be int"):
        parse_gin_bindings(("TRAIN_STEPS=1.5",))
    settings, knobs = parse_gin_bindings(("TRAIN_STEPS=100", "EVAL_PERIOD=%TRAIN_STEPS", "PACK=True"))
    assert settings == {"steps": 100, "eval_period": 100, "pack": True} and knobs == {}


PLAN_WITHOUT_JAX = """
import json, sys
from pathlib import Path
sys.modules.update({name: None for name in ("jax", "jaxlib", "flax", "optax", "orbax", "orbax.checkpoint")})
from synpt.experiments.plan import FinetuneRequest, plan_run

out, ckpt = Path(sys.argv[1]), sys.argv[2]
tiny = plan_run(FinetuneRequest(task="g2p", out=out / "tiny", scale="tiny"))
scale = plan_run(FinetuneRequest(task="g2p", out=out / "scale", scale="tiny", init="per_param_scale", ckpt=ckpt))
print(json.dumps({
    "steps": tiny.train_config.steps, "rows": tiny.model_config.vocab_size, "d_model": tiny.model_config.d_model,
    "padding": tiny.train_config.padding, "resuming": tiny.resuming, "table": scale.paper_table,
    "label": scale.ckpt_label, "scheme": scale.init.scheme, "scale_d_ff": scale.model_config.d_ff,
}))
"""


def test_a_run_is_planned_without_jax(tmp_path):
    """plan.py decides everything (settings, model, init, checkpoint label, resume) with JAX impossible to import."""
    ckpt = tmp_path / "pretrain_set"
    (ckpt / "checkpoint_5" / "params").mkdir(parents=True)
    (ckpt / "checkpoint_5" / "extra").mkdir()
    source = get_config("tiny", vocab_size=256, d_ff=256)
    (ckpt / "checkpoint_5" / "extra" / "metadata").write_text(json.dumps({"model_config": source.to_dict()}))
    (ckpt / "config.json").write_text(json.dumps({"run": {"task": "set"}}))
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    done = subprocess.run(
        [sys.executable, "-c", PLAN_WITHOUT_JAX, str(tmp_path / "runs"), str(ckpt)],
        capture_output=True, text=True, env=env, cwd=tmp_path, timeout=120,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    planned = json.loads(done.stdout.strip().splitlines()[-1])
    assert planned == {
        "steps": 30, "rows": 384, "d_model": 128, "padding": "fixed", "resuming": False, "table": "table2",
        "label": "set@5", "scheme": "per_param_grouping___init_scale", "scale_d_ff": 256,
    }  # fmt: skip


def write_user_task(data_dir: Path, name: str = "mybench") -> Path:
    """A user's own task folder (train/valid/test.txt of `source<TAB>target` lines) and a small SentencePiece model
    standing in for the T5 vocabulary, so that the test needs no download."""
    from synpt.vocab import train_sentencepiece

    words = ["red", "green", "blue", "cat", "dog", "bird", "one", "two", "three", "sun", "moon", "star"]
    pairs = lambda n, offset: [(f"{words[(i + offset) % 12]} {words[(3 * i + offset) % 12]}") for i in range(n)]
    folder = data_dir / "finetuning_data" / name
    folder.mkdir(parents=True)
    for split, count, offset in (("train", 40, 0), ("valid", 8, 1), ("test", 8, 2)):
        lines = [f"{text}\t{' '.join(reversed(text.split()))}" for text in pairs(count, offset)]
        (folder / f"{split}.txt").write_text("\n".join(lines) + "\n")
    train_sentencepiece(pairs(40, 0), size=30, out=data_dir / "vocab" / "t5_spiece.model")
    return data_dir


def test_finetune_finds_a_user_task_in_its_data_dir(tmp_path, monkeypatch, capsys):
    """`synpt finetune --task mybench --data-dir DIR` runs end to end when DIR/finetuning_data/mybench/ exists
    (the task was looked up before --data-dir was resolved: "unknown task")."""
    monkeypatch.delenv("SYNPT_DATA_DIR", raising=False)
    monkeypatch.chdir(tmp_path)  # ./data has no such folder: only --data-dir knows the task
    data_dir = write_user_task(tmp_path / "my_data")
    argv = ["finetune", "--task", "mybench", "--data-dir", str(data_dir), "--scale", "tiny"]
    argv += ["--out", str(tmp_path / "run"), "--gin.TRAIN_STEPS=4", "--gin.EVAL_PERIOD=2"]
    monkeypatch.setattr(progress, "PLAIN_INTERVAL_S", 0.0)  # a progress line at every update (no terminal here)
    assert cli.main(argv) == 0, capsys.readouterr().err
    results = json.loads((tmp_path / "run" / "results.json").read_text())
    assert (results["task"], results["paper_metric"], results["settings"]["steps"]) == ("mybench", "em", 4)
    assert results["best_step"] in (2, 4) and (tmp_path / "run" / "predictions" / "step_4.json").is_file()
    # progress for the evals and the decoding inside training, and a train ETA that counts the evals left
    err = capsys.readouterr().err
    assert "[eval] " in err and "[decoding] " in err and "incl. 1 evals" in err, err
    # the operative config, in synpt train's macros, and the decoded examples as a TensorBoard text summary
    operative = parse_gin([str(tmp_path / "run" / "config.gin")], [], unused=FINETUNE_UNUSED)
    assert (operative["MIXTURE_OR_TASK_NAME"], operative["TRAIN_STEPS"], operative["EVAL_PERIOD"]) == ("mybench", 4, 2)
    (events,) = (tmp_path / "run" / "tensorboard" / "inference").glob("events.*")
    shown = json.loads((tmp_path / "run" / "predictions" / "step_4.json").read_text())
    assert markdown_table(shown).encode() in events.read_bytes()


def test_finetune_trains_on_this_hosts_shard_of_the_train_stream(tmp_path, monkeypatch):
    """Like `synpt train`, host i of n gets the train examples with global index = i mod n (one shared helper)."""
    import jax

    from synpt.experiments import finetune

    monkeypatch.setattr(jax, "process_index", lambda: 1)
    monkeypatch.setattr(jax, "process_count", lambda: 3)
    given = {}

    class Stop(Exception):
        pass

    def fake_train(config, *, train_stream, **_):
        given["train_stream"] = train_stream
        raise Stop

    monkeypatch.setattr(finetune, "train", fake_train)
    request = FinetuneRequest(task="g2p", out=tmp_path / "run", scale="tiny")
    with pytest.raises(Stop):
        finetune.run_finetune(request, progress=False)
    task = plan_run(request).task
    head = lambda stream: [example["targets"].tolist() for example in itertools.islice(stream, 6)]
    shard = task.examples("train", seed=0, start=5, shard_index=1, shard_count=3)
    assert head(given["train_stream"](5)) == head(shard)
    assert head(given["train_stream"](5)) != head(task.examples("train", seed=0, start=5))


def test_train_examples_and_vocab_choose_the_fine_tuning_data(tmp_path):
    """TRAIN_EXAMPLES=N trains on the first N examples in file order (each epoch a shuffle of those N, the same N
    for every seed); --vocab picks the tokenizer and is part of the run's identity."""
    request = FinetuneRequest(task="g2p", out=tmp_path / "run", scale="tiny", gin_bindings=("TRAIN_EXAMPLES=5",))
    task = plan_run(request).task
    full = plan_run(FinetuneRequest(task="g2p", out=tmp_path / "full", scale="tiny")).task
    outside = {tuple(next(full.examples("validation"))["inputs"])}  # a validation row, for contrast
    seen = {tuple(example["inputs"]) for example in itertools.islice(task.examples("train", seed=3), 30)}
    subset, _ = full.evaluation_set("train", limit=5)
    assert seen == {tuple(example["inputs"]) for example in subset} and not seen & outside
    other_seed = {tuple(example["inputs"]) for example in itertools.islice(task.examples("train", seed=4), 30)}
    assert other_seed == seen
    bytes_request = FinetuneRequest(task="g2p", out=tmp_path / "b", scale="tiny", vocab="bytes")
    assert plan_run(bytes_request).task.vocab == "bytes" and bytes_request.identity()["vocab"] == "bytes"
