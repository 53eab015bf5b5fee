"""Table 3: set the pre-attention layer-norm scales to a constant (reference §6.5).

The targets are the scale vectors in front of every attention block: encoder `pre_attention_layer_norm`, decoder
`pre_self_attention_layer_norm` and decoder `pre_cross_attention_layer_norm` (18 vectors in T5-small); pre-MLP norms
optionally too; final norms never. The value is any float: unlike the reference (quirk 11), negative values and
exponent forms work, also inside the reference's compatibility string
`pre_self_attn_ln-0.4---pre_cross_attn_ln-0.4` (entries split on `---`, then on the first `-`). That string may
set the self- and cross-attention norms to different values, and may add `pre_mlp_ln-VALUE`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from synpt.errors import SynptError
from synpt.init.groups import PRE_ATTENTION_NORM, PRE_MLP_NORM, ParamRole, parse_roles

SELF = "pre_self_attn_ln"  # encoder pre-attention and decoder pre-self-attention norms, as the reference regex
CROSS = "pre_cross_attn_ln"
MLP = "pre_mlp_ln"
TARGETS = (SELF, CROSS, MLP)


def _to_float(text: str, *, source: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise SynptError(
            f"--pre-attn-ln-value {source!r}: {text!r} is not a number; give a float (e.g. 0.4, -0.1, 1e-3) or the "
            "reference form pre_self_attn_ln-0.4---pre_cross_attn_ln-0.4"
        ) from None


def parse_ln_values(value: float | str, *, include_pre_mlp_ln: bool = False) -> dict[str, float]:
    """Target -> value for a plain number or the reference string; `include_pre_mlp_ln` adds the pre-MLP norms."""
    if isinstance(value, (int, float, np.number)):
        values = {SELF: float(value), CROSS: float(value)}
    elif "---" in value or any(value.startswith(f"{target}-") for target in TARGETS):
        values = {}
        for entry in value.split("---"):
            target, _, number = entry.partition("-")
            if target not in TARGETS:
                raise SynptError(
                    f"--pre-attn-ln-value {value!r}: unknown target {target!r}; valid targets: {', '.join(TARGETS)}"
                )
            values[target] = _to_float(number, source=value)
    else:
        number = _to_float(value, source=value)
        values = {SELF: number, CROSS: number}
    if include_pre_mlp_ln and MLP not in values:
        distinct = set(values.values())
        if len(distinct) != 1:
            raise SynptError(
                f"--include-pre-mlp-ln with --pre-attn-ln-value {value!r}: the self- and cross-attention values "
                "differ, so say which value the pre-MLP norms get by adding ---pre_mlp_ln-VALUE"
            )
        values[MLP] = distinct.pop()
    return values


def _target_of(role: ParamRole) -> str | None:
    if role.role == PRE_MLP_NORM:
        return MLP
    if role.role == PRE_ATTENTION_NORM:
        return CROSS if role.is_cross_attention else SELF
    return None


def set_layer_norms(
    fresh: Mapping[str, Any], value: float | str, *, include_pre_mlp_ln: bool = False
) -> tuple[dict[str, Any], list[str]]:
    """Set the targeted layer-norm scales of the flat tree `fresh` to constants; returns (new flat tree, log)."""
    values = parse_ln_values(value, include_pre_mlp_ln=include_pre_mlp_ln)
    params = dict(fresh)
    counts = dict.fromkeys(values, 0)
    for role in parse_roles(fresh):
        target = _target_of(role)
        if target in values:
            template = fresh[role.name]
            params[role.name] = np.full(np.shape(template), values[target], dtype=np.dtype(template.dtype))
            counts[target] += 1
    done = ", ".join(f"{counts[target]} {target} -> {values[target]:g}" for target in values)
    return params, [f"layer-norm value: set {sum(counts.values())} scale vectors ({done})"]
