"""Hugging Face tokenizer files for synpt's vocabularies, and the vocabulary of a Hugging Face folder.

Why: an exported model is only usable if `AutoTokenizer.from_pretrained(folder)` encodes text into the ids it was
trained on. synpt's `ByteVocabulary` is ByT5's layout (pad 0, eos 1, unk 2, byte b -> b + 3), so it is written as a
`ByT5Tokenizer` with no extra ids (synpt has none; the model's embedding rows beyond 259 are padding, as ByT5's
384 rows are); a SentencePiece vocabulary is written as a `T5Tokenizer` (the `.model` file itself plus its
`extra_ids` sentinels, the seqio layout both share). Any other vocabulary has no Hugging Face equivalent and is
refused. Files are plain JSON plus a copied model file: writing them needs neither transformers nor torch.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

from synpt.errors import SynptError
from synpt.vocab import ByteVocabulary, SentencePieceVocabulary, Vocabulary

SPIECE_FILE = "spiece.model"
TOKENIZER_CONFIG = "tokenizer_config.json"
_SPECIAL_TOKENS = {"pad_token": "<pad>", "eos_token": "</s>", "unk_token": "<unk>"}


def write_hf_tokenizer(vocabulary: Vocabulary, out_dir: str | Path, *, max_length: int | None = None) -> list[str]:
    """Write the tokenizer files of `vocabulary` into `out_dir`; returns the file names written."""
    out = Path(out_dir)
    settings: dict[str, Any] = {**_SPECIAL_TOKENS, "clean_up_tokenization_spaces": False}
    if max_length is not None:
        settings["model_max_length"] = max_length
    if isinstance(vocabulary, ByteVocabulary):
        settings.update(tokenizer_class="ByT5Tokenizer", extra_ids=0)
        written = []
    elif isinstance(vocabulary, SentencePieceVocabulary):
        shutil.copyfile(vocabulary.model_path, out / SPIECE_FILE)
        extra = [f"<extra_id_{n}>" for n in range(vocabulary.extra_ids)]
        settings.update(
            tokenizer_class="T5Tokenizer", extra_ids=vocabulary.extra_ids, additional_special_tokens=extra, legacy=False
        )
        settings["synpt_vocabulary"] = vocabulary.name  # says whether it is the paper's T5 vocabulary
        written = [SPIECE_FILE]
    else:
        raise SynptError(
            f"cannot export a tokenizer for the vocabulary {vocabulary.name!r}: Hugging Face has an equivalent only "
            "for synpt's bytes (ByT5Tokenizer) and SentencePiece (T5Tokenizer) vocabularies"
        )
    (out / TOKENIZER_CONFIG).write_text(json.dumps(settings, indent=2) + "\n")
    (out / "special_tokens_map.json").write_text(json.dumps(_SPECIAL_TOKENS, indent=2) + "\n")
    return [*written, TOKENIZER_CONFIG, "special_tokens_map.json"]


def read_hf_vocabulary(folder: str | Path) -> Vocabulary:
    """The synpt vocabulary of a Hugging Face T5 folder: its `spiece.model` (T5Tokenizer) or bytes (ByT5Tokenizer)."""
    folder = Path(folder)
    config_path = folder / TOKENIZER_CONFIG
    settings = json.loads(config_path.read_text()) if config_path.is_file() else {}
    if (folder / SPIECE_FILE).is_file():
        is_t5 = "custom-NOT-t5" not in str(settings.get("synpt_vocabulary", ""))
        return SentencePieceVocabulary(folder / SPIECE_FILE, extra_ids=int(settings.get("extra_ids", 100)), is_t5=is_t5)
    if settings.get("tokenizer_class") == "ByT5Tokenizer":
        return ByteVocabulary()
    raise SynptError(
        f"{folder} has no tokenizer synpt can read ({SPIECE_FILE} of a T5Tokenizer, or a ByT5Tokenizer "
        f"{TOKENIZER_CONFIG}); pass --task TASK to use that task's vocabulary"
    )
