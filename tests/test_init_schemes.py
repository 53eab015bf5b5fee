"""Statistics schemes (reference §6.2–6.4): pooled statistics, full replacement, untouched parameters, seeding."""

from __future__ import annotations

import numpy as np
import pytest

from synpt.errors import SynptError
from synpt.init import SCHEMES, apply_init
from synpt.init.groups import (
    ATTENTION_KERNEL,
    FINAL_NORM,
    KERNEL_ROLES,
    MLP_KERNEL,
    NORM_ROLES,
    OUTPUT_LAYER,
    PRE_ATTENTION_NORM,
    PRE_MLP_NORM,
    RELPOS,
    TOKEN_EMBEDDING,
    parse_roles,
)
from synpt.init.schemes import ALIASES
from synpt.model.t5 import flatten_names
from tests.test_init_trees import TINY, TINY_1_1, random_tree, t5x_shapes

ALL_BUT_EMBEDDINGS = KERNEL_ROLES | NORM_ROLES | {RELPOS}
# Which roles each scheme redraws: written out independently of the implementation's grouping functions.
TOUCHED_ROLES = {
    "per_param_grouping___init_mean_std": ALL_BUT_EMBEDDINGS,
    "per_param_grouping___init_scale": ALL_BUT_EMBEDDINGS,
    "across_ALL_layer_AND_per_layer_grouping___init_scale": ALL_BUT_EMBEDDINGS,
    "preattnln_per_param_grouping___init_scale": {PRE_ATTENTION_NORM},
    "across_ALL_layer_grouping___init_scale": ALL_BUT_EMBEDDINGS,
    "per_layer_grouping___init_scale": ALL_BUT_EMBEDDINGS,
    "premlpln_per_param_grouping___init_scale": {PRE_MLP_NORM},
    "qkvo_per_param_grouping___init_scale": {ATTENTION_KERNEL},
    "mlp_per_param_grouping___init_scale": {MLP_KERNEL},
}


def expected_groups(init_id, roles):
    """The reference's groups for a scheme, spelled out by role (a second, independent statement of §6.4)."""
    if init_id.startswith(("per_param", "preattnln", "premlpln", "qkvo", "mlp")):
        return [[role] for role in roles if role.role in TOUCHED_ROLES[init_id]]
    keys = {
        "across_ALL_layer_AND_per_layer_grouping___init_scale": lambda r: (
            "norm" if r.is_norm else "kernel" if r.role in KERNEL_ROLES else "relpos"
        ),
        "across_ALL_layer_grouping___init_scale": lambda r: (
            r.kind if r.role == ATTENTION_KERNEL else "mlp" if r.role == MLP_KERNEL else r.role
        ),
        "per_layer_grouping___init_scale": lambda r: (
            r.name if r.role in (FINAL_NORM, RELPOS) else (r.stack, r.layer, r.is_norm)
        ),
    }
    groups = {}
    for role in roles:
        if role.role in ALL_BUT_EMBEDDINGS:
            groups.setdefault(keys[init_id](role), []).append(role)
    return list(groups.values())


def pooled(arrays):
    values = np.concatenate([np.asarray(a, dtype=np.float64).ravel() for a in arrays])
    return values.mean(), values.std(), values.size


@pytest.fixture(scope="module", params=[TINY, TINY_1_1], ids=["t5_tiny", "t5_1_1_tiny"])
def trees(request):
    shapes = t5x_shapes(**request.param)
    return random_tree(shapes, 1), random_tree(shapes, 2, distinct=True)


@pytest.mark.parametrize("init_id", list(SCHEMES))
def test_scheme_draws_pooled_statistics_and_leaves_the_rest_bit_identical(trees, init_id):
    fresh_tree, source_tree = trees
    params, log = apply_init(fresh_tree, scheme=init_id, source_params=source_tree, seed=5)
    fresh, source, result = flatten_names(fresh_tree), flatten_names(source_tree), flatten_names(params)
    assert result.keys() == fresh.keys()
    mean_std = init_id.endswith("init_mean_std")
    groups = expected_groups(init_id, parse_roles(fresh))
    touched = {role.name for group in groups for role in group}
    for group in groups:
        mean, std, _ = pooled([source[role.name] for role in group])
        got_mean, got_std, count = pooled([result[role.name] for role in group])
        assert all(result[role.name].dtype == np.float32 for role in group)
        if group[0].is_norm and not mean_std:
            for role in group:
                np.testing.assert_array_equal(result[role.name], np.float32(mean))
        else:
            assert abs(got_mean - (mean if mean_std else 0.0)) < 6 * std / np.sqrt(count), group[0].name
            assert abs(got_std - std) < 6 * std / np.sqrt(2 * count), group[0].name
    for name in fresh:
        if name not in touched:
            assert result[name] is fresh[name], f"{name} should keep its fresh init"
    roles = {role.name: role.role for role in parse_roles(fresh)}
    assert {roles[name] for name in touched} == TOUCHED_ROLES[init_id]
    assert all(roles[name] not in (TOKEN_EMBEDDING, OUTPUT_LAYER) for name in touched)
    assert f"{len(groups)} groups" in log[1]


