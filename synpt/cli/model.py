"""`synpt export-hf`, `synpt predict` and `synpt score`: a checkpoint to Hugging Face format, text in -> text out,
and teacher-forced log-probabilities."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from synpt.cli.run_options import add_progress_option
from synpt.errors import SynptError
from synpt.vocab import EOS_ID

CKPT_HELP = "run directory (latest checkpoint), checkpoint, params dir, Hugging Face folder or hf:ORG/NAME"


def _checkpoint_text_arguments(parser: argparse.ArgumentParser) -> None:
    """The vocabulary and decoding flags shared by export-hf and predict (defaults: what the run recorded)."""
    parser.add_argument("--task", help="task whose vocabulary the model uses (default: the run's task)")
    parser.add_argument("--data-dir", help="data directory (for the T5 vocabulary; default $SYNPT_DATA_DIR or ./data)")
    parser.add_argument("--beam", type=int, dest="beam_size", help="beam width, 1 = greedy (default: the run's, 4)")
    parser.add_argument("--alpha", type=float, help="T5X length-penalty exponent (default: the run's, 0.6)")
    parser.add_argument("--max-decode-length", type=int, help="longest output in tokens (default: the run's)")
    parser.add_argument("--scoring", choices=("t5x", "hf"),
                        help="beam scoring rules: t5x (the paper's, default) or hf (Hugging Face generate's, so that "
                        "outputs equal an exported model's)")  # fmt: skip


def _decoding_changes(args: argparse.Namespace) -> dict:
    keys = ("beam_size", "alpha", "max_decode_length", "scoring")
    return {key: getattr(args, key) for key in keys}


def export_hf_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", metavar="RUN_DIR", help=CKPT_HELP)
    parser.add_argument("out_dir", metavar="OUT_DIR", help="folder to write the Hugging Face model, tokenizer and card")
    _checkpoint_text_arguments(parser)


def export_hf_main(args: argparse.Namespace) -> int:
    from synpt.experiments.export import export_checkpoint
    from synpt.train.run_identity import checkpoint_identity, claim_run_dir

    source = checkpoint_identity(args.run_dir)  # a re-export of the same checkpoint may overwrite, nothing else
    with claim_run_dir(args.out_dir, "export", {"source": source}):
        written = export_checkpoint(
            args.run_dir, args.out_dir, task=args.task, data_dir=args.data_dir, **_decoding_changes(args)
        )
    print(f"wrote {', '.join(written)} to {args.out_dir} (load with AutoTokenizer / T5ForConditionalGeneration)")
    return 0


def predict_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ckpt", required=True, help=CKPT_HELP)
    parser.add_argument("--input", required=True, help="text file, one input per line")
    parser.add_argument("--out", required=True, help="file to write one decoded output per line into")
    parser.add_argument("--batch-size", type=int, default=32, help="inputs decoded together (default 32)")
    _checkpoint_text_arguments(parser)
    add_progress_option(parser)


def predict_main(args: argparse.Namespace) -> int:
    from synpt.experiments.predict import predict_file

    count = predict_file(
        args.input,
        args.out,
        args.ckpt,
        batch_size=args.batch_size,
        task=args.task,
        data_dir=args.data_dir,
        progress=not args.no_progress,
        **_decoding_changes(args),
    )
    print(f"wrote {count} predictions to {args.out}")
    return 0


def score_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ckpt", required=True, help=CKPT_HELP)
    parser.add_argument(
        "--input",
        required=True,
        help="text file, one example per line: INPUT_IDS<TAB>TARGET_IDS, ids space-separated or as a JSON list; "
        "EOS (1) is appended to both sides",
    )
    parser.add_argument("--batch-size", type=int, default=32, help="examples per forward pass (default 32)")
    add_progress_option(parser)


def _parse_ids(text: str, where: str) -> list[int]:
    text = text.strip()
    try:
        ids = json.loads(text) if text.startswith("[") else [int(t) for t in text.replace(",", " ").split()]
        if not isinstance(ids, list) or not all(isinstance(i, int) and i >= 0 for i in ids):
            raise ValueError
    except ValueError:
        raise SynptError(f"{where}: expected token ids like '5 17 42' or '[5, 17, 42]', got {text[:60]!r}") from None
    return ids


def read_score_file(path: str | Path, vocab_size: int) -> list[dict[str, list[int]]]:
    """Examples of a `synpt score` input file, EOS appended to inputs and targets."""
    path = Path(path)
    if not path.is_file():
        raise SynptError(f"--input {path}: file not found")
    examples = []
    for number, line in enumerate(path.read_text().splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{path}:{number}"
        if line.count("\t") != 1:
            raise SynptError(f"{where}: expected INPUT_IDS<TAB>TARGET_IDS (exactly one tab)")
        inputs, targets = (_parse_ids(side, where) + [EOS_ID] for side in line.split("\t"))
        too_large = [i for i in inputs + targets if i >= vocab_size]
        if too_large:
            raise SynptError(f"{where}: token id {too_large[0]} is outside the model's vocabulary (size {vocab_size})")
        examples.append({"inputs": inputs, "targets": targets, "line": number})
    if not examples:
        raise SynptError(f"--input {path}: no examples (one INPUT_IDS<TAB>TARGET_IDS per line)")
    return examples


def score_main(args: argparse.Namespace) -> int:
    from synpt.model.scoring import score_examples
    from synpt.train.sources import load_checkpoint

    if args.batch_size < 1:
        raise SynptError(f"--batch-size {args.batch_size}: must be a positive integer")
    params, config = load_checkpoint(args.ckpt)
    examples = read_score_file(args.input, config.vocab_size)
    scores = score_examples(config, params, examples, batch_size=args.batch_size, progress=not args.no_progress)
    for example, logprob in zip(examples, scores, strict=True):
        record = {"line": example["line"], "logprob": logprob, "target_tokens": len(example["targets"])}
        print(json.dumps(record))
    return 0
