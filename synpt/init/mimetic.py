"""Mimetic initialisation of self-attention (Trockman & Kolter 2023), adapted to T5 layers.

Why: pre-trained attention layers show W_q W_kᵀ with a positive diagonal (tokens attend to similar tokens) and
W_v W_o with a negative one. Mimetic init writes that structure in directly, without any pre-training data, which
makes it a natural data-free baseline next to the paper's statistics-only schemes. Following the paper's recipe
(its defaults have noise scale = identity scale):

* per head h: W_q^h W_k^hᵀ ≈ α (Z + I), the best rank-`head_dim` approximation from the SVD U S Vᵀ of
  α (Z + I): W_q^h = U √S, W_k^h = V √S;
* per layer: W_v W_o ≈ β (Z' − I), rank `num_heads × head_dim`;

with Z, Z' ~ N(0, 1/d_model) entries. T5 has no 1/√head_dim at run time (it is folded into the query init, reference
§3.3), so the query is divided by √head_dim here too; the attention logits then equal those of a standard
scaled-dot-product layer with the paper's init. Self-attention blocks (encoder `attention`, decoder `self_attention`)
are re-initialised; cross-attention and everything else keep their fresh init. The number of heads is read from the
relative-position tables (heads × buckets), so no model config is needed.

Select it as `--scheme mimetic` or `--scheme mimetic:alpha=0.7,beta=0.4` (the defaults, the paper's ViT values).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
from tqdm import tqdm

from synpt.errors import SynptError
from synpt.init.groups import ATTENTION_KERNEL, RELPOS, parse_roles
from synpt.init.schemes import MIMETIC, param_rng

DEFAULT_OPTIONS = {"alpha": 0.7, "beta": 0.4}


def parse_mimetic_spec(spec: str) -> dict[str, float]:
    """`mimetic` or `mimetic:alpha=A,beta=B` -> {"alpha": A, "beta": B} (missing options take the defaults)."""
    name, _, rest = spec.partition(":")
    if name != MIMETIC:
        raise SynptError(f"{spec!r} is not a mimetic scheme spec; write mimetic or mimetic:alpha=0.7,beta=0.4")
    options = dict(DEFAULT_OPTIONS)
    for item in filter(None, rest.split(",")):
        key, _, value = item.partition("=")
        if key not in options:
            raise SynptError(f"--scheme {spec!r}: unknown mimetic option {key!r}; valid: {', '.join(options)}")
        try:
            options[key] = float(value)
        except ValueError:
            raise SynptError(f"--scheme {spec!r}: option {key} needs a number, got {value!r}") from None
    return options


def _factor(matrix: np.ndarray, rank: int) -> tuple[np.ndarray, np.ndarray]:
    """(L, R) with L @ R the best rank-`rank` approximation of `matrix`, split symmetrically over √S.

    The SVD runs in float32 (the result is stored as float32 anyway), about twice as fast as float64.
    """
    u, s, vt = np.linalg.svd(matrix.astype(np.float32))
    root = np.sqrt(s[:rank])
    return u[:, :rank] * root, root[:, None] * vt[:rank]


def _num_heads(fresh: Mapping[str, Any]) -> int:
    tables = [role.name for role in parse_roles(fresh) if role.role == RELPOS]
    if not tables:
        raise SynptError("mimetic init reads the number of heads from a relpos_bias/rel_embedding table; none found")
    return int(np.shape(fresh[tables[0]])[0])


def mimetic_init(
    fresh: Mapping[str, Any], *, alpha: float = 0.7, beta: float = 0.4, seed: int = 0
) -> tuple[dict[str, Any], list[str]]:
    """Re-initialise the self-attention kernels of the flat tree `fresh`; returns (new flat tree, log lines)."""
    heads = _num_heads(fresh)
    blocks: dict[str, dict[str, str]] = {}
    for role in parse_roles(fresh):
        if role.role == ATTENTION_KERNEL and role.module in ("attention", "self_attention"):
            prefix = role.name.rsplit("/", 2)[0]
            blocks.setdefault(prefix, {})[role.kind] = role.name
    params = dict(fresh)
    for names in tqdm(blocks.values(), desc="mimetic init", unit="block", leave=False):
        query, key, value, out = (np.asarray(fresh[names[k]]) for k in ("query", "key", "value", "out"))
        d_model, inner = query.shape
        head_dim = inner // heads
        if inner > d_model:
            raise SynptError(f"mimetic init needs heads x head_dim <= d_model; {names['query']} is {query.shape}")
        eye = np.eye(d_model)
        rng = param_rng(seed, "mimetic", names["query"])
        new_query, new_key = np.empty(query.shape, np.float32), np.empty(key.shape, np.float32)
        for head in range(heads):
            cols = slice(head * head_dim, (head + 1) * head_dim)
            noise = rng.standard_normal((d_model, d_model)) / np.sqrt(d_model)
            left, right = _factor(alpha * (noise + eye), head_dim)
            new_query[:, cols], new_key[:, cols] = left / np.sqrt(head_dim), right.T
        noise = param_rng(seed, "mimetic", names["value"]).standard_normal((d_model, d_model)) / np.sqrt(d_model)
        new_value, new_out = _factor(beta * (noise - eye), inner)
        for kind, array, template in (
            ("query", new_query, query),
            ("key", new_key, key),
            ("value", new_value, value),
            ("out", new_out, out),
        ):
            params[names[kind]] = array.astype(template.dtype)
    log = [
        f"init scheme mimetic (Trockman & Kolter 2023): alpha={alpha:g}, beta={beta:g}, {heads} heads; "
        f"re-initialised {len(blocks)} self-attention blocks ({4 * len(blocks)} kernels) so that per head "
        f"W_q W_k^T ~ alpha (Z + I) / sqrt(head_dim) and W_v W_o ~ beta (Z - I), seed {seed}"
    ]
    return params, log
