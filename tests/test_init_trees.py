"""Parameter trees with the exact T5X names of reference §3.3, and the role/group membership tests built on them.

The builders here let the init tests run on any depth and on both T5 variants without initialising a Flax model
(a full T5-small init is 60 M floats): `t5x_shapes` lists the names and shapes, `random_tree` fills them.
"""

from __future__ import annotations

import numpy as np
import pytest

from synpt.errors import SynptError
from synpt.init.groups import (
    ATTENTION_KERNEL,
    FINAL_NORM,
    MLP_KERNEL,
    OUTPUT_LAYER,
    PRE_ATTENTION_NORM,
    PRE_MLP_NORM,
    RELPOS,
    TOKEN_EMBEDDING,
    parse_role,
    parse_roles,
)
from synpt.init.schemes import SCHEMES
from synpt.model.t5 import unflatten_names

T5_SMALL = {"d_model": 512, "heads": 8, "head_dim": 64, "d_ff": 2048, "layers": 6, "vocab": 32128, "gated": False}
T5_1_1_SMALL = {"d_model": 512, "heads": 6, "head_dim": 64, "d_ff": 1024, "layers": 8, "vocab": 32128, "gated": True}
TINY = {"d_model": 64, "heads": 4, "head_dim": 16, "d_ff": 128, "layers": 2, "vocab": 96, "gated": False}
TINY_1_1 = {**TINY, "heads": 2, "head_dim": 16, "gated": True}


def t5x_shapes(*, d_model: int, heads: int, head_dim: int, d_ff: int, layers: int, vocab: int, gated: bool):
    """{T5X name: shape} of a T5 1.0 (tied, ReLU `wi`) or T5 1.1 (gated `wi_0`/`wi_1`, untied logits) model."""
    inner = heads * head_dim
    shapes = {"token_embedder/embedding": (vocab, d_model)}
    if gated:
        shapes["decoder/logits_dense/kernel"] = (d_model, vocab)
    mlp = {"wi_0": (d_model, d_ff), "wi_1": (d_model, d_ff)} if gated else {"wi": (d_model, d_ff)}
    mlp["wo"] = (d_ff, d_model)
    blocks = {
        "encoder": (("attention", "pre_attention_layer_norm"),),
        "decoder": (
            ("self_attention", "pre_self_attention_layer_norm"),
            ("encoder_decoder_attention", "pre_cross_attention_layer_norm"),
        ),
    }
    for stack, stack_blocks in blocks.items():
        shapes[f"{stack}/relpos_bias/rel_embedding"] = (heads, 32)
        for i in range(layers):
            layer = f"{stack}/layers_{i}"
            for block, norm in stack_blocks:
                shapes[f"{layer}/{norm}/scale"] = (d_model,)
                for kind in ("query", "key", "value"):
                    shapes[f"{layer}/{block}/{kind}/kernel"] = (d_model, inner)
                shapes[f"{layer}/{block}/out/kernel"] = (inner, d_model)
            shapes[f"{layer}/pre_mlp_layer_norm/scale"] = (d_model,)
            for kind, shape in mlp.items():
                shapes[f"{layer}/mlp/{kind}/kernel"] = shape
        shapes[f"{stack}/{stack}_norm/scale"] = (d_model,)
    return shapes


def random_tree(shapes, seed: int, *, distinct: bool = False):
    """Nested float32 params: a default-like init, or (`distinct`) one known, different mean and SD per parameter."""
    rng = np.random.default_rng(seed)
    flat = {}
    for index, (name, shape) in enumerate(sorted(shapes.items())):
        if distinct:
            mean, std = (-1) ** index * 0.01 * (index + 1), 0.02 + 0.003 * index
        elif name.endswith("/scale"):
            mean, std = 1.0, 0.0
        else:
            mean, std = 0.0, 1.0 / np.sqrt(shape[0])
        flat[name] = (mean + std * rng.standard_normal(shape)).astype(np.float32)
    return unflatten_names(flat)


def role_counts(shapes) -> dict[str, int]:
    counts: dict[str, int] = {}
    for role in parse_roles(shapes):
        counts[role.role] = counts.get(role.role, 0) + 1
    return counts


