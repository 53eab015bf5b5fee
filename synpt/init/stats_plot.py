"""`synpt stats --plot`: the per-parameter SD and mean of checkpoints, readable at T5-small's ~130-190 parameters.

Why this layout: one tick per parameter with its full T5X path made ~5 pt labels that nobody could read. Here the
x axis is grouped by layer (embedding, encoder layer 0, 1, ..., decoder layer 0, ..., final norms and logits):
each group is a shaded band named once above the plot, and each tick names only the kind of parameter (q, k, v,
o, ln_attn, wi_0, ...), at a legible size. The legend names checkpoints by the shortest distinct end of their
paths, not the full path.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from synpt.init.stats import ParamStats, natural_key

_KIND_ABBREVIATIONS = (
    ("/kernel", ""),
    ("/scale", ""),
    ("encoder_decoder_attention/", "cross."),
    ("self_attention/", "self."),
    ("attention/", ""),
    ("pre_cross_attention_layer_norm", "ln_cross"),
    ("pre_self_attention_layer_norm", "ln_self"),
    ("pre_attention_layer_norm", "ln_attn"),
    ("pre_mlp_layer_norm", "ln_mlp"),
    ("query", "q"),
    ("key", "k"),
    ("value", "v"),
    ("out", "o"),
    ("mlp/", ""),
    ("relpos_bias/rel_embedding", "relpos"),
    ("token_embedder/embedding", "embedding"),
    ("encoder_norm", "final_ln"),
    ("decoder_norm", "final_ln"),
    ("logits_dense", "logits"),
    ("/", "."),
)
_SIDES = {"encoder": "enc", "decoder": "dec"}
TICK_FONT_SIZE = 8
GROUP_FONT_SIZE = 9
INCHES_PER_PARAMETER = 0.17


def group_and_kind(name: str) -> tuple[str, str]:
    """("enc L2", "q") for encoder/layers_2/attention/query/kernel; a parameter outside the layers has no group and
    says all in its kind: ("", "dec.final_ln") for decoder/decoder_norm/scale."""
    parts = name.split("/")
    side = _SIDES.get(parts[0], "")
    layer = next((i for i, part in enumerate(parts) if re.fullmatch(r"layers_\d+", part)), None)
    if layer is not None:
        group = f"{side} L{parts[layer].split('_')[1]}".strip()
        rest = "/".join(parts[layer + 1 :])
    else:
        group = ""
        rest = "/".join([side, *parts[1:]]) if side else name
    for long, short in _KIND_ABBREVIATIONS:
        rest = rest.replace(long, short)
    return group, rest


def legend_labels(labels: list[str]) -> list[str]:
    """The shortest end (two parts at least: a run and its checkpoint) of each label's path that tells the labels
    apart: `/home/me/runs/set/checkpoint_5000` -> `set/checkpoint_5000`; a label that is no path stays as it is."""
    parts = [Path(label).parts or (label,) for label in labels]
    for depth in range(2, max(len(p) for p in parts) + 1):
        short = ["/".join(p[-depth:]) for p in parts]
        if len(set(short)) == len(short):
            return short
    return list(labels)


def plot_stats(stats_by_label: Mapping[str, ParamStats], path: str | Path) -> Path:
    """Save a PNG with the SD (log scale) and the mean (symlog) of every parameter, one line per checkpoint."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    names = sorted({name for stats in stats_by_label.values() for name in stats}, key=natural_key)
    groups, kinds = zip(*(group_and_kind(name) for name in names), strict=True)
    positions = np.arange(len(names))
    width = max(10.0, INCHES_PER_PARAMETER * len(names) + 2.5)
    fig, axes = plt.subplots(2, 1, figsize=(width, 8), sharex=True)
    for label, short in zip(stats_by_label, legend_labels(list(stats_by_label)), strict=True):
        stats = stats_by_label[label]
        for axis, key in zip(axes, ("std", "mean"), strict=True):
            values = np.array([stats[name][key] if name in stats else np.nan for name in names])
            if key == "std":
                values[values <= 0] = np.nan  # constant vectors (layer norms) have no SD to show on a log axis
            axis.plot(positions, values, marker="o", markersize=3.5, linewidth=1.0, label=short)
    axes[0].set_yscale("log")
    axes[0].set_ylabel("SD (log scale)", fontsize=GROUP_FONT_SIZE + 1)
    axes[1].set_yscale("symlog", linthresh=1e-3)
    axes[1].set_ylabel("mean (symlog)", fontsize=GROUP_FONT_SIZE + 1)
    axes[1].axhline(0.0, color="grey", linewidth=0.5)

    starts = [i for i in range(len(names)) if i == 0 or groups[i] != groups[i - 1]]
    spans = list(zip(starts, [*starts[1:], len(names)], strict=True))
    for axis in axes:
        axis.grid(axis="y", alpha=0.3)
        axis.tick_params(axis="y", labelsize=TICK_FONT_SIZE)
        for number, (start, end) in enumerate(spans):
            if number % 2:
                axis.axvspan(start - 0.5, end - 0.5, color="grey", alpha=0.08, linewidth=0)
    top = axes[0].secondary_xaxis("top")
    top.set_xticks([(start + end - 1) / 2 for start, end in spans], [groups[start] for start, _ in spans])
    top.tick_params(length=0, labelsize=GROUP_FONT_SIZE)
    axes[1].set_xticks(positions, kinds, rotation=90, fontsize=TICK_FONT_SIZE)
    axes[1].set_xlim(-0.5, len(names) - 0.5)
    axes[0].legend(fontsize=GROUP_FONT_SIZE, loc="best")
    axes[0].set_title("Per-parameter statistics, grouped by layer", fontsize=GROUP_FONT_SIZE + 2, pad=22)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
