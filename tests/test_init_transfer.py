"""Weight transfer (reference §6.1, quirk 9), the order transfer -> scheme -> layer-norm value, and Table 3 values."""

from __future__ import annotations

import numpy as np
import pytest

from synpt.errors import SynptError
from synpt.init import apply_init
from synpt.init.layernorm import parse_ln_values
from synpt.model.t5 import flatten_names, unflatten_names
from tests.test_init_trees import TINY, TINY_1_1, random_tree, t5x_shapes

EMBEDDING = "token_embedder/embedding"
LOGITS = "decoder/logits_dense/kernel"


def tiny_pair(config=TINY):
    shapes = t5x_shapes(**config)
    return random_tree(shapes, 1), random_tree(shapes, 2, distinct=True)


@pytest.mark.parametrize("config", [TINY, TINY_1_1], ids=["t5", "t5_1_1"])
def test_transfer_all_copies_everything_including_the_embedding(config):
    fresh, source = tiny_pair(config)
    params, log = apply_init(fresh, source_params=source, transfer="all")
    result, source_flat = flatten_names(params), flatten_names(source)
    assert all(np.array_equal(result[name], source_flat[name]) for name in source_flat)
    assert log == [f"transfer=all: copied {len(source_flat)} arrays from the checkpoint"]


@pytest.mark.parametrize("config", [TINY, TINY_1_1], ids=["t5", "t5_1_1"])
def test_transfer_all_but_embedding_keeps_fresh_embeddings_and_logs_them(config):
    fresh, source = tiny_pair(config)
    params, log = apply_init(fresh, source_params=source, transfer="all_but_embedding")
    result, fresh_flat, source_flat = flatten_names(params), flatten_names(fresh), flatten_names(source)
    kept = {EMBEDDING, LOGITS} if config["gated"] else {EMBEDDING}
    for name in fresh_flat:
        expected = fresh_flat if name in kept else source_flat
        assert result[name] is expected[name], name
    assert "kept the fresh random init of" in log[1] and EMBEDDING in log[1]
    assert ("decoder/logits_dense/kernel" in log[1]) == config["gated"]
    assert ("tied: output layer too" in log[1]) != config["gated"]


def test_from_scratch_is_logged_and_keeps_everything():
    fresh, _ = tiny_pair()
    params, log = apply_init(fresh)
    assert flatten_names(params).keys() == flatten_names(fresh).keys()
    result, fresh_flat = flatten_names(params), flatten_names(fresh)
    assert all(result[name] is fresh_flat[name] for name in fresh_flat)
    assert log == ["transfer=from_scratch: every parameter keeps its fresh random init"]


def test_all_but_embedding_accepts_another_vocabulary_but_all_does_not():
    fresh, _ = tiny_pair()
    source = random_tree(t5x_shapes(**{**TINY, "vocab": 200}), 3)
    apply_init(fresh, source_params=source, transfer="all_but_embedding")
    with pytest.raises(SynptError, match=r"token_embedder/embedding.*shape \(200, 64\)"):
        apply_init(fresh, source_params=source, transfer="all")


def test_transfer_errors_name_the_parameter():
    fresh, source = tiny_pair()
    flat = flatten_names(source)
    deeper = random_tree(t5x_shapes(**{**TINY, "layers": 3}), 0)
    with pytest.raises(SynptError, match="decoder/layers_2/.*the model lacks"):
        apply_init(fresh, source_params=deeper, transfer="all_but_embedding")
    del flat["encoder/layers_1/pre_mlp_layer_norm/scale"]
    with pytest.raises(SynptError, match="no parameter 'encoder/layers_1/pre_mlp_layer_norm/scale'"):
        apply_init(fresh, source_params=unflatten_names(flat), transfer="all")
    with pytest.raises(SynptError, match="unknown --transfer 'some'"):
        apply_init(fresh, source_params=source, transfer="some")
    with pytest.raises(SynptError, match="--ckpt"):
        apply_init(fresh, transfer="all")
    with pytest.raises(SynptError, match="nothing uses it"):
        apply_init(fresh, source_params=source)


