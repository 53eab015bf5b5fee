"""`synpt generate`, `synpt verify`, `synpt show`: write, check and look at synthetic pre-training data."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from synpt.catalog import get_task
from synpt.cli.run_options import add_progress_option
from synpt.errors import SynptError, storage_errors
from synpt.paths import resolve_data_dir
from synpt.synthetic.files import parse_id_pair

_MAX_REPORTED = 10


def _add_task_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--length-range", help="inclusive bounds on the argument length, e.g. 10,220")
    parser.add_argument(
        "--set-order",
        choices=("cpython", "sorted", "first_appearance"),
        help="target order of union/intersect/set differences (default cpython: the reference's set order)",
    )
    parser.add_argument(
        "--balanced", action="store_true", help="delete/search: reject within the chosen branch (50/50 search)"
    )
    parser.add_argument("--pool-size", type=int, help="restrict the token pool to a seeded random subset of this size")
    parser.add_argument(
        "--option",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="any other task option, e.g. --option vocab=bytes (nonsense_summary) or --option frequency=uniform "
        "(nesting_language); repeatable",
    )


def _parse_option_value(text: str):
    """`--option` values: int, then float, else the string itself."""
    for kind in (int, float):
        try:
            return kind(text)
        except ValueError:
            pass
    return text


def _task_options(args, task) -> dict:
    """The options given on the command line that this task accepts (with `--task all` each task takes its own)."""
    given = {
        "length_range": args.length_range,
        "set_order": args.set_order,
        "balanced": True if args.balanced else None,
        "pool_size": args.pool_size,
    }
    given = {k: v for k, v in given.items() if v is not None}
    for item in args.option:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SynptError(f"--option {item!r}: write task options as KEY=VALUE, e.g. --option vocab=bytes")
        given[key.replace("-", "_")] = _parse_option_value(value)
    if getattr(args, "task", None) == "all":
        given = {k: v for k, v in given.items() if k in task.options}
    return given


def _configured(args, name: str):
    task = get_task(name)
    options = _task_options(args, task)
    return task.with_options(**options) if options else task


# -- generate -------------------------------------------------------------------------------------------------------
def generate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--task", required=True, help="a task name or alias, or 'all' (the 18 simple tasks and lime)")
    parser.add_argument("--num-examples", type=int, help="examples generated before dedup (default: train + valid)")
    parser.add_argument(
        "--train", type=int, help="lines of train.txt (first N after dedup; default 1,000,000 or the task's own)"
    )
    parser.add_argument(
        "--valid", type=int, help="lines of valid.txt (last N after dedup; default 10,000 or the task's own)"
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", help="data root (default: $SYNPT_DATA_DIR or ./data)")
    parser.add_argument("--workers", type=int, default=1, help="worker threads; the output is the same for any K")
    add_progress_option(parser)
    _add_task_options(parser)


def _check_counts(**counts: tuple[int | None, int]) -> None:
    """Refuse a count flag below its minimum: `flag_name=(value, minimum)`; None means the flag was left out."""
    for name, (value, minimum) in counts.items():
        if value is not None and value < minimum:
            raise SynptError(f"--{name.replace('_', '-')} {value}: must be >= {minimum}")


def generate_main(args) -> int:
    counts = dict(train=(args.train, 0), valid=(args.valid, 0), num_examples=(args.num_examples, 1))
    _check_counts(**counts, workers=(args.workers, 1))
    if args.task == "all":
        from synpt.synthetic.simple import BUILTIN_TASKS

        names = [*BUILTIN_TASKS, "lime"]
    else:
        names = [args.task]
    root = resolve_data_dir(args.out)
    for name in names:
        task = _configured(args, name)
        if not task.writes_dataset:
            raise SynptError(f"task {name!r} is a {task.family} task; 'synpt generate' writes synthetic tasks only")
        sizes = {"num_train": 1_000_000, "num_valid": 10_000, **task.default_sizes}
        start = time.perf_counter()
        with storage_errors(root):
            manifest = task.write_dataset(
                root,
                num_train=sizes["num_train"] if args.train is None else args.train,
                num_valid=sizes["num_valid"] if args.valid is None else args.valid,
                seed=args.seed,
                workers=args.workers,
                progress=not args.no_progress,
                num_examples=args.num_examples,
            )
        print(f"{task.name}: {json.dumps(manifest.get('counts'))} in {time.perf_counter() - start:.1f} s -> {root}")
    return 0


# -- verify ---------------------------------------------------------------------------------------------------------
def verify_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--task", required=True, help="the simple task the file belongs to (name or alias)")
    parser.add_argument("file", help="a reference-format file: [ids]<TAB>[ids] per line")
    parser.add_argument(
        "--set-order",
        choices=("cpython", "sorted", "first_appearance"),
        help="set-op order the file was written with (default: from manifest.json beside it, else cpython)",
    )


def verify_file(task, path: Path) -> tuple[int, list[str]]:
    """Recompute every line's target with the task's oracle; (line count, problems as `file:line: why`)."""
    lines, problems = 0, []
    with open(path, encoding="utf-8", errors="replace") as handle:
        for lineno, line in enumerate(handle, 1):
            lines += 1
            try:
                inputs, targets = parse_id_pair(line)
                expected = task.oracle_target(inputs)
            except ValueError as err:
                problems.append(f"{path}:{lineno}: malformed: {err}")
                continue
            if expected != targets:
                problems.append(
                    f"{path}:{lineno}: target mismatch (expected {_short(expected)}, found {_short(targets)})"
                )
    return lines, problems


def _short(ids: list[int]) -> str:
    return str(ids) if len(ids) <= 8 else f"[{', '.join(map(str, ids[:8]))}, ... ({len(ids)} ids)]"


def verify_main(args) -> int:
    task = get_task(args.task)
    if not task.has_oracle:
        raise SynptError(f"'synpt verify' checks simple tasks (prefix + 32099 + args); {task.name!r} is {task.family}")
    path = Path(args.file)
    if not path.is_file():
        raise SynptError(f"{path}: file not found")
    set_order = args.set_order
    manifest = path.parent / "manifest.json"
    if set_order is None and manifest.is_file():
        set_order = json.loads(manifest.read_text()).get("options", {}).get("set_order")
    if set_order and "set_order" in task.options:
        task = task.with_options(set_order=set_order)
    lines, problems = verify_file(task, path)
    print(f"{path}: {lines} lines, {len(problems)} mismatches")
    for problem in problems[:_MAX_REPORTED]:
        print(f"  {problem}")
    if len(problems) > _MAX_REPORTED:
        print(f"  ... and {len(problems) - _MAX_REPORTED} more")
    return 1 if problems or lines == 0 else 0


# -- show -----------------------------------------------------------------------------------------------------------
_SPECIAL = {
    32099: "|",
    32098: "/",
    32097: "‖",
    32096: "∅",
    1: "</s>",
}
_LIME_SYMBOLS = {
    32000: ":",
    32001: "<sep>",
    32002: "<UPPER>",
    32003: "[",
    32004: "<LOWER>",
    32005: "<MATH>",
    32006: "]",
}


def describe(task, ids: list[int]) -> str:
    """Ids as text, with the task-name prefix as `<name>` and separators marked (| ‖ / ∅, LIME symbols)."""
    ids = [int(i) for i in ids]
    if ids and ids[-1] == 1:
        ids = ids[:-1]
    head = ""
    prefix = list(task.prefix)
    if prefix and ids[: len(prefix)] == prefix:
        head, ids = f"<{task.generator_name}> ", ids[len(prefix) :]
    names = {**_SPECIAL, **(_LIME_SYMBOLS if task.family == "lime" else {})}
    return head + " ".join(names.get(i, str(i)) for i in ids)


def show_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--task", required=True)
    parser.add_argument("-n", type=int, default=5, help="number of examples")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--split", default="train", choices=("train", "validation"))
    parser.add_argument("--data-dir", help="data root for --source files or a present valid.txt")
    parser.add_argument("--source", choices=("stream", "files"), help="generate on the fly or read the data files")
    _add_task_options(parser)


def show_main(args) -> int:
    if args.n < 1:
        raise SynptError(f"-n {args.n}: the number of examples to show must be >= 1")
    task = _configured(args, args.task)
    if args.source:
        task = task.with_options(source=args.source)
    stream = task.examples(args.split, seed=args.seed, data_dir=args.data_dir)
    for _, example in zip(range(args.n), stream, strict=False):
        print(f"{describe(task, example['inputs'])}  →  {describe(task, example['targets'])}")
    sys.stdout.flush()
    return 0
