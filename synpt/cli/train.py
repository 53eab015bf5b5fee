"""`synpt train` (T5X-style gin files) and `synpt pretrain` (flags for the common case).

Both build macro values (see gin_config.MACROS), turn them into a TrainConfig and a data stream, and call
`trainer.train`, which resumes automatically when the run directory already holds a checkpoint: rerunning the same
command after a crash or preemption continues the run.
"""

from __future__ import annotations

import argparse
import itertools

from synpt.catalog import get_task
from synpt.cli.run_options import add_run_options, apply_tracker_flag
from synpt.errors import SynptError
from synpt.paths import resolve_data_dir
from synpt.train.config import TrainConfig
from synpt.train.gin_config import (
    PRETRAIN_DEFAULTS,
    GinValues,
    macro_values,
    operative_config,
    parse_gin,
    train_config_from,
)

PRETRAINING_FAMILIES = ("simple", "lime", "corpus", "natural")
DEFAULTS = TrainConfig()  # the paper's pre-training run (reference §4.5): PRETRAIN_DEFAULTS as macros

# pretrain flag -> macro it sets (a flag left out keeps the gin/default value)
_PRETRAIN_FLAGS = {
    "task": "MIXTURE_OR_TASK_NAME",
    "model": "MODEL",
    "steps": "TRAIN_STEPS",
    "batch_size": "BATCH_SIZE",
    "seed": "SEED",
    "out": "MODEL_DIR",
    "checkpoint_every": "CHECKPOINT_PERIOD",
    "eval_every": "EVAL_PERIOD",
    "data_source": "DATA_SOURCE",
    "data_dir": "DATA_DIR",
    "padding": "PADDING",
}


def train_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = (
        "Configure with --gin_file=pretrain.gin (a packaged config, found from any directory; or any path, or a "
        "file in a --gin_search_paths folder) and --gin.KEY=VALUE overrides, e.g. --gin.MODEL_DIR=runs/set "
        "--gin.MIXTURE_OR_TASK_NAME=set --gin.TRAIN_STEPS=10000. The run directory gets config.gin, the operative "
        "config. Rerunning the same command resumes from the latest checkpoint in MODEL_DIR. Downstream tasks are "
        "fine-tuned with synpt finetune (decoded evals, the paper's selection rule, results.json)."
    )
    add_run_options(parser)


def train_main(args: argparse.Namespace) -> int:
    values = parse_gin(args.gin_files, args.gin_bindings, search_paths=args.gin_search_paths, reader="synpt train")
    apply_tracker_flag(values, args)
    run(values, pretraining_only=False, progress=not args.no_progress)
    return 0


def pretrain_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = (
        f"Defaults are the paper's ({DEFAULTS.model}, {DEFAULTS.steps} steps, batch {DEFAULTS.batch_size}, "
        f"{DEFAULTS.input_length}/{DEFAULTS.target_length}, {DEFAULTS.schedule} LR, Adafactor); --gin.KEY=VALUE "
        "overrides any of them. Rerunning the same command resumes from the latest checkpoint in --out."
    )
    parser.add_argument("--task", required=True, help="synthetic task, e.g. identity, set, lime")
    parser.add_argument("--model", help=f"model preset (default {DEFAULTS.model})")
    parser.add_argument("--steps", type=int, help=f"training steps (default {DEFAULTS.steps})")
    parser.add_argument("--batch-size", type=int, help=f"global batch size (default {DEFAULTS.batch_size})")
    parser.add_argument("--seed", type=int, help=f"seed of init, dropout and data (default {DEFAULTS.seed})")
    parser.add_argument("--out", required=True, help="run directory; holds checkpoints, metrics.jsonl, config.json")
    parser.add_argument(
        "--checkpoint-every", type=int, help=f"steps between checkpoints (default {DEFAULTS.checkpoint_every})"
    )
    parser.add_argument(
        "--eval-every", type=int, help=f"steps between validation evals (default {DEFAULTS.eval_period})"
    )
    parser.add_argument(
        "--data-source", choices=("stream", "files"), help="generate examples on the fly (default) or read files"
    )
    parser.add_argument("--data-dir", help="data directory for --data-source files ($SYNPT_DATA_DIR, ./data)")
    parser.add_argument(
        "--padding", choices=("bucket", "fixed", "pack"), help=f"batch padding (default {DEFAULTS.padding})"
    )
    add_run_options(parser)


