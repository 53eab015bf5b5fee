"""Per-parameter statistics of checkpoints (shape, mean, SD, RMS), as a table, JSON and a Figure-4-style plot.

Why: the statistics schemes transfer only these numbers, so looking at them side by side (a synthetic checkpoint
next to natural T5 and the random init) is the quickest way to see what a scheme will carry over. JSON layout:
`{"<T5X name with '/'>": {"shape": [...], "mean": m, "std": s, "rms": r}}`, parameters in natural model order.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from synpt.model.t5 import flatten_names

ParamStats = dict[str, dict[str, Any]]

_ABBREVIATIONS = (
    ("encoder/", "enc."),
    ("decoder/", "dec."),
    ("layers_", "L"),
    ("pre_cross_attention_layer_norm", "ln_cross"),
    ("pre_self_attention_layer_norm", "ln_self"),
    ("pre_attention_layer_norm", "ln_attn"),
    ("pre_mlp_layer_norm", "ln_mlp"),
    ("encoder_decoder_attention", "cross"),
    ("self_attention", "self"),
    ("attention", "attn"),
    ("relpos_bias/rel_embedding", "relpos"),
    ("/kernel", ""),
    ("/scale", ""),
    ("/", "."),
)


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


def short_name(name: str) -> str:
    """A compact label for plots, e.g. `enc.L2.attn.query`."""
    for long, short in _ABBREVIATIONS:
        name = name.replace(long, short)
    return name


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


def plot_stats(stats_by_label: Mapping[str, ParamStats], path: str | Path) -> Path:
    """Save a PNG with the SD and the mean of every parameter, one line per checkpoint, side by side."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = sorted({name for stats in stats_by_label.values() for name in stats}, key=natural_key)
    positions = np.arange(len(names))
    fig, axes = plt.subplots(2, 1, figsize=(max(10.0, 0.12 * len(names) + 3), 8), sharex=True)
    for label, stats in stats_by_label.items():
        for axis, key in zip(axes, ("std", "mean"), strict=True):
            values = np.array([stats[name][key] if name in stats else np.nan for name in names])
            if key == "std":
                values[values <= 0] = np.nan  # constant vectors (layer norms) have no SD to show on a log axis
            axis.plot(positions, values, marker="o", markersize=3, linewidth=0.8, label=label)
    axes[0].set_yscale("log")
    axes[0].set_ylabel("SD (log scale)")
    axes[1].set_yscale("symlog", linthresh=1e-3)
    axes[1].set_ylabel("mean (symlog)")
    axes[1].axhline(0.0, color="grey", linewidth=0.5)
    tops = [name.split("/", 1)[0] for name in names]
    boundaries = [i for i in range(1, len(names)) if tops[i] != tops[i - 1]]
    for axis in axes:
        axis.grid(alpha=0.3)
        for boundary in boundaries:
            axis.axvline(boundary - 0.5, color="black", linestyle=":", linewidth=0.8)
    axes[0].legend(fontsize=8)
    axes[0].set_title(f"Per-parameter statistics ({' | '.join(dict.fromkeys(tops))})")
    axes[1].set_xticks(positions, [short_name(name) for name in names], rotation=90, fontsize=5)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=150)
    plt.close(fig)
    return path
