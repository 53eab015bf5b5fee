"""What a checkpoint's run says about it: its vocabulary, its decoding settings, its results (for export and predict).

Why: a checkpoint holds arrays and a model config only, but turning text into ids (and ids back into text) needs the
vocabulary of the task it was trained on, and decoding like the run did needs the run's beam size, length penalty
and maximum length. They are read from the run directory (results.json, request.json, config.json) of a synpt
checkpoint, or from the tokenizer and generation config files of a Hugging Face folder; `--task` names the task
whose vocabulary to use when a checkpoint records none (e.g. a `synpt init` params directory).
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from pathlib import Path
from typing import Any

from synpt.catalog import get_task
from synpt.errors import SynptError
from synpt.experiments.plan import REQUEST_FILE, Knobs
from synpt.experiments.report import RESULTS_FILE
from synpt.model.hf_tokenizer import read_hf_vocabulary
from synpt.train.sources import is_hf_folder
from synpt.vocab import Vocabulary

GENERATION_CONFIG = "generation_config.json"
DEFAULT_MAX_DECODE_LENGTH = 128


@dataclasses.dataclass(frozen=True)
class Decoding:
    """How to decode: beam width (1 = greedy), length-penalty exponent α, longest output in tokens (EOS counted),
    and the beam search's scoring rules ("t5x", the paper's, or "hf", Hugging Face `generate`'s)."""

    beam_size: int = Knobs.beam_size
    alpha: float = Knobs.alpha
    max_decode_length: int = DEFAULT_MAX_DECODE_LENGTH
    scoring: str = "t5x"

    def replace(self, **changes: Any) -> Decoding:
        """A copy with the given (non-None) fields changed, each checked."""
        decoding = dataclasses.replace(self, **{key: value for key, value in changes.items() if value is not None})
        for name in ("beam_size", "max_decode_length"):
            if int(getattr(decoding, name)) < 1:
                raise SynptError(f"{name.replace('_', '-')} {getattr(decoding, name)!r}: must be a positive integer")
        if decoding.alpha < 0:
            raise SynptError(f"alpha {decoding.alpha!r}: the length-penalty exponent must be >= 0")
        if decoding.scoring not in ("t5x", "hf"):
            raise SynptError(f"scoring {decoding.scoring!r}: use t5x or hf")
        return decoding


def run_directory(path: Path) -> Path:
    """The run directory of a checkpoint path (a `checkpoint_<step>` directory's parent; else the path itself)."""
    return path.parent if re.fullmatch(r"checkpoint_\d+", path.name) else path


def run_record(path: Path) -> dict[str, Any]:
    """What the run directory of `path` recorded: results.json over request.json over config.json's "run" entry."""
    run_dir = run_directory(path)
    record: dict[str, Any] = {}
    config = run_dir / "config.json"
    if config.is_file() and not is_hf_folder(run_dir):
        values = json.loads(config.read_text())
        record.update(values.get("run") or {}, train=values.get("train"))
    for name in (REQUEST_FILE, RESULTS_FILE):
        if (run_dir / name).is_file():
            record.update(json.loads((run_dir / name).read_text()))
    return record


def checkpoint_vocabulary(
    path: Path, *, task: str | None = None, data_dir: str | os.PathLike | None = None
) -> Vocabulary:
    """The vocabulary of the checkpoint at `path` (resolved): `task`'s when given, else the run's or the folder's."""
    if task is None and is_hf_folder(path):
        return read_hf_vocabulary(path)
    record = run_record(path)
    name = task or record.get("task")
    if not name:
        raise SynptError(
            f"{path} records no task, so its vocabulary is unknown: pass --task TASK (the task whose vocabulary the "
            "model was trained with, e.g. --task g2p for bytes)"
        )
    found = get_task(name, data_dir)
    recorded = record.get("vocab") or (record.get("task_options") or {}).get("vocab")  # finetune --vocab, options
    vocab = recorded if task is None else None
    if vocab is not None and "vocab" in found.options:
        found = found.with_options(vocab=vocab)
    return found.vocabulary(data_dir)


def checkpoint_decoding(path: Path) -> Decoding:
    """The decoding settings of the checkpoint's run (a fine-tuning run's knobs and lengths), else the defaults."""
    if is_hf_folder(path):
        generation = path / GENERATION_CONFIG
        values = json.loads(generation.read_text()) if generation.is_file() else {}
        return Decoding(
            beam_size=int(values.get("num_beams", Decoding.beam_size)),
            max_decode_length=int(values.get("max_new_tokens", DEFAULT_MAX_DECODE_LENGTH)),
        )
    record = run_record(path)
    knobs, settings, train = record.get("knobs") or {}, record.get("settings") or {}, record.get("train") or {}
    length = settings.get("max_decode_length") or train.get("target_length") or DEFAULT_MAX_DECODE_LENGTH
    return Decoding(
        beam_size=int(knobs.get("beam_size", Decoding.beam_size)),
        alpha=float(knobs.get("alpha", Decoding.alpha)),
        max_decode_length=int(length),
    )
