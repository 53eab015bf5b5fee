"""`synpt` command line: one subcommand per user job, dispatched lazily.

Why lazy: `synpt --help` and data commands should start in a fraction of a second, so a subcommand's module (which
may import JAX) is imported only when that subcommand runs. Each entry of `COMMANDS` names a module that defines
`<name>_arguments(parser)` and `<name>_main(args) -> int` (dashes in the name become underscores).

T5X-style `--gin_file=F`, `--gin_search_paths=DIR[,DIR]` and `--gin.KEY=VALUE` flags are collected for every
command into `args.gin_files`, `args.gin_search_paths` and `args.gin_bindings` (lists of str); commands that do not
take gin reject them.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys

from synpt import __version__
from synpt.errors import SynptError, storage_error
from synpt.train import distributed

# name -> (module, one-line summary, accepts gin flags)
COMMANDS: dict[str, tuple[str, str, bool]] = {
    "quickstart": ("synpt.cli.experiments", "the study in miniature, offline, on g2p (synpt study)", False),
    "study": ("synpt.cli.experiments", "pre-training x init rows x tasks x seeds, with CIs and verdicts", False),
    "generate": ("synpt.cli.synthetic", "write synthetic pre-training data in the reference layout", False),
    "verify": ("synpt.cli.synthetic", "recompute every target of a synthetic data file and report mismatches", False),
    "show": ("synpt.cli.synthetic", "print a few examples of a task readably", False),
    "data": ("synpt.cli.data", "download or check datasets and the T5 vocabulary", False),
    "vocab": ("synpt.cli.data", "build an offline SentencePiece vocabulary", False),
    "evaluate": ("synpt.cli.data", "score a predictions file with a task's metrics", False),
    "train": ("synpt.cli.train", "train from gin files (T5X style)", True),
    "pretrain": ("synpt.cli.train", "pre-train a T5 on a synthetic task (resumes automatically)", True),
    "score": ("synpt.cli.model", "teacher-forced log-probabilities of targets given inputs", False),
    "export-hf": ("synpt.cli.model", "export a run's checkpoint to Hugging Face format", False),
    "predict": ("synpt.cli.model", "decode a text file with a checkpoint (beam search), one output per line", False),
    "init": ("synpt.cli.init", "write an initial checkpoint with a weight-transfer or statistics scheme", False),
    "stats": ("synpt.cli.init", "print (and plot) per-parameter statistics of checkpoints", False),
    "finetune": ("synpt.cli.experiments", "fine-tune on a downstream task with the paper's selection rule", True),
    "report": ("synpt.cli.experiments", "build the paper's tables and plots from run directories", False),
    "info": ("synpt.cli.info", "print jax, the devices, the mesh a run would build and the assumed peak FLOP/s", False),
}


def _split_gin_flags(argv: list[str]) -> tuple[list[str], list[str], list[str], list[str]]:
    """Separate `--gin_file F`, `--gin_search_paths DIRS` (either with `=`) and `--gin.KEY=VALUE` from argv."""
    rest: list[str] = []
    gin_files: list[str] = []
    search_paths: list[str] = []
    gin_bindings: list[str] = []
    items = iter(argv)
    for item in items:
        flag, has_value, value = item.partition("=")
        if flag in ("--gin_file", "--gin_search_paths"):
            value = value if has_value else next(items, None)
            if not value:
                raise SynptError(f"{flag} needs a value, e.g. --gin_file=pretrain.gin or --gin_search_paths=my_configs")
            if flag == "--gin_file":
                gin_files.append(value)
            else:
                search_paths += [path for path in value.split(",") if path]
        elif item.startswith("--gin."):
            binding = item[len("--gin.") :]
            if "=" not in binding:
                raise SynptError(f"{item!r}: write gin overrides as --gin.KEY=VALUE, e.g. --gin.TRAIN_STEPS=1000")
            gin_bindings.append(binding)
        else:
            rest.append(item)
    return rest, gin_files, search_paths, gin_bindings


def _command_module(name: str):
    module_name, _, _ = COMMANDS[name]
    return importlib.import_module(module_name)


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The top-level parser; only `command`'s module is imported to add its arguments."""
    parser = argparse.ArgumentParser(
        prog="synpt",
        description="Synthetic pre-training research on T5 encoder-decoders.",
        epilog="Run 'synpt COMMAND --help' for a command's options.",
    )
    parser.add_argument("--version", action="version", version=f"synpt {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name, (_, summary, _) in COMMANDS.items():
        sub = subparsers.add_parser(name, help=summary, description=summary)
        if name == command:
            getattr(_command_module(name), f"{name.replace('-', '_')}_arguments")(sub)
            if name in distributed.DISTRIBUTED_COMMANDS:
                distributed.add_arguments(sub)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        rest, gin_files, search_paths, gin_bindings = _split_gin_flags(argv)
        command = next((a for a in rest if a in COMMANDS), None)
        parser = build_parser(command)
        args = parser.parse_args(rest)
        if args.command is None:
            parser.print_help()
            return 0
        if (gin_files or search_paths or gin_bindings) and not COMMANDS[args.command][2]:
            raise SynptError(f"'synpt {args.command}' takes no --gin_file/--gin_search_paths/--gin.KEY=VALUE flags")
        args.gin_files, args.gin_search_paths, args.gin_bindings = gin_files, search_paths, gin_bindings
        if args.command in distributed.DISTRIBUTED_COMMANDS:
            distributed.initialize_from_args(args)  # before any device is touched
        return int(getattr(_command_module(args.command), f"{args.command.replace('-', '_')}_main")(args) or 0)
    except SynptError as err:
        print(f"synpt: error: {err}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `synpt data check | head`: the reader left, nothing to report
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the exit-time flush cannot fail again
        return 0
    except OSError as err:  # a full disk, read-only or forbidden path that no command turned into a SynptError
        converted = storage_error(err, "a file")
        if converted is None:
            raise
        print(f"synpt: error: {converted}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("synpt: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
