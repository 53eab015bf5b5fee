"""Mimetic attention init (Trockman & Kolter 2023) adapted to T5: structure of W_q W_kᵀ and W_v W_o per head."""

from __future__ import annotations

import numpy as np
import pytest

from synpt.errors import SynptError
from synpt.init import apply_init
from synpt.model.t5 import flatten_names
from tests.test_init_trees import TINY, TINY_1_1, random_tree, t5x_shapes

HEADS, HEAD_DIM, D_MODEL = TINY["heads"], TINY["head_dim"], TINY["d_model"]


@pytest.fixture(scope="module")
def fresh():
    return random_tree(t5x_shapes(**TINY), 0)


def head_product(flat, block, head):
    cols = slice(head * HEAD_DIM, (head + 1) * HEAD_DIM)
    return flat[f"{block}/query/kernel"][:, cols].astype(np.float64) @ flat[f"{block}/key/kernel"][:, cols].T


@pytest.mark.parametrize("block", ["encoder/layers_1/attention", "decoder/layers_0/self_attention"])
def test_query_key_heads_are_positive_diagonal_and_value_out_negative(fresh, block):
    flat = flatten_names(apply_init(fresh, scheme="mimetic", seed=1)[0])
    for head in range(HEADS):
        product = head_product(flat, block, head) * np.sqrt(HEAD_DIM)  # undo the folded 1/sqrt(head_dim)
        assert np.linalg.matrix_rank(product) == HEAD_DIM
        assert np.trace(product) / D_MODEL > 0.7 / 4  # a rank-16 share of alpha * I over 64 dims: about 0.3
    value_out = flat[f"{block}/value/kernel"].astype(np.float64) @ flat[f"{block}/out/kernel"]
    # inner dim == d_model here, so W_v W_o = beta (Z - I) exactly, with Z ~ N(0, 1/d_model)
    noise = value_out / 0.4 + np.eye(D_MODEL)
    assert abs(noise.std() * np.sqrt(D_MODEL) - 1.0) < 0.1
    assert abs(np.diag(value_out).mean() + 0.4) < 0.05


def test_query_scale_is_folded_in(fresh):
    """W_q^h = U √S / √head_dim and W_k^h = V √S, so their norms differ by exactly √head_dim per head."""
    flat = flatten_names(apply_init(fresh, scheme="mimetic", seed=1)[0])
    block = "encoder/layers_0/attention"
    for head in range(HEADS):
        cols = slice(head * HEAD_DIM, (head + 1) * HEAD_DIM)
        query = np.linalg.norm(flat[f"{block}/query/kernel"][:, cols])
        key = np.linalg.norm(flat[f"{block}/key/kernel"][:, cols])
        assert query * np.sqrt(HEAD_DIM) == pytest.approx(key, rel=1e-5)


def test_only_self_attention_changes_and_options_apply(fresh):
    params, log = apply_init(fresh, scheme="mimetic:alpha=0.5,beta=0.2", seed=2)
    flat, fresh_flat = flatten_names(params), flatten_names(fresh)
    changed = sorted(name for name in flat if flat[name] is not fresh_flat[name])
    assert len(changed) == 4 * 4 and all("self_attention" in n or "/attention/" in n for n in changed)
    assert all(flat[name].dtype == np.float32 for name in changed)
    assert "alpha=0.5, beta=0.2, 4 heads" in log[-1]
    block = "decoder/layers_1/self_attention"
    value_out = flat[f"{block}/value/kernel"].astype(np.float64) @ flat[f"{block}/out/kernel"]
    assert abs(np.diag(value_out).mean() + 0.2) < 0.03


def test_seeded(fresh):
    name = "encoder/layers_0/attention/key/kernel"
    a, b, c = (flatten_names(apply_init(fresh, scheme="mimetic", seed=s)[0])[name] for s in (3, 3, 4))
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_t5_1_1_narrow_attention():
    """T5 1.1-like: inner dim (heads x head_dim) below d_model; W_v W_o is then the best low-rank fit."""
    fresh = random_tree(t5x_shapes(**{**TINY_1_1, "heads": 3}), 0)
    flat = flatten_names(apply_init(fresh, scheme="mimetic", seed=0)[0])
    block = "decoder/layers_1/self_attention"
    assert flat[f"{block}/query/kernel"].shape == (64, 48)
    value_out = flat[f"{block}/value/kernel"].astype(np.float64) @ flat[f"{block}/out/kernel"]
    assert np.linalg.matrix_rank(value_out) == 48 and np.trace(value_out) < 0


@pytest.mark.parametrize(
    ("scheme", "message"), [("mimetic:gamma=1", "unknown mimetic option"), ("mimetic:alpha=x", "needs a number")]
)
def test_option_errors(fresh, scheme, message):
    with pytest.raises(SynptError, match=message):
        apply_init(fresh, scheme=scheme)
