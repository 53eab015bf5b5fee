"""Per-parameter statistics of checkpoints (shape, mean, SD, RMS), as a table and JSON (the plot: stats_plot.py).

Why: the statistics schemes transfer only these numbers, so looking at them side by side (a synthetic checkpoint
next to natural T5 and the random init) is the quickest way to see what a scheme will carry over. JSON layout:
`{"<T5X name with '/'>": {"shape": [...], "mean": m, "std": s, "rms": r}}`, parameters in natural model order.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import numpy as np

from synpt.model.t5 import flatten_names

ParamStats = dict[str, dict[str, Any]]

# Position of known path components, so that parameters sort in model order: embedding, encoder, decoder; relpos
# first, then layers by number, each as norm, attention (query, key, value, out), norm, MLP; the final norm last.
_COMPONENT_ORDER = {
    name: rank
    for rank, names in enumerate(
        (
            ("token_embedder",),
            ("encoder", "relpos_bias"),
            ("decoder",),
            ("pre_attention_layer_norm", "pre_self_attention_layer_norm", "query", "wi", "wi_0"),
            ("attention", "self_attention", "key", "wi_1"),
            ("pre_cross_attention_layer_norm", "value", "wo"),
            ("encoder_decoder_attention", "out"),
            ("pre_mlp_layer_norm",),
            ("mlp",),
        )
    )
    for name in names
}
_LAST = len(_COMPONENT_ORDER)
_COMPONENT_ORDER.update({"encoder_norm": _LAST + 1, "decoder_norm": _LAST + 1, "logits_dense": _LAST + 2})


def natural_key(name: str) -> list[Any]:
    """Model order (see `_COMPONENT_ORDER`); unknown components after known ones, layers_10 after layers_9."""
    return [
        (_COMPONENT_ORDER.get(part, _LAST), [int(p) if p.isdigit() else p for p in re.split(r"(\d+)", part)])
        for part in name.split("/")
    ]


def parameter_stats(params: Mapping[str, Any]) -> ParamStats:
    """Shape, mean, population SD and RMS of every array of a nested params tree, computed in float64."""
    stats: ParamStats = {}
    flat = flatten_names(params)
    for name in sorted(flat, key=natural_key):
        values = np.asarray(flat[name], dtype=np.float64)
        stats[name] = {
            "shape": list(values.shape),
            "mean": float(values.mean()),
            "std": float(values.std()),
            "rms": float(np.sqrt(np.mean(np.square(values)))),
        }
    return stats


def format_stats_table(stats_by_label: Mapping[str, ParamStats]) -> str:
    """A text table: one row per parameter, mean/SD/RMS columns per checkpoint (checkpoints numbered [1], [2]...)."""
    labels = list(stats_by_label)
    names = sorted({name for stats in stats_by_label.values() for name in stats}, key=natural_key)
    width = max(len(name) for name in names)
    legend = [f"[{i + 1}] {label}" for i, label in enumerate(labels)]
    header = f"{'parameter':<{width}}  {'shape':<14}" + "".join(
        f"  {f'[{i + 1}] mean':>11} {'sd':>10} {'rms':>10}" for i in range(len(labels))
    )
    rows = []
    for name in names:
        shape = next(stats[name]["shape"] for stats in stats_by_label.values() if name in stats)
        cells = []
        for label in labels:
            entry = stats_by_label[label].get(name)
            values = ("-", "-", "-") if entry is None else (f"{entry[k]:.4g}" for k in ("mean", "std", "rms"))
            cells.append("  {:>11} {:>10} {:>10}".format(*values))
        rows.append(f"{name:<{width}}  {'x'.join(map(str, shape)):<14}" + "".join(cells))
    return "\n".join([*legend, header, *rows])