def test_order_is_transfer_then_scheme_then_layer_norm_value():
    fresh, source = tiny_pair()
    params, log = apply_init(
        fresh,
        source_params=source,
        transfer="all_but_embedding",
        scheme="attention_scale",
        pre_attn_ln_value=0.25,
        seed=4,
    )
    result, source_flat = flatten_names(params), flatten_names(source)
    assert [line.split(" ")[0] for line in log if not line.startswith(" ")] == [
        "transfer=all_but_embedding:",
        "transfer=all_but_embedding:",
        "init",
        "layer-norm",
    ]
    assert result["encoder/layers_0/mlp/wi/kernel"] is source_flat["encoder/layers_0/mlp/wi/kernel"]
    query = "encoder/layers_0/attention/query/kernel"
    assert not np.array_equal(result[query], source_flat[query])
    assert abs(result[query].std() - source_flat[query].std()) < 0.2 * source_flat[query].std()
    np.testing.assert_array_equal(result["decoder/layers_1/pre_cross_attention_layer_norm/scale"], 0.25)
    pre_mlp = "decoder/layers_1/pre_mlp_layer_norm/scale"
    assert result[pre_mlp] is source_flat[pre_mlp]


def count_set(params, value):
    return sorted(name for name, array in flatten_names(params).items() if np.all(array == np.float32(value)))


@pytest.mark.parametrize("value", [0.4, "0.4", -0.1, "-1e-3", "pre_self_attn_ln-0.4---pre_cross_attn_ln-0.4"])
def test_pre_attention_value_sets_exactly_the_pre_attention_norms(value):
    fresh, _ = tiny_pair()
    number = float(value) if not str(value).startswith("pre") else 0.4
    params, log = apply_init(fresh, pre_attn_ln_value=value)
    changed = count_set(params, number)
    assert changed == sorted(
        [f"encoder/layers_{i}/pre_attention_layer_norm/scale" for i in range(2)]
        + [f"decoder/layers_{i}/pre_self_attention_layer_norm/scale" for i in range(2)]
        + [f"decoder/layers_{i}/pre_cross_attention_layer_norm/scale" for i in range(2)]
    )
    assert all(np.all(flatten_names(params)[name] == 1.0) for name in flatten_names(params) if "mlp_layer" in name)
    assert "set 6 scale vectors" in log[-1]


def test_pre_mlp_norms_optionally_and_separate_values():
    fresh, _ = tiny_pair()
    params, _ = apply_init(fresh, pre_attn_ln_value="-2.5", include_pre_mlp_ln=True)
    assert len(count_set(params, -2.5)) == 6 + 4
    assert all(np.all(a == 1.0) for n, a in flatten_names(params).items() if n.endswith(("encoder_norm/scale",)))
    params, _ = apply_init(fresh, pre_attn_ln_value="pre_self_attn_ln-0.2---pre_cross_attn_ln--1e-2")
    assert len(count_set(params, 0.2)) == 4 and len(count_set(params, -1e-2)) == 2
    assert parse_ln_values("pre_cross_attn_ln-0.5") == {"pre_cross_attn_ln": 0.5}


@pytest.mark.parametrize(
    ("value", "include_mlp", "message"),
    [
        ("big", False, "'big' is not a number"),
        ("pre_self_attn_ln-x", False, "'x' is not a number"),
        ("pre_key_ln-0.3---pre_self_attn_ln-0.1", False, "unknown target 'pre_key_ln'"),
        ("pre_self_attn_ln-0.2---pre_cross_attn_ln-0.4", True, "---pre_mlp_ln-VALUE"),
        (None, True, "needs --pre-attn-ln-value"),
    ],
)
def test_layer_norm_value_errors(value, include_mlp, message):
    with pytest.raises(SynptError, match=message):
        apply_init(tiny_pair()[0], pre_attn_ln_value=value, include_pre_mlp_ln=include_mlp)
