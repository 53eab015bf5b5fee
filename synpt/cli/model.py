"""`synpt export-hf` and `synpt score`: a checkpoint to Hugging Face format, and teacher-forced log-probabilities."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from synpt.cli.run_options import add_progress_option
from synpt.errors import SynptError
from synpt.vocab import EOS_ID


def export_hf_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "run_dir", metavar="RUN_DIR", help="run directory (latest checkpoint), checkpoint or params dir"
    )
    parser.add_argument("out_dir", metavar="OUT_DIR", help="folder to write config.json and model.safetensors into")


def export_hf_main(args: argparse.Namespace) -> int:
    from synpt.model.hf import export_hf
    from synpt.train.checkpoints import load_params

    params, config = load_params(args.run_dir)
    out = export_hf(params, config, args.out_dir)
    print(f"wrote {out}/config.json and model.safetensors (load with T5ForConditionalGeneration.from_pretrained)")
    return 0


def score_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--ckpt", required=True, help="run directory (latest checkpoint), checkpoint or params dir")
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
    from synpt.train.checkpoints import load_params

    if args.batch_size < 1:
        raise SynptError(f"--batch-size {args.batch_size}: must be a positive integer")
    params, config = load_params(args.ckpt)
    examples = read_score_file(args.input, config.vocab_size)
    scores = score_examples(config, params, examples, batch_size=args.batch_size, progress=not args.no_progress)
    for example, logprob in zip(examples, scores, strict=True):
        record = {"line": example["line"], "logprob": logprob, "target_tokens": len(example["targets"])}
        print(json.dumps(record))
    return 0
