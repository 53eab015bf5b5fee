"""`synpt predict`: text in, text out, through a checkpoint's vocabulary and batched beam (or greedy) decoding.

Why here and not in model/: the text side (which vocabulary, which decoding settings) is what the checkpoint's run
recorded (checkpoint_info.py); the decoding itself is `synpt.model.decoding.decode_examples`.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from synpt.atomic import temp_path
from synpt.errors import SynptError
from synpt.experiments.checkpoint_info import checkpoint_decoding, checkpoint_vocabulary
from synpt.train.sources import load_checkpoint, resolve_checkpoint
from synpt.vocab import EOS_ID


def predict_texts(
    ckpt: str | os.PathLike,
    texts: Sequence[str],
    *,
    batch_size: int = 32,
    task: str | None = None,
    data_dir: str | os.PathLike | None = None,
    progress: bool = False,
    **decoding_changes: Any,
) -> list[str]:
    """The decoded output text of each input text (EOS appended to the encoded input, as in fine-tuning).

    `decoding_changes` (beam_size, alpha, max_decode_length, scoring; None keeps the run's) override the run's decoding.
    """
    from synpt.model.decoding import decode_examples

    if batch_size < 1:
        raise SynptError(f"--batch-size {batch_size}: must be a positive integer")
    path = resolve_checkpoint(ckpt)
    vocabulary = checkpoint_vocabulary(path, task=task, data_dir=data_dir)
    decoding = checkpoint_decoding(path).replace(**decoding_changes)
    params, config = load_checkpoint(path)
    examples = [{"inputs": [*ids, EOS_ID]} for ids in vocabulary.encode_batch(list(texts))]
    ids = decode_examples(
        config,
        params,
        examples,
        batch_size=batch_size,
        max_decode_length=decoding.max_decode_length,
        beam_size=decoding.beam_size,
        alpha=decoding.alpha,
        scoring=decoding.scoring,
        progress=progress,
    )
    return [vocabulary.decode(row) for row in ids]


def predict_file(input_path: str | os.PathLike, out_path: str | os.PathLike, ckpt: str, **options: Any) -> int:
    """Decode every line of `input_path` into the same line of `out_path`; returns the number of lines."""
    source = Path(input_path)
    if not source.is_file():
        raise SynptError(f"--input {source}: file not found")
    texts = source.read_text(encoding="utf-8").splitlines()
    outputs = predict_texts(ckpt, texts, **options)
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = temp_path(out)
    tmp.write_text("".join(text.replace("\n", " ") + "\n" for text in outputs), encoding="utf-8")
    os.replace(tmp, out)  # a reader never sees half the predictions
    return len(texts)
