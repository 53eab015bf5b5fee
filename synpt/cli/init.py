"""`synpt init` (write an initial params-only checkpoint) and `synpt stats` (per-parameter statistics).

`synpt init` is how the paper's Table 1–3 initialisations are made: a fresh random init of `--model`, then (in the
reference's order) a weight transfer from `--ckpt`, a statistics scheme computed from `--stats-from` (or the
data-free `mimetic` scheme), then a constant pre-attention layer-norm value. The result is a params-only checkpoint
(`save_params`) that pre-training and fine-tuning start from; its metadata.json records every choice and the log.
Checkpoints may be anything `synpt.train.sources` resolves: synpt run/checkpoint/params directories, Hugging Face
T5 folders (config.json + weights) or Hub ids (hf:org/name).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from synpt.errors import SynptError
from synpt.init.schemes import scheme_names
from synpt.init.transfer import TRANSFERS
from synpt.model.config import PRESETS, get_config
from synpt.train.sources import load_checkpoint


def init_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--model", help=f"model preset ({', '.join(PRESETS)}); "
                        "default: the architecture of --ckpt / --stats-from")  # fmt: skip
    schemes = ", ".join(scheme_names())
    parser.add_argument("--scheme", help=f"statistics scheme or mimetic[:alpha=A,beta=B]; one of: {schemes}")
    parser.add_argument("--stats-from", metavar="CKPT", help="checkpoint whose statistics a statistics scheme uses")
    parser.add_argument("--transfer", choices=TRANSFERS, default=None,
                        help="copy weights from --ckpt: all (released-script compatible, embedding included) or "
                        "all_but_embedding (fresh token embedding and untied output layer)")  # fmt: skip
    parser.add_argument("--ckpt", metavar="CKPT", help="checkpoint to transfer weights from (with --transfer)")
    parser.add_argument("--pre-attn-ln-value", metavar="X",
                        help="Table 3: set the pre-attention layer-norm scales to X (a float such as 0.4, -0.1, "
                        "1e-3, or the reference form pre_self_attn_ln-0.4---pre_cross_attn_ln-0.4)")  # fmt: skip
    parser.add_argument("--include-pre-mlp-ln", action="store_true", help="also set the pre-MLP layer norms to X")
    parser.add_argument("--seed", type=int, default=0, help="seed of the fresh init and of the scheme's draws")
    parser.add_argument("--out", required=True, metavar="DIR", help="where to write the params-only checkpoint")


def init_main(args: argparse.Namespace) -> int:
    import jax

    from synpt.init import check_init_settings, initial_params
    from synpt.train.checkpoints import save_params
    from synpt.train.run_identity import check_run_dir, claim_run_dir

    if args.ckpt and args.transfer in (None, "from_scratch"):
        raise SynptError("--ckpt is only used with --transfer all|all_but_embedding; add one or drop --ckpt")
    if args.ckpt and args.stats_from and Path(args.ckpt) != Path(args.stats_from):
        raise SynptError("--ckpt and --stats-from name different checkpoints; a run takes its source from one")
    source_path = args.ckpt or args.stats_from
    check_init_settings(
        scheme=args.scheme,
        has_source=source_path is not None,
        transfer=args.transfer or "from_scratch",
        pre_attn_ln_value=args.pre_attn_ln_value,
        include_pre_mlp_ln=args.include_pre_mlp_ln,
    )
    if (Path(args.out) / "params").exists():
        raise SynptError(f"{args.out} already holds a params checkpoint; choose another --out or delete it")
    check_run_dir(args.out, "init", {})  # a params checkpoint is written once: its kind is all there is to check
    config = get_config(args.model) if args.model else None
    if config is None and source_path is None:
        raise SynptError("pass --model PRESET (e.g. --model t5_small): there is no checkpoint to take it from")
    source, source_config = load_checkpoint(source_path) if source_path else (None, None)
    config = config or source_config
    params, log = initial_params(
        config,
        jax.random.PRNGKey(args.seed),
        scheme=args.scheme,
        source_params=source,
        transfer=args.transfer,
        pre_attn_ln_value=args.pre_attn_ln_value,
        include_pre_mlp_ln=args.include_pre_mlp_ln,
        seed=args.seed,
    )
    settings = {
        "model": args.model or "from source checkpoint",
        "scheme": args.scheme,
        "transfer": args.transfer or "from_scratch",
        "source": str(source_path) if source_path else None,
        "pre_attn_ln_value": args.pre_attn_ln_value,
        "include_pre_mlp_ln": args.include_pre_mlp_ln,
        "seed": args.seed,
    }
    with claim_run_dir(args.out, "init", {}):
        out = save_params(args.out, params, config, metadata={"init": settings, "init_log": log})
    print("\n".join(log))
    print(f"wrote the initial checkpoint to {out}")
    return 0


def stats_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("checkpoints", nargs="*", metavar="CKPT", help="synpt checkpoints or Hugging Face T5 folders")
    parser.add_argument("--random-init", metavar="PRESET", help="also show a fresh random init of PRESET (seed 0)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")
    parser.add_argument("--plot", metavar="FILE.png", help="save a side-by-side plot of SD and mean per parameter")


def stats_main(args: argparse.Namespace) -> int:
    from synpt.init.stats import format_stats_table, parameter_stats
    from synpt.init.stats_plot import plot_stats

    if not args.checkpoints and not args.random_init:
        raise SynptError("give at least one checkpoint (or --random-init PRESET) to compute statistics of")
    stats_by_label = {path: parameter_stats(load_checkpoint(path)[0]) for path in args.checkpoints}
    if args.random_init:
        from synpt.model.t5 import init_params

        fresh = init_params(get_config(args.random_init), 0)
        stats_by_label[f"random init ({args.random_init})"] = parameter_stats(fresh)
    if args.plot:  # first: a reader that leaves early (`| head`) must not cost the plot
        plot = plot_stats(stats_by_label, args.plot)
    if args.json:
        only = next(iter(stats_by_label.values())) if len(stats_by_label) == 1 else stats_by_label
        json.dump(only, sys.stdout, indent=1)
        print()
    else:
        print(format_stats_table(stats_by_label))
    if args.plot:
        print(f"wrote {plot}", file=sys.stderr if args.json else sys.stdout)
    return 0