def test_mean_std_keeps_nonzero_means_and_scale_drops_them(trees):
    fresh_tree, source_tree = trees
    name = "decoder/layers_1/self_attention/key/kernel"
    source_mean = flatten_names(source_tree)[name].mean()
    assert abs(source_mean) > 0.05
    kept, _ = apply_init(fresh_tree, scheme="per_param_mean_std", source_params=source_tree)
    dropped, _ = apply_init(fresh_tree, scheme="per_param_scale", source_params=source_tree)
    assert abs(flatten_names(kept)[name].mean() - source_mean) < 0.2 * abs(source_mean)
    assert abs(flatten_names(dropped)[name].mean()) < 0.2 * abs(source_mean)


def test_t5_1_1_output_layer_is_redrawn_only_on_request():
    from synpt.init.schemes import apply_scheme, get_scheme

    shapes = t5x_shapes(**TINY_1_1)
    fresh, source = flatten_names(random_tree(shapes, 1)), flatten_names(random_tree(shapes, 2, distinct=True))
    name = "decoder/logits_dense/kernel"
    scheme = get_scheme("per_param_mean_std")
    assert apply_scheme(fresh, source, scheme, seed=0)[0][name] is fresh[name]
    redrawn = apply_scheme(fresh, source, scheme, seed=0, include_output_layer=True)[0][name]
    assert abs(redrawn.std() - source[name].std()) < 0.05 * source[name].std()


def test_aliases_are_the_same_schemes(trees):
    fresh_tree, source_tree = trees
    for alias, init_id in ALIASES.items():
        by_alias, _ = apply_init(fresh_tree, scheme=alias, source_params=source_tree, seed=1)
        by_id, _ = apply_init(fresh_tree, scheme=init_id, source_params=source_tree, seed=1)
        a, b = flatten_names(by_alias), flatten_names(by_id)
        assert all(np.array_equal(a[name], b[name]) for name in a), alias


def test_same_seed_same_draws_other_seed_different(trees):
    fresh_tree, source_tree = trees
    first = flatten_names(apply_init(fresh_tree, scheme="whole_model_scale", source_params=source_tree, seed=7)[0])
    again = flatten_names(apply_init(fresh_tree, scheme="whole_model_scale", source_params=source_tree, seed=7)[0])
    other = flatten_names(apply_init(fresh_tree, scheme="whole_model_scale", source_params=source_tree, seed=8)[0])
    kernel = "encoder/layers_0/mlp/wo/kernel"
    assert all(np.array_equal(first[name], again[name]) for name in first)
    assert not np.array_equal(first[kernel], other[kernel])
    norm = "encoder/layers_0/pre_mlp_layer_norm/scale"
    np.testing.assert_array_equal(first[norm], other[norm])  # constants do not depend on the seed


def test_draws_of_a_parameter_do_not_depend_on_the_scheme(trees):
    """Each parameter has its own seeded stream, so Per Param Scale and Attention Scale draw the same noise."""
    fresh_tree, source_tree = trees
    a = flatten_names(apply_init(fresh_tree, scheme="per_param_scale", source_params=source_tree, seed=3)[0])
    b = flatten_names(apply_init(fresh_tree, scheme="attention_scale", source_params=source_tree, seed=3)[0])
    name = "decoder/layers_0/encoder_decoder_attention/out/kernel"
    np.testing.assert_array_equal(a[name], b[name])


def test_unknown_scheme_lists_valid_ones(trees):
    fresh_tree, source_tree = trees
    with pytest.raises(SynptError, match="per_param_mean_std.*mimetic"):
        apply_init(fresh_tree, scheme="per_param_mean_sd", source_params=source_tree)


def test_statistics_scheme_needs_a_source(trees):
    with pytest.raises(SynptError, match="--stats-from"):
        apply_init(trees[0], scheme="per_param_grouping___init_scale")


def test_mismatched_source_names_the_parameter(trees):
    fresh_tree, source_tree = trees
    source = flatten_names(source_tree)
    bad_shape = dict(source)
    bad_shape["encoder/layers_1/mlp/wo/kernel"] = np.zeros((3, 3), np.float32)
    with pytest.raises(SynptError, match=r"encoder/layers_1/mlp/wo/kernel.*shape \(3, 3\)"):
        apply_init(fresh_tree, scheme="mlp_scale", source_params=bad_shape)
    missing = {name: value for name, value in source.items() if "relpos" not in name}
    with pytest.raises(SynptError, match="decoder/relpos_bias/rel_embedding|encoder/relpos_bias/rel_embedding"):
        apply_init(fresh_tree, scheme="per_param_scale", source_params=missing)
    # a scheme that does not read the missing parameter does not need it
    apply_init(fresh_tree, scheme="mlp_scale", source_params=missing)


def test_deep_model_works_without_hard_coded_layer_counts():
    shapes = t5x_shapes(**{**TINY, "d_model": 16, "head_dim": 4, "d_ff": 32, "layers": 9})
    params, log = apply_init(
        random_tree(shapes, 0), scheme="per_layer_scale", source_params=random_tree(shapes, 1, distinct=True)
    )
    assert "40 groups" in log[1]  # 9 layers x 2 stacks x {kernels, norms} + 2 final norms + 2 relpos
