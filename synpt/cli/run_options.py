"""Flags that every training command shares (`synpt train`, `pretrain`, `finetune`, `quickstart`).

Why one place: the same flag must mean the same thing on every command that trains; `--tracker` is the flag form of
the TRACKERS gin macro, so a gin file and the flag select trackers alike.
"""

from __future__ import annotations

import argparse

from synpt.train.gin_config import GinValues, tracker_names


def add_progress_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--no-progress",
        action="store_true",
        help="no progress bars and no periodic progress lines (log lines stay); bars are drawn only on a terminal",
    )


def add_run_options(parser: argparse.ArgumentParser) -> None:
    """`--tracker` and `--no-progress`."""
    parser.add_argument(
        "--tracker",
        help="comma-separated trackers: tensorboard (default), wandb (pip install synpt[wandb]; WANDB_MODE=offline "
        "works without a network), or none; the same as --gin.TRACKERS=...",
    )
    add_progress_option(parser)


def apply_tracker_flag(values: GinValues, args: argparse.Namespace) -> None:
    """`--tracker X` wins over a TRACKERS gin binding, as every flag does."""
    if args.tracker is not None:
        values.set("TRACKERS", args.tracker, "--tracker")
    tracker_names(values.get("TRACKERS", ""))
