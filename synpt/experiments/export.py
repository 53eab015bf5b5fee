"""`synpt export-hf`: a checkpoint -> a Hugging Face folder that loads with no further step.

The folder holds the weights (model.safetensors, written with numpy: no torch needed), config.json, the tokenizer of
the run's vocabulary, generation_config.json with the run's decoding settings and a short model card (README.md).

Decoding is not identical in the two libraries, and the card says how: synpt (like T5X) scores a finished hypothesis
of L tokens as log P / ((5 + L) / 6)^α, Hugging Face as log P / L^length_penalty, so `length_penalty` is written as
α, the nearest setting; `synpt predict --scoring hf` runs Hugging Face's rules and gives `generate`'s outputs.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from synpt.errors import SynptError
from synpt.experiments.checkpoint_info import (
    GENERATION_CONFIG,
    Decoding,
    checkpoint_decoding,
    checkpoint_vocabulary,
    run_record,
)
from synpt.model.config import T5Config
from synpt.model.hf import write_hf_model
from synpt.model.hf_tokenizer import write_hf_tokenizer
from synpt.train.sources import load_checkpoint, resolve_checkpoint
from synpt.vocab import EOS_ID, PAD_ID

DECODER_START_ID = 0


def generation_config(decoding: Decoding) -> dict[str, Any]:
    """generation_config.json for `decoding` (see the module docstring for `length_penalty`)."""
    beam_only = {"length_penalty": decoding.alpha, "early_stopping": "never"} if decoding.beam_size > 1 else {}
    return {
        "decoder_start_token_id": DECODER_START_ID,
        "pad_token_id": PAD_ID,
        "eos_token_id": EOS_ID,
        "num_beams": decoding.beam_size,
        "max_new_tokens": decoding.max_decode_length,
        **beam_only,  # transformers warns about beam settings in a greedy config
        "do_sample": False,
    }


def export_checkpoint(
    ckpt: str | os.PathLike,
    out_dir: str | os.PathLike,
    *,
    task: str | None = None,
    data_dir: str | os.PathLike | None = None,
    **decoding_changes: Any,
) -> list[str]:
    """Write the Hugging Face folder of `ckpt` into `out_dir`; returns the file names written.

    `task` names the task whose vocabulary the model uses when the checkpoint records none; `decoding_changes`
    (beam_size, alpha, max_decode_length) override the run's decoding settings in generation_config.json.
    """
    path = resolve_checkpoint(ckpt)
    vocabulary = checkpoint_vocabulary(path, task=task, data_dir=data_dir)  # before any array is read or written
    decoding = checkpoint_decoding(path).replace(**decoding_changes)
    params, config = load_checkpoint(path)
    if vocabulary.vocab_size > config.vocab_size:
        raise SynptError(
            f"the vocabulary {vocabulary.name} has {vocabulary.vocab_size} ids but the model only "
            f"{config.vocab_size} embedding rows: it is not this model's vocabulary (pass the right --task)"
        )
    out = write_hf_model(params, config, out_dir)
    written = ["model.safetensors", "config.json", *write_hf_tokenizer(vocabulary, out)]
    (out / GENERATION_CONFIG).write_text(json.dumps(generation_config(decoding), indent=2) + "\n")
    (out / "README.md").write_text(model_card(path, config, vocabulary.name, decoding))
    return [*written, GENERATION_CONFIG, "README.md"]


def model_card(path: Path, config: T5Config, vocabulary: str, decoding: Decoding) -> str:
    """A short README.md: what the model was trained on, from what, for how long, and how well it did."""
    record = run_record(path)
    architecture = "T5 1.0 (ReLU, tied embeddings)" if config.tie_embeddings else "T5 1.1 (gated GELU, untied output)"
    steps = (record.get("settings") or {}).get("steps") or (record.get("train") or {}).get("steps")
    lines = [
        "---",
        "library_name: transformers",
        "tags: [t5, synpt]",
        "---",
        "",
        f"# {record.get('task') or path.name} (synpt)",
        "",
        f"Exported by `synpt export-hf` from `{path}`.",
        "",
        f"- task: {record.get('task', 'not recorded')}",
        f"- init: {record.get('init', 'not recorded')}"
        + (f" from {record['ckpt_label'] or record.get('ckpt')}" if record.get("ckpt") else ""),
        f"- steps: {steps if steps is not None else 'not recorded'}",
        f"- model: {architecture}, d_model {config.d_model}, {config.num_encoder_layers}+"
        f"{config.num_decoder_layers} layers, {config.vocab_size} embedding rows",
        f"- vocabulary: {vocabulary}",
    ]
    if "score" in record:
        lines.append(
            f"- result: {record['decode_split']} {record['paper_metric']} = {record['score']:.2f} at step "
            f"{record['best_step']} (best validation accuracy {record['valid_accuracy']:.4f}); all metrics there: "
            f"{json.dumps(record['test_metrics'])}"
        )
    lines += [
        "",
        "## Decoding",
        "",
        f"`generation_config.json` holds the run's settings: beam {decoding.beam_size}, at most "
        f"{decoding.max_decode_length} new tokens, decoder start 0, pad 0, EOS 1.",
        "synpt (like T5X) scores a finished beam of L tokens as log P / ((5 + L) / 6)^α with "
        f"α = {decoding.alpha:g}; Hugging Face divides by L^length_penalty, so `length_penalty` = α is the nearest "
        "setting, not the same function. The searches also differ in two rules: Hugging Face finishes only EOS "
        "candidates among the top num_beams of a step, and at the length limit also finishes unfinished beams, where "
        "synpt keeps every EOS candidate of its 2 x num_beams and falls back to unfinished beams only when none "
        "finished. `generate` with this config gives exactly `synpt predict --scoring hf`'s outputs; the paper's "
        "numbers use synpt's (T5X) rules, `--scoring t5x`, the default.",
        "",
    ]
    return "\n".join(lines)
