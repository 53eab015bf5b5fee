"""Weight transfer and statistics-only initialisation schemes (reference §6).

`apply_init` is the one entry point: it takes a fresh random init (the model's `init_params`) and applies, in the
reference's order (§6.1), a full weight transfer, then a statistics (or mimetic) scheme, then a constant
pre-attention layer-norm value. Every step appends human-readable lines to the returned log, which callers store with
the checkpoint so that a result always says how its model was initialised.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from synpt.errors import SynptError
from synpt.init.layernorm import parse_ln_values, set_layer_norms
from synpt.init.mimetic import mimetic_init, parse_mimetic_spec
from synpt.init.schemes import MIMETIC, SCHEMES, Scheme, apply_scheme, get_scheme, scheme_names
from synpt.init.transfer import FROM_SCRATCH, TRANSFERS, check_transfer, transfer_weights

__all__ = ["SCHEMES", "TRANSFERS", "apply_init", "check_init_settings", "initial_params", "scheme_names"]


def check_init_settings(
    *,
    scheme: str | None,
    has_source: bool,
    transfer: str,
    pre_attn_ln_value: float | str | None,
    include_pre_mlp_ln: bool,
) -> Scheme | None:
    """Reject inconsistent settings before any expensive work; returns the statistics scheme, if one is chosen."""
    check_transfer(transfer, has_source=has_source)
    is_mimetic = scheme is not None and scheme.partition(":")[0] == MIMETIC
    if is_mimetic:
        parse_mimetic_spec(scheme)
    statistics = None if scheme is None or is_mimetic else get_scheme(scheme)
    if statistics is not None and not has_source:
        raise SynptError(
            f"init scheme {scheme!r} draws from the statistics of a pre-trained checkpoint: pass one with "
            "--stats-from CKPT (statistics schemes cannot be used with from_scratch)"
        )
    if has_source and statistics is None and transfer == FROM_SCRATCH:
        raise SynptError(
            "a source checkpoint was given but nothing uses it: add --transfer all|all_but_embedding or a "
            f"statistics --scheme ({', '.join(SCHEMES)})"
        )
    if include_pre_mlp_ln and pre_attn_ln_value is None:
        raise SynptError("--include-pre-mlp-ln needs --pre-attn-ln-value VALUE")
    if pre_attn_ln_value is not None:
        parse_ln_values(pre_attn_ln_value, include_pre_mlp_ln=include_pre_mlp_ln)
    return statistics


def apply_init(
    fresh_params: Mapping[str, Any],
    *,
    scheme: str | None = None,
    source_params: Mapping[str, Any] | None = None,
    transfer: str | None = None,
    pre_attn_ln_value: float | str | None = None,
    include_pre_mlp_ln: bool = False,
    seed: int = 0,
) -> tuple[dict[str, Any], list[str]]:
    """Initialise a model from `fresh_params` (nested dicts with T5X names); returns (params, log lines).

    * `transfer`: None / "from_scratch", "all" or "all_but_embedding" (copies from `source_params`);
    * `scheme`: a statistics scheme id or alias (statistics from `source_params`), or "mimetic[:alpha=A,beta=B]";
    * `pre_attn_ln_value`: constant for the pre-attention layer-norm scales (a float or the reference string),
      with `include_pre_mlp_ln` also for the pre-MLP norms.

    Parameters no step touches are the very objects of `fresh_params`; draws depend only on `seed` and names.
    """
    transfer = transfer or FROM_SCRATCH
    statistics = check_init_settings(
        scheme=scheme,
        has_source=source_params is not None,
        transfer=transfer,
        pre_attn_ln_value=pre_attn_ln_value,
        include_pre_mlp_ln=include_pre_mlp_ln,
    )
    from synpt.model.t5 import flatten_names, unflatten_names  # here: checking settings needs no JAX

    source = None if source_params is None else flatten_names(source_params)
    params, log = transfer_weights(flatten_names(fresh_params), source, transfer)
    if statistics is not None:
        params, lines = apply_scheme(params, source, statistics, seed=seed)
        log += lines
    elif scheme is not None:
        params, lines = mimetic_init(params, seed=seed, **parse_mimetic_spec(scheme))
        log += lines
    if pre_attn_ln_value is not None:
        params, lines = set_layer_norms(params, pre_attn_ln_value, include_pre_mlp_ln=include_pre_mlp_ln)
        log += lines
    return unflatten_names(params), log


def initial_params(model_config, key, **settings: Any) -> tuple[dict[str, Any], list[str]]:
    """A fresh random init of `model_config` drawn from `key`, then `apply_init(**settings)`: how `synpt init`
    and `synpt finetune` start a model; returns (params, log lines)."""
    from synpt.model.t5 import init_params

    return apply_init(init_params(model_config, key), **settings)