def pretrain_main(args: argparse.Namespace) -> int:
    values = parse_gin(
        args.gin_files,
        args.gin_bindings,
        defaults=PRETRAIN_DEFAULTS,
        search_paths=args.gin_search_paths,
        reader="synpt pretrain",
    )
    for flag, key in _PRETRAIN_FLAGS.items():
        if getattr(args, flag) is not None:
            values.set(key, getattr(args, flag), f"--{flag.replace('_', '-')}")
    apply_tracker_flag(values, args)
    run(values, pretraining_only=True, progress=not args.no_progress)
    return 0


def run(values: GinValues, *, pretraining_only: bool, progress: bool = True):
    """Train as the macro `values` say: the task's train stream, its first validation examples for eval."""
    import jax

    from synpt.train.partitioning import host_train_stream
    from synpt.train.run_identity import checkpoint_identity, claim_run_dir, train_fingerprint
    from synpt.train.sources import load_checkpoint
    from synpt.train.trackers import open_trackers
    from synpt.train.trainer import train

    for key in ("MODEL_DIR", "MIXTURE_OR_TASK_NAME"):
        if not values.get(key):
            raise SynptError(f"{key} is not set; pass --gin.{key}=... or set it in a gin file")
    data_dir = resolve_data_dir(values.get("DATA_DIR"))
    task = get_task(values["MIXTURE_OR_TASK_NAME"], data_dir)
    if pretraining_only and task.family not in PRETRAINING_FAMILIES:
        raise SynptError(
            f"'synpt pretrain' trains on pre-training tasks (synthetic or natural_text); {task.name!r} is a "
            f"{task.family} task"
        )
    if task.settings is not None:  # a downstream task
        raise SynptError(
            f"{task.name!r} is a downstream task: fine-tune it with `synpt finetune --task {task.name} ...`, which "
            "decodes at every eval, applies the paper's selection rule and writes results.json (synpt train does not)"
        )
    options = dict(values.get("TASK_OPTIONS") or {})
    if values.get("DATA_SOURCE"):
        options["source"] = values["DATA_SOURCE"]
    if options:
        task = task.with_options(**options)  # unknown names are refused with the task's valid options

    initial_params = None
    if values.get("INITIAL_CHECKPOINT_PATH"):
        initial_params, checkpoint_config = load_checkpoint(values["INITIAL_CHECKPOINT_PATH"])
        if "MODEL" not in values:
            values.set("MODEL", checkpoint_config, "INITIAL_CHECKPOINT_PATH")
    config = train_config_from(values)
    seed = config.seed
    if "inputs_length" in task.options and "inputs_length" not in options:
        # span-corrupted corpora size their raw chunks so that the noised input exactly fills the input length
        task = task.with_options(inputs_length=config.input_length)

    eval_count = None if config.eval_batches is None else config.eval_batches * config.batch_size
    eval_examples = list(itertools.islice(task.examples("validation", seed=seed, data_dir=data_dir), eval_count))
    run_info = {
        "task": task.name,
        "task_options": task.options,
        "data_dir": str(data_dir),
        "initial_checkpoint": values.get("INITIAL_CHECKPOINT_PATH"),
        "data": task.data_info(data_dir),
    }
    source = values.get("INITIAL_CHECKPOINT_PATH")
    identity = {
        "task": task.name,
        "task_options": task.options,
        "initial_checkpoint": source and checkpoint_identity(source),
    }
    fingerprint = train_fingerprint(config, identity)
    operative = {**values, **macro_values(config), "DATA_DIR": str(data_dir)}
    operative.setdefault("TRACKERS", "tensorboard")
    command = "synpt pretrain" if pretraining_only else "synpt train"
    with (
        claim_run_dir(values["MODEL_DIR"], "pretrain", *fingerprint, primary=jax.process_index() == 0),
        open_trackers(operative["TRACKERS"], values["MODEL_DIR"], hparams=operative) as trackers,
    ):
        summary = train(
            config,
            model_dir=values["MODEL_DIR"],
            train_stream=host_train_stream(task, seed=seed, data_dir=data_dir),
            eval_examples=eval_examples,
            initial_params=initial_params,
            run_info=run_info,
            progress=progress,
            operative_config=operative_config(operative, values.sources, f"{command}: {values['MODEL_DIR']}"),
            trackers=trackers,
        )
    final = summary.evals[-1] if summary.evals else {}
    print(
        f"done: step {summary.step}, checkpoint {summary.checkpoint}, "
        f"validation accuracy {final.get('accuracy', float('nan')):.4f}, {summary.seconds:.0f} s"
    )
    return summary
