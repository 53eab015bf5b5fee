"""`synpt stats --plot`: labels readable at T5 size (grouped by layer, short kinds, short legend), and the PNG is
written even when stdout is a closed pipe (`synpt stats ... --plot f.png | head`)."""

from __future__ import annotations

import os
import struct
import subprocess
import sys
from pathlib import Path

from synpt.init.stats_plot import (
    INCHES_PER_PARAMETER,
    TICK_FONT_SIZE,
    group_and_kind,
    legend_labels,
    plot_stats,
)
from synpt.model.config import get_config
from synpt.model.t5 import flatten_names
from synpt.train.checkpoints import abstract_params

REPO_ROOT = Path(__file__).resolve().parents[1]


def fake_stats(preset: str, scale: float) -> dict:
    names = flatten_names(abstract_params(get_config(preset)))
    return {name: {"shape": [1], "mean": 0.01 * scale, "std": 0.05 * scale, "rms": 0.05} for name in names}


def png_size(path: Path) -> tuple[int, int]:
    return struct.unpack(">II", path.read_bytes()[16:24])


def test_labels_are_grouped_by_layer_and_short():
    names = list(fake_stats("t5_1_1_small", 1.0))
    labels = [group_and_kind(name) for name in names]
    assert group_and_kind("encoder/layers_2/attention/query/kernel") == ("enc L2", "q")
    assert group_and_kind("decoder/layers_7/encoder_decoder_attention/out/kernel") == ("dec L7", "cross.o")
    assert group_and_kind("decoder/layers_0/pre_mlp_layer_norm/scale") == ("dec L0", "ln_mlp")
    assert group_and_kind("decoder/decoder_norm/scale") == ("", "dec.final_ln")
    assert group_and_kind("token_embedder/embedding") == ("", "embedding")
    assert len(set(labels)) == len(names)  # (group, kind) still names each parameter
    assert {group for group, _ in labels} - {""} == {f"{side} L{i}" for side in ("enc", "dec") for i in range(8)}
    assert max(len(kind) for _, kind in labels) <= 12


def test_legend_drops_the_common_path():
    assert legend_labels(["/home/me/runs/set/checkpoint_5000", "random init (tiny)"]) == [
        "set/checkpoint_5000",
        "random init (tiny)",
    ]
    assert legend_labels(["/a/x/run/checkpoint_1", "/a/y/run/checkpoint_1"]) == [
        "x/run/checkpoint_1",
        "y/run/checkpoint_1",
    ]


def test_plot_at_t5_small_size_keeps_ticks_legible(tmp_path):
    stats = {"/long/path/to/runs/set/checkpoint_80000": fake_stats("t5_small", 1.0), "t5": fake_stats("t5_small", 2)}
    path = plot_stats(stats, tmp_path / "sub" / "stats.png")
    width, height = png_size(path)
    parameters = len(stats["t5"])
    assert parameters > 120 and height == 960
    assert width >= parameters * INCHES_PER_PARAMETER * 120  # one tick per 0.17 in: room for an 8 pt label
    assert INCHES_PER_PARAMETER * 72 >= 1.3 * TICK_FONT_SIZE


def test_plot_is_written_when_stdout_is_a_closed_pipe(tmp_path):
    plot = tmp_path / "f.png"
    command = [sys.executable, "-m", "synpt", "stats", "--random-init", "tiny", "--plot", str(plot)]
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    process.stdout.close()  # the reader (`| head`) is gone before anything is printed
    err = process.stderr.read().decode()
    assert process.wait(timeout=300) == 0 and "Traceback" not in err, err
    assert plot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