def test_t5_small_roles_match_reference_counts():
    assert role_counts(t5x_shapes(**T5_SMALL)) == {
        TOKEN_EMBEDDING: 1,
        ATTENTION_KERNEL: 72,
        MLP_KERNEL: 24,
        PRE_ATTENTION_NORM: 18,
        PRE_MLP_NORM: 12,
        FINAL_NORM: 2,
        RELPOS: 2,
    }
    shapes = t5x_shapes(**T5_SMALL)
    assert len(shapes) == 131
    # 60,506,624, as Hugging Face's t5-small; reference §3.3 says 60,518,912 (12,288 more) for the same shapes
    assert sum(int(np.prod(shape)) for shape in shapes.values()) == 60_506_624


def test_t5_1_1_small_has_untied_output_layer_and_gated_mlp():
    shapes = t5x_shapes(**T5_1_1_SMALL)
    counts = role_counts(shapes)
    assert counts[OUTPUT_LAYER] == 1 and counts[MLP_KERNEL] == 16 * 3 and counts[ATTENTION_KERNEL] == 8 * 4 * 3
    assert sum(int(np.prod(shape)) for shape in shapes.values()) == 76_961_152


def test_parse_role_fields():
    role = parse_role("decoder/layers_11/encoder_decoder_attention/value/kernel")
    assert (role.role, role.stack, role.layer, role.module, role.kind) == (
        ATTENTION_KERNEL,
        "decoder",
        11,
        "encoder_decoder_attention",
        "value",
    )
    assert role.is_cross_attention and not role.is_norm
    assert parse_role("decoder/layers_0/pre_cross_attention_layer_norm/scale").is_cross_attention
    assert parse_role("encoder/encoder_norm/scale").is_norm
    assert parse_role("decoder/layers_3/mlp/wi_1/kernel").kind == "wi_1"


@pytest.mark.parametrize("name", ["encoder/layers_0/attention/query/bias", "params/token_embedder/embedding", "x"])
def test_unknown_names_are_errors_naming_the_parameter(name):
    with pytest.raises(SynptError, match="is not a T5X"):
        parse_role(name)


@pytest.mark.parametrize(
    ("init_id", "groups", "arrays"),
    [
        ("per_param_grouping___init_mean_std", 130, 130),
        ("per_param_grouping___init_scale", 130, 130),
        ("across_ALL_layer_AND_per_layer_grouping___init_scale", 3, 130),
        ("preattnln_per_param_grouping___init_scale", 18, 18),
        ("across_ALL_layer_grouping___init_scale", 9, 130),
        ("per_layer_grouping___init_scale", 28, 130),
        ("premlpln_per_param_grouping___init_scale", 12, 12),
        ("qkvo_per_param_grouping___init_scale", 72, 72),
        ("mlp_per_param_grouping___init_scale", 24, 24),
    ],
)
def test_t5_small_group_counts_match_reference(init_id, groups, arrays):
    """Reference §6.4: group counts 130, 130, 3, 18, 9, 28, 12, 72, 24 and the arrays each scheme changes."""
    found = SCHEMES[init_id].groups(parse_roles(t5x_shapes(**T5_SMALL)))
    assert len(found) == groups
    assert sum(len(group) for group in found) == arrays
    assert all(role.role != TOKEN_EMBEDDING for group in found for role in group)
    assert all(len({role.is_norm for role in group}) == 1 for group in found), "a group mixes norms and kernels"


def test_t5_small_group_membership_by_role():
    roles = parse_roles(t5x_shapes(**T5_SMALL))
    sizes = sorted(len(g) for g in SCHEMES["across_ALL_layer_AND_per_layer_grouping___init_scale"].groups(roles))
    assert sizes == [2, 32, 96]
    across = SCHEMES["across_ALL_layer_grouping___init_scale"].groups(roles)
    assert sorted(len(g) for g in across) == [2, 2, 12, 18, 18, 18, 18, 18, 24]
    per_layer = SCHEMES["per_layer_grouping___init_scale"].groups(roles)
    assert sorted(len(g) for g in per_layer) == [1] * 4 + [2] * 6 + [3] * 6 + [6] * 6 + [10] * 6


def test_t5_1_1_output_layer_is_grouped_only_on_request():
    roles = parse_roles(t5x_shapes(**T5_1_1_SMALL))
    for scheme in SCHEMES.values():
        default = scheme.groups(roles)
        assert all(role.role not in (OUTPUT_LAYER, TOKEN_EMBEDDING) for group in default for role in group)
        included = scheme.groups(roles, include_output_layer=True)
        extra = len(included) - len(default)
        assert extra == (1 if scheme.covers_all else 0)
    per_layer = SCHEMES["per_layer_grouping___init_scale"].groups(roles)
    assert len(per_layer) == 2 * 8 * 2 + 4
