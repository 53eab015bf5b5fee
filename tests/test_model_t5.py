"""T5 model: T5X names and counts, default inits, configs, relative positions, packing, dropout, dtypes."""

from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from synpt.errors import SynptError
from synpt.model.config import PRESETS, T5Config, get_config
from synpt.model.t5 import T5, _dropout, flatten_names, init_params, relative_position_bucket, unflatten_names


def _abstract_params(config: T5Config) -> dict:
    dummy = jnp.ones((1, 1), jnp.int32)
    return flatten_names(jax.eval_shape(lambda: T5(config).init(jax.random.PRNGKey(0), dummy, dummy))["params"])


def _expected_t5_small_names() -> set[str]:
    """The 131 names of reference §3.3, written out independently of the model code."""
    names = {"token_embedder/embedding", "encoder/relpos_bias/rel_embedding", "decoder/relpos_bias/rel_embedding"}
    names |= {"encoder/encoder_norm/scale", "decoder/decoder_norm/scale"}
    qkvo = ("query", "key", "value", "out")
    for i in range(6):
        enc, dec = f"encoder/layers_{i}", f"decoder/layers_{i}"
        names |= {f"{enc}/pre_attention_layer_norm/scale", f"{enc}/pre_mlp_layer_norm/scale"}
        names |= {f"{enc}/attention/{p}/kernel" for p in qkvo} | {f"{enc}/mlp/{m}/kernel" for m in ("wi", "wo")}
        for norm in ("pre_self_attention_layer_norm", "pre_cross_attention_layer_norm", "pre_mlp_layer_norm"):
            names.add(f"{dec}/{norm}/scale")
        for attention in ("self_attention", "encoder_decoder_attention"):
            names |= {f"{dec}/{attention}/{p}/kernel" for p in qkvo}
        names |= {f"{dec}/mlp/{m}/kernel" for m in ("wi", "wo")}
    return names


def test_t5_small_has_the_t5x_names_and_parameter_count():
    shapes = _abstract_params(get_config("t5_small"))
    assert len(shapes) == 131
    assert set(shapes) == _expected_t5_small_names()
    assert shapes["token_embedder/embedding"].shape == (32128, 512)
    assert shapes["encoder/relpos_bias/rel_embedding"].shape == (8, 32)
    assert shapes["decoder/layers_5/mlp/wo/kernel"].shape == (2048, 512)
    # Reference §3.3 states 60,518,912, but its own table sums to 60,506,624 (= HF t5-small's num_parameters()).
    assert sum(int(np.prod(s.shape)) for s in shapes.values()) == 60_506_624
    assert all(s.dtype == jnp.float32 for s in shapes.values())


def test_t5_1_1_small_names_and_parameter_count():
    shapes = _abstract_params(get_config("t5_1_1_small"))
    assert sum(int(np.prod(s.shape)) for s in shapes.values()) == 76_961_152  # the 76.9 M of reference §3.1
    assert shapes["decoder/logits_dense/kernel"].shape == (512, 32128)
    assert shapes["encoder/layers_7/attention/query/kernel"].shape == (512, 384)
    assert shapes["encoder/layers_7/attention/out/kernel"].shape == (384, 512)
    assert {"encoder/layers_0/mlp/wi_0/kernel", "encoder/layers_0/mlp/wi_1/kernel"} <= set(shapes)
    assert not any(name.endswith("mlp/wi/kernel") for name in shapes)


def test_default_initialisers_match_reference():
    config = get_config("tiny_1_1", vocab_size=96, dropout_rate=0.0)  # as test_model_hf: d_model 128, 4 x 32, d_ff 512
    flat = flatten_names(init_params(config, 0))
    d, inner, heads = 128, 128, 4
    stds = {
        "token_embedder/embedding": 1.0,
        "encoder/layers_0/attention/key/kernel": 1 / np.sqrt(d),
        "encoder/layers_0/attention/query/kernel": 1 / np.sqrt(d) / np.sqrt(32),
        "decoder/layers_1/encoder_decoder_attention/out/kernel": 1 / np.sqrt(inner),
        "encoder/layers_0/mlp/wi_0/kernel": 1 / np.sqrt(d),
        "decoder/layers_0/mlp/wo/kernel": 1 / np.sqrt(512),
        "decoder/logits_dense/kernel": 1 / np.sqrt(d),
    }
    for name, std in stds.items():
        assert np.std(flat[name]) == pytest.approx(std, rel=0.03), name
    mlp = flat["encoder/layers_0/mlp/wi_0/kernel"]  # truncated at 2 sigma of the underlying normal
    assert np.abs(mlp).max() <= 2 * (1 / np.sqrt(d)) / 0.87962566 + 1e-6
    assert np.abs(flat["encoder/layers_0/attention/key/kernel"]).max() > 3 / np.sqrt(d)  # untruncated
    table = flat["decoder/relpos_bias/rel_embedding"]
    assert table.shape == (heads, 32)
    assert np.abs(table).max() <= np.sqrt(3 / ((heads + 32) / 2)) and np.abs(table).max() > 0.9 * np.sqrt(3 / 18)
    assert np.all(flat["decoder/layers_1/pre_cross_attention_layer_norm/scale"] == 1.0)
    again = flatten_names(init_params(config, 0))
    assert all(np.array_equal(flat[k], again[k]) for k in flat)  # seeded
    assert unflatten_names(flat).keys() == {"token_embedder", "encoder", "decoder"}
    assert flatten_names(unflatten_names(flat)).keys() == flat.keys()


