"""The nine statistics-only initialisation schemes of the paper's Table 2 and appendix (reference §6.2–6.4).

A scheme is a grouping of parameters plus a statistic. For every group, the pre-trained checkpoint's arrays are
pooled into one vector (structure ignored) and reduced to its mean and population SD; then every member of the
group is *replaced* by a fresh draw that uses only the shape of the fresh init:

* `init_scale` ("Scale"): layer-norm groups -> the constant pooled mean; other groups -> N(0, SD²);
* `init_mean_std` ("Mean/SD"): every group, layer norms included -> N(mean, SD²).

Draws are untruncated normal, computed in float64 and stored in the fresh init's dtype (float32), as in the
reference. Unlike the reference (quirk 12) they are seeded and drawn once: each parameter gets its own stream from
(seed, parameter name), so a parameter's draw does not depend on which other parameters a scheme touches. The token
embedding is in no group; an untied output layer (T5 1.1 `decoder/logits_dense`) is treated like the embedding
unless `include_output_layer=True` (the reference's per-param scheme would have redrawn it, quirk 10).
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from synpt.errors import SynptError
from synpt.init.groups import (
    ATTENTION_KERNEL,
    EMBEDDING_ROLES,
    KERNEL_ROLES,
    MLP_KERNEL,
    OUTPUT_LAYER,
    PRE_ATTENTION_NORM,
    PRE_MLP_NORM,
    ParamRole,
    check_source_matches,
    parse_roles,
)

SCALE = "init_scale"
MEAN_STD = "init_mean_std"

GroupKey = Callable[[ParamRole], Hashable | None]


@dataclass(frozen=True)
class Scheme:
    """One statistics scheme: its reference id, readable alias, paper name, statistic and grouping.

    `group_key` maps a (non-embedding) parameter to its group's key, or None when the scheme leaves it at its fresh
    init; `covers_all` says the scheme groups every parameter, so an included untied output layer joins it.
    """

    init_id: str
    alias: str
    paper_name: str
    statistic: str
    group_key: GroupKey
    covers_all: bool

    def groups(self, roles: Sequence[ParamRole], *, include_output_layer: bool = False) -> list[list[ParamRole]]:
        """The groups of this scheme over `roles`, in first-appearance order; embeddings are never grouped."""
        grouped: dict[Hashable, list[ParamRole]] = {}
        for role in roles:
            if role.role in EMBEDDING_ROLES:
                continue
            key = self.group_key(role)
            if key is not None:
                grouped.setdefault(key, []).append(role)
        groups = list(grouped.values())
        if include_output_layer and self.covers_all:
            groups += [[role] for role in roles if role.role == OUTPUT_LAYER]
        return groups


def _whole_model_key(role: ParamRole) -> str:
    if role.role in KERNEL_ROLES:
        return "kernels"
    return "layer_norms" if role.is_norm else role.role


def _across_layers_key(role: ParamRole) -> str:
    """Query, key, value and out pooled over layers, stacks and self/cross; MLP kernels together; norms by type."""
    return role.kind if role.role == ATTENTION_KERNEL else role.role


def _per_layer_key(role: ParamRole) -> Hashable:
    if role.layer is None:
        return role.name
    return (role.stack, role.layer, "layer_norms" if role.is_norm else "kernels")


def _per_param_of(*roles: str) -> GroupKey:
    return lambda role: role.name if role.role in roles else None


_SCHEME_LIST = (
    Scheme("per_param_grouping___init_mean_std", "per_param_mean_std", "Per Param Mean/SD", MEAN_STD,
           lambda role: role.name, covers_all=True),
    Scheme("per_param_grouping___init_scale", "per_param_scale", "Per Param Scale", SCALE,
           lambda role: role.name, covers_all=True),
    Scheme("across_ALL_layer_AND_per_layer_grouping___init_scale", "whole_model_scale", "Whole Model Scale", SCALE,
           _whole_model_key, covers_all=True),
    Scheme("preattnln_per_param_grouping___init_scale", "preattn_ln_scale", "Pre-attn LN Per Param Scale", SCALE,
           _per_param_of(PRE_ATTENTION_NORM), covers_all=False),
    Scheme("across_ALL_layer_grouping___init_scale", "across_layers_scale", "Across Layers Scale", SCALE,
           _across_layers_key, covers_all=True),
    Scheme("per_layer_grouping___init_scale", "per_layer_scale", "Per Layer Scale", SCALE,
           _per_layer_key, covers_all=True),
    Scheme("premlpln_per_param_grouping___init_scale", "premlp_ln_scale", "Pre-MLP LN Per Param Scale", SCALE,
           _per_param_of(PRE_MLP_NORM), covers_all=False),
    Scheme("qkvo_per_param_grouping___init_scale", "attention_scale", "Attention Per Param Scale", SCALE,
           _per_param_of(ATTENTION_KERNEL), covers_all=False),
    Scheme("mlp_per_param_grouping___init_scale", "mlp_scale", "MLP Per Param Scale", SCALE,
           _per_param_of(MLP_KERNEL), covers_all=False),
)  # fmt: skip

SCHEMES: dict[str, Scheme] = {scheme.init_id: scheme for scheme in _SCHEME_LIST}
ALIASES: dict[str, str] = {scheme.alias: scheme.init_id for scheme in _SCHEME_LIST}
MIMETIC = "mimetic"


def scheme_names() -> list[str]:
    """Every name `--scheme` accepts: the nine reference ids, their readable aliases and `mimetic`."""
    return [*SCHEMES, *ALIASES, MIMETIC]


def get_scheme(name: str) -> Scheme:
    """The statistics scheme called `name` (reference id or alias)."""
    init_id = ALIASES.get(name, name)
    if init_id not in SCHEMES:
        raise SynptError(f"unknown init scheme {name!r}; valid schemes: {', '.join(scheme_names())}")
    return SCHEMES[init_id]


def param_rng(seed: int, stream: str, name: str) -> np.random.Generator:
    """A generator that depends only on (seed, stream, parameter name), so draws are reproducible one by one."""
    if not isinstance(seed, (int, np.integer)) or seed < 0:
        raise SynptError(f"--seed must be a non-negative integer, got {seed!r}")
    return np.random.default_rng(np.random.SeedSequence([int(seed), zlib.crc32(f"{stream}:{name}".encode())]))


def pooled_mean_std(arrays: Sequence[Any]) -> tuple[float, float]:
    """Mean and population SD (ddof 0) of all entries of `arrays` pooled into one vector, computed in float64."""
    values = [np.asarray(array, dtype=np.float64).ravel() for array in arrays]
    count = sum(v.size for v in values)
    mean = sum(float(v.sum()) for v in values) / count
    variance = sum(float(np.square(v - mean).sum()) for v in values) / count
    return mean, float(np.sqrt(variance))


def _describe(group: Sequence[ParamRole]) -> str:
    if len(group) == 1:
        return group[0].name
    return f"{len(group)} arrays ({group[0].name} ... {group[-1].name})"


def apply_scheme(
    fresh: Mapping[str, Any],
    source: Mapping[str, Any],
    scheme: Scheme,
    *,
    seed: int,
    include_output_layer: bool = False,
) -> tuple[dict[str, Any], list[str]]:
    """Redraw the grouped parameters of the flat `fresh` tree from the pooled statistics of the flat `source` tree.

    Returns the new flat tree (ungrouped parameters are the very same objects as in `fresh`) and log lines.
    """
    groups = scheme.groups(parse_roles(fresh), include_output_layer=include_output_layer)
    members = [role.name for group in groups for role in group]
    check_source_matches(fresh, source, members, what=f"init scheme {scheme.init_id}")
    params = dict(fresh)
    log = [
        f"init scheme {scheme.init_id} ({scheme.paper_name}, {scheme.statistic}): {len(groups)} groups, "
        f"{len(members)} arrays redrawn from the source statistics, {len(fresh) - len(members)} kept at fresh init "
        f"(token embedding included), seed {seed}"
    ]
    for group in groups:
        mean, std = pooled_mean_std([source[role.name] for role in group])
        constant = scheme.statistic == SCALE and group[0].is_norm
        draw_mean = mean if scheme.statistic == MEAN_STD else 0.0
        for role in group:
            template = fresh[role.name]
            shape, dtype = np.shape(template), np.dtype(template.dtype)
            if constant:
                params[role.name] = np.full(shape, mean, dtype=dtype)
            else:
                normal = param_rng(seed, "statistics", role.name).standard_normal(shape)
                params[role.name] = (draw_mean + std * normal).astype(dtype)
        rule = f"constant {mean:.6g}" if constant else f"N({draw_mean:.6g}, {std:.6g}²)"
        log.append(f"  {_describe(group)}: source mean {mean:.6g}, SD {std:.6g} -> {rule}")
    return params, log
