"""`synpt init` / `synpt stats` end to end on the real tiny models, checkpoints and Hugging Face round trips."""

from __future__ import annotations

import json

import jax
import numpy as np
import pytest

from synpt import cli
from synpt.init import SCHEMES, apply_init
from synpt.init.groups import OUTPUT_LAYER, parse_roles
from synpt.init.stats import parameter_stats
from synpt.model.config import get_config
from synpt.model.hf import write_hf_model
from synpt.model.t5 import flatten_names, init_params, unflatten_names
from synpt.train.checkpoints import load_params
from synpt.train.sources import load_checkpoint


@pytest.fixture(scope="module")
def source_dir(tmp_path_factory):
    """A params-only tiny checkpoint written by `synpt init` itself (Random Init, seed 1)."""
    path = tmp_path_factory.mktemp("init") / "source"
    assert cli.main(["init", "--model", "tiny", "--seed", "1", "--out", str(path)]) == 0
    return path


def flat_numpy(params):
    return {name: np.asarray(value) for name, value in flatten_names(params).items()}


def model_shaped_tree(config, seed):
    """Random values in the exact tree of the real model's `init_params` (traced with eval_shape, not compiled)."""
    rng = np.random.default_rng(seed)
    shapes = jax.eval_shape(lambda: init_params(config, 0))
    return jax.tree.map(lambda leaf: rng.standard_normal(leaf.shape).astype(np.float32), shapes)


@pytest.mark.parametrize("preset", ["tiny", "tiny_1_1"])
def test_every_scheme_runs_on_the_real_model_tree(preset):
    config = get_config(preset, vocab_size=256)
    fresh, source = model_shaped_tree(config, 0), model_shaped_tree(config, 1)
    roles = parse_roles(flatten_names(fresh))
    assert any(role.role == OUTPUT_LAYER for role in roles) == (not config.tie_embeddings)
    for init_id in SCHEMES:
        params, _ = apply_init(fresh, scheme=init_id, source_params=source, seed=0)
        result, original = flatten_names(params), flatten_names(fresh)
        assert result["token_embedder/embedding"] is original["token_embedder/embedding"]
        if not config.tie_embeddings:
            assert result["decoder/logits_dense/kernel"] is original["decoder/logits_dense/kernel"]


def test_init_cli_transfer_scheme_and_layer_norm_value(source_dir, tmp_path, capsys):
    """One CLI run through all three steps; every value is then recomputed in-process from the written checkpoint.

    With transfer all_but_embedding + Per Param Scale, only the token embedding comes from the fresh init (and
    it is kept verbatim), so the expected result is apply_init on {written embedding, source values}.
    """
    out = tmp_path / "initialised"
    argv = ["init", "--model", "tiny", "--transfer", "all_but_embedding", "--ckpt", str(source_dir)]
    argv += ["--scheme", "per_param_scale", "--pre-attn-ln-value", "-0.5", "--seed", "2", "--out", str(out)]
    assert cli.main(argv) == 0
    printed = capsys.readouterr().out
    assert "transfer=all_but_embedding" in printed and "init scheme per_param_grouping___init_scale" in printed
    written, config = flat_numpy(load_params(out)[0]), load_params(out)[1]
    source = flat_numpy(load_params(source_dir)[0])
    assert config == get_config("tiny")
    embedding = "token_embedder/embedding"
    assert not np.array_equal(written[embedding], source[embedding])
    fresh = {**source, embedding: written[embedding]}
    expected, log = apply_init(
        unflatten_names(fresh),
        transfer="all_but_embedding",
        scheme="per_param_scale",
        source_params=unflatten_names(source),
        pre_attn_ln_value="-0.5",
        seed=2,
    )
    expected = flat_numpy(expected)
    assert all(np.array_equal(written[name], expected[name]) for name in expected)
    np.testing.assert_array_equal(written["decoder/layers_1/pre_cross_attention_layer_norm/scale"], -0.5)
    metadata = json.loads((out / "metadata.json").read_text())
    assert metadata["init"]["transfer"] == "all_but_embedding" and metadata["init"]["seed"] == 2
    assert metadata["init_log"] == log


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--model", "tiny", "--transfer", "all"], "pass --ckpt CKPT"),
        (["--model", "tiny", "--scheme", "whole_model_scale"], "--stats-from"),
        (["--model", "tiny", "--scheme", "wholemodel"], "unknown init scheme 'wholemodel'"),
        (["--scheme", "mimetic"], "pass --model"),
        (["--model", "tiny", "--stats-from", "no/such/dir", "--scheme", "mlp_scale"], "does not exist"),
        (["--model", "tiny", "--pre-attn-ln-value", "pre_self_attn_ln-x"], "'x' is not a number"),
    ],
)
def test_init_cli_errors_are_messages(tmp_path, capsys, argv, message):
    assert cli.main(["init", *argv, "--out", str(tmp_path / "x")]) == 2
    assert message in capsys.readouterr().err


def test_stats_json_and_plot(source_dir, tmp_path, capsys):
    plot = tmp_path / "stats.png"
    assert cli.main(["stats", str(source_dir), "--json", "--plot", str(plot)]) == 0
    stats = json.loads(capsys.readouterr().out)
    source = flat_numpy(load_params(source_dir)[0])
    assert stats.keys() == source.keys()
    name = "encoder/layers_1/mlp/wo/kernel"
    values = source[name].astype(np.float64)
    assert stats[name]["shape"] == list(values.shape)
    assert stats[name]["mean"] == pytest.approx(values.mean()) and stats[name]["std"] == pytest.approx(values.std())
    assert stats[name]["rms"] == pytest.approx(np.sqrt((values**2).mean()))
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_stats_survive_a_hugging_face_round_trip(source_dir, tmp_path, capsys):
    """Export to HF and read back through `stats` (which uses import_hf for HF folders): statistics unchanged."""
    params, config = load_params(source_dir)
    write_hf_model(params, config, tmp_path / "hf")
    assert cli.main(["stats", str(source_dir), str(tmp_path / "hf"), "--json"]) == 0
    both = json.loads(capsys.readouterr().out)
    ours, theirs = both[str(source_dir)], both[str(tmp_path / "hf")]
    assert ours.keys() == theirs.keys()
    for name, entry in ours.items():
        assert theirs[name]["shape"] == entry["shape"]
        for key in ("mean", "std", "rms"):
            assert theirs[name][key] == pytest.approx(entry[key], rel=1e-6, abs=1e-9), (name, key)
    assert parameter_stats(params) == ours
    assert load_checkpoint(tmp_path / "hf")[1] == config


def test_real_t5_small_names_give_the_reference_group_counts():
    """The model's own T5-small tree (shapes only) against reference §6.4, and T5v1.1-small (8+8 layers, 188)."""
    t5_small = parse_roles(flatten_names(jax.eval_shape(lambda: init_params(get_config("t5_small"), 0))))
    assert [len(scheme.groups(t5_small)) for scheme in SCHEMES.values()] == [130, 130, 3, 18, 9, 28, 12, 72, 24]
    t5_1_1 = parse_roles(flatten_names(jax.eval_shape(lambda: init_params(get_config("t5_1_1_small"), 0))))
    assert [len(scheme.groups(t5_1_1)) for scheme in SCHEMES.values()] == [188, 188, 3, 24, 9, 36, 16, 96, 48]


def test_init_cli_refuses_to_overwrite_a_checkpoint(source_dir, capsys):
    assert cli.main(["init", "--model", "tiny", "--out", str(source_dir)]) == 2
    assert "already holds a params checkpoint" in capsys.readouterr().err