def test_config_errors_and_round_trip():
    with pytest.raises(SynptError, match="bfloat16"):
        get_config("t5_small", dtype="float16")
    with pytest.raises(SynptError, match="tiny_1_1"):
        get_config("t5_huge")
    with pytest.raises(SynptError, match="num_layers"):
        get_config("tiny", num_layers=3)
    for config in PRESETS.values():
        assert T5Config.from_dict(config.to_dict()) == config
    assert PRESETS["t5_base"].d_model == 768 and PRESETS["t5_base"].num_encoder_layers == 12


def test_relative_position_buckets_match_reference_and_hugging_face():
    torch = pytest.importorskip("torch")  # the HF comparison needs the `hf` extra (not installed by ./setup.sh gpu)
    T5Attention = pytest.importorskip("transformers.models.t5.modeling_t5").T5Attention
    n = np.arange(-300, 301)
    for bidirectional in (True, False):
        ours = np.asarray(relative_position_bucket(jnp.asarray(n), bidirectional=bidirectional))
        # HF takes memory - query = -(query - memory).
        theirs = T5Attention._relative_position_bucket(torch.tensor(-n), bidirectional=bidirectional).numpy()
        np.testing.assert_array_equal(ours, theirs)
    encoder = dict(
        zip(n.tolist(), np.asarray(relative_position_bucket(jnp.asarray(n), bidirectional=True)).tolist(), strict=True)
    )
    assert [encoder[i] for i in (0, 1, 7, 8, 127, 128, 300, -1, -7, -128)] == [0, 1, 7, 8, 15, 15, 15, 17, 23, 31]
    decoder = dict(
        zip(n.tolist(), np.asarray(relative_position_bucket(jnp.asarray(n), bidirectional=False)).tolist(), strict=True)
    )
    assert [decoder[i] for i in (-5, 0, 15, 16, 127, 128, 300)] == [0, 0, 15, 16, 31, 31, 31]


MICRO = dict(vocab_size=64, d_model=32, num_heads=2, head_dim=16, d_ff=64, num_encoder_layers=1, num_decoder_layers=1)


@pytest.fixture(scope="module")
def tiny_model():
    config = get_config("tiny", **MICRO, dropout_rate=0.1)
    return config, init_params(config, 1)


def _forward(config: T5Config):
    """The jit-compiled teacher-forced forward pass (op-by-op dispatch is slow on CPU)."""
    return jax.jit(T5(config).apply, static_argnames=("enable_dropout",))


def test_packed_examples_do_not_see_each_other(tiny_model):
    config, params = tiny_model
    forward = _forward(config)
    a_in, a_dec, b_in, b_dec = [3, 4, 5, 1], [0, 7, 8], [9, 10, 1], [0, 11, 12, 13]
    single = [
        forward({"params": params}, jnp.asarray([i]), jnp.asarray([d])) for i, d in ((a_in, a_dec), (b_in, b_dec))
    ]
    packed = forward(
        {"params": params},
        jnp.asarray([a_in + b_in + [0]]),
        jnp.asarray([a_dec + b_dec + [0]]),
        encoder_segment_ids=jnp.asarray([[1] * 4 + [2] * 3 + [0]]),
        decoder_segment_ids=jnp.asarray([[1] * 3 + [2] * 4 + [0]]),
        encoder_positions=jnp.asarray([[0, 1, 2, 3, 0, 1, 2, 0]]),
        decoder_positions=jnp.asarray([[0, 1, 2, 0, 1, 2, 3, 0]]),
    )
    np.testing.assert_allclose(packed[0, :3], single[0][0], atol=1e-5)
    np.testing.assert_allclose(packed[0, 3:7], single[1][0], atol=1e-5)


def test_dropout_is_seeded_and_off_by_default(tiny_model):
    config, params = tiny_model
    enc, dec = jnp.asarray([[5, 6, 7, 1]]), jnp.asarray([[0, 8, 9]])
    forward = _forward(config)
    plain = forward({"params": params}, enc, dec)
    run = lambda seed: forward(  # noqa: E731
        {"params": params}, enc, dec, enable_dropout=True, rngs={"dropout": jax.random.PRNGKey(seed)}
    )
    np.testing.assert_array_equal(run(0), run(0))
    assert not np.allclose(run(0), run(1)) and not np.allclose(run(0), plain)
    assert plain.dtype == jnp.float32 and plain.shape == (1, 3, config.vocab_size)


@pytest.mark.parametrize("shared", [True, False])
def test_dropout_masks_are_shared_across_positions_by_default(shared):
    config = get_config("tiny", dropout_rate=0.5, shared_dropout=shared)
    out = _dropout(config).apply(
        {}, jnp.ones((2, 16, 32)), deterministic=False, rngs={"dropout": jax.random.PRNGKey(0)}
    )
    out = np.asarray(out)
    assert set(np.unique(out)) == {0.0, 2.0}
    same_over_positions = np.all(out == out[:, :1, :])
    assert same_over_positions == shared


def test_bfloat16_activations_keep_float32_params_and_logits():
    config = get_config("tiny_1_1", **MICRO, dtype="bfloat16")
    params = init_params(config, 2)
    assert all(x.dtype == jnp.float32 for x in jax.tree_util.tree_leaves(params))
    enc, dec = jnp.asarray([[5, 6, 7, 1, 0]]), jnp.asarray([[0, 8, 9]])
    low = _forward(config)({"params": params}, enc, dec)
    full = _forward(get_config(config, dtype="float32"))({"params": params}, enc, dec)
    assert low.dtype == jnp.float32
    assert np.abs(low - full).max() < 0.05 * np.abs(full).max()
    assert np.abs(low - full).max() > 0  # it really ran in bfloat16
