"""Vocabularies: the T5 SentencePiece model (+100 extra ids), offline-trained SentencePiece models, and bytes.

Why three: the paper's numbers need the exact T5 vocabulary (every synthetic id and every downstream reference is
defined by it); users without that file still need something to run on (a SentencePiece model trained on a task's
own text, clearly marked as *not* T5); and the g2p demo task must work with no vocabulary file at all (bytes).

All of them share the `Vocabulary` protocol of docs/architecture.md: `encode(str) -> list[int]`,
`decode(ids) -> str` (stops at the first EOS, like seqio), `vocab_size`, `eos_id == 1`, `pad_id == 0`, `name`.
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Protocol, runtime_checkable

from synpt.errors import SynptError
from synpt.paths import resolve_data_dir

PAD_ID = 0
EOS_ID = 1
UNK_ID = 2
NUM_EXTRA_IDS = 100
T5_VOCAB_RELATIVE_PATH = Path("vocab") / "t5_spiece.model"
UNK_TEXT = " ⁇ "  # what SentencePiece prints for unk; used for ids a vocabulary cannot decode

_EXTRA_ID_PATTERN = re.compile(r"<extra_id_(\d+)>")


@runtime_checkable
class Vocabulary(Protocol):
    """What tasks, batching and decoding need from a vocabulary."""

    name: str
    vocab_size: int
    eos_id: int
    pad_id: int

    def encode(self, text: str) -> list[int]: ...

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]: ...

    def decode(self, ids: Iterable[int]) -> str: ...


def _until_eos(ids: Iterable[int]) -> list[int]:
    """Ids up to (not including) the first EOS, as seqio's `Vocabulary.decode` does."""
    out = []
    for i in ids:
        i = int(i)
        if i == EOS_ID:
            break
        out.append(i)
    return out


class SentencePieceVocabulary:
    """A SentencePiece model plus `extra_ids` sentinels appended after its pieces, as seqio builds it.

    `<extra_id_N>` has id `piece_size + extra_ids - 1 - N` (T5: 32099 - N). `is_t5` says whether this is the
    paper's T5 vocabulary; a model trained with `synpt vocab train` is loaded with `is_t5=False` and its `name`
    says so, so no result can be mistaken for one computed with the T5 vocabulary.
    """

    def __init__(self, model_path: str | os.PathLike, *, extra_ids: int = NUM_EXTRA_IDS, is_t5: bool = True):
        import sentencepiece as spm

        self.model_path = Path(model_path)
        if not self.model_path.is_file():
            raise SynptError(f"SentencePiece model {self.model_path} does not exist")
        try:
            self._sp = spm.SentencePieceProcessor(model_file=str(self.model_path))
        except (RuntimeError, OSError) as err:
            raise SynptError(f"{self.model_path} is not a SentencePiece model ({err}); download it again") from err
        if (self._sp.pad_id(), self._sp.eos_id(), self._sp.unk_id()) != (PAD_ID, EOS_ID, UNK_ID):
            raise SynptError(
                f"{self.model_path}: pad/eos/unk ids are {self._sp.pad_id()}/{self._sp.eos_id()}/{self._sp.unk_id()}"
                f", synpt needs {PAD_ID}/{EOS_ID}/{UNK_ID} (train it with `synpt vocab train`)"
            )
        self.is_t5 = is_t5
        self.piece_size = self._sp.get_piece_size()
        self.extra_ids = extra_ids
        self.vocab_size = self.piece_size + extra_ids
        self.eos_id = EOS_ID
        self.pad_id = PAD_ID
        self.unk_id = UNK_ID
        kind = "t5" if is_t5 else "custom-NOT-t5"
        self.name = f"sentencepiece:{kind}:{self.model_path.name}:{self.piece_size}+{extra_ids}"

    def extra_id(self, n: int) -> int:
        """The id of `<extra_id_n>`."""
        if not 0 <= n < self.extra_ids:
            raise SynptError(f"<extra_id_{n}> does not exist; this vocabulary has {self.extra_ids} extra ids")
        return self.vocab_size - 1 - n

    def encode(self, text: str) -> list[int]:
        """Token ids of `text` (no EOS); literal `<extra_id_N>` strings become their sentinel ids."""
        ids: list[int] = []
        position = 0
        for match in _EXTRA_ID_PATTERN.finditer(text):
            n = int(match.group(1))
            if n >= self.extra_ids:
                continue
            ids.extend(self._sp.encode(text[position : match.start()]))
            ids.append(self.extra_id(n))
            position = match.end()
        ids.extend(self._sp.encode(text[position:]))
        return ids

    def decode(self, ids: Iterable[int]) -> str:
        """Text of `ids` up to the first EOS; pad is dropped, ids beyond the vocabulary decode as unk."""
        parts: list[str] = []
        run: list[int] = []
        for i in _until_eos(ids):
            if i < self.piece_size:
                run.append(i if i >= 0 else self.unk_id)
            elif i < self.vocab_size:
                parts.append(self._sp.decode(run))
                run = []
                parts.append(f"<extra_id_{self.vocab_size - 1 - i}>")
            else:
                run.append(self.unk_id)
        parts.append(self._sp.decode(run))
        return " ".join(p for p in parts if p)

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        """Encode many strings at once (SentencePiece's batched C++ path when no sentinel appears)."""
        if any("<extra_id_" in t for t in texts):
            return [self.encode(t) for t in texts]
        return self._sp.encode(list(texts))

    def __repr__(self) -> str:
        return f"SentencePieceVocabulary({self.name})"


class ByteVocabulary:
    """UTF-8 bytes as ids 3..258 (pad 0, eos 1, unk 2), for g2p and offline demos: no file needed."""

    OFFSET = 3

    def __init__(self) -> None:
        self.name = "bytes"
        self.vocab_size = 256 + self.OFFSET
        self.eos_id = EOS_ID
        self.pad_id = PAD_ID
        self.unk_id = UNK_ID

    def encode(self, text: str) -> list[int]:
        return [b + self.OFFSET for b in text.encode("utf-8")]

    def encode_batch(self, texts: Sequence[str]) -> list[list[int]]:
        return [self.encode(t) for t in texts]

    def decode(self, ids: Iterable[int]) -> str:
        """Text of `ids` up to the first EOS; pad is dropped; unk and non-byte ids become ` ⁇ `."""
        out = bytearray()
        for i in _until_eos(ids):
            if i == PAD_ID:
                continue
            if self.OFFSET <= i < self.vocab_size:
                out.append(i - self.OFFSET)
            else:
                out.extend(UNK_TEXT.encode("utf-8"))
        return out.decode("utf-8", errors="replace")

    def __repr__(self) -> str:
        return "ByteVocabulary()"


def t5_vocabulary_path(data_dir: str | os.PathLike | None = None) -> Path:
    """Where the T5 SentencePiece model lives in the data directory."""
    return resolve_data_dir(data_dir) / T5_VOCAB_RELATIVE_PATH


def t5_vocabulary(data_dir: str | os.PathLike | None = None, *, path: str | os.PathLike | None = None):
    """The T5 vocabulary (32,000 pieces + 100 extra ids), from `path` or `DATA_DIR/vocab/t5_spiece.model`."""
    model_path = Path(path) if path is not None else t5_vocabulary_path(data_dir)
    if not model_path.is_file():
        raise SynptError(
            f"the T5 vocabulary {model_path} is missing. Get it with `synpt data download vocab"
            f"{'' if path is not None else f' --dest {resolve_data_dir(data_dir)}'}` (or point --data-dir / "
            "$SYNPT_DATA_DIR at a data directory that has vocab/t5_spiece.model)"
        )
    return _load_sentencepiece(str(model_path.resolve()), True)


def custom_vocabulary(path: str | os.PathLike) -> SentencePieceVocabulary:
    """A SentencePiece model trained by `synpt vocab train`: marked as NOT the T5 vocabulary."""
    return _load_sentencepiece(str(Path(path).resolve()), False)


@functools.lru_cache(maxsize=16)
def _load_sentencepiece(path: str, is_t5: bool) -> SentencePieceVocabulary:
    return SentencePieceVocabulary(path, is_t5=is_t5)


def train_sentencepiece(texts: Iterable[str], *, size: int, out: str | os.PathLike, seed: int = 0) -> Path:
    """Train a unigram SentencePiece model on `texts` with T5's special ids (pad 0, eos 1, unk 2).

    The result is NOT the T5 vocabulary: ids differ, so synthetic-task checkpoints (whose ids are T5 ids) do not
    line up with it. It exists so that downstream tasks can run where the T5 model cannot be downloaded.
    """
    import sentencepiece as spm

    out = Path(out)
    if out.suffix != ".model":
        raise SynptError(f"--out {out}: the SentencePiece model file must end in .model")
    out.parent.mkdir(parents=True, exist_ok=True)
    sentences = (t for t in texts if t.strip())
    spm.set_random_generator_seed(seed)
    try:
        spm.SentencePieceTrainer.train(
            sentence_iterator=sentences,
            model_prefix=str(out.with_suffix("")),
            vocab_size=size,
            model_type="unigram",
            pad_id=PAD_ID,
            eos_id=EOS_ID,
            unk_id=UNK_ID,
            bos_id=-1,
            character_coverage=1.0,
            num_threads=1,
            minloglevel=2,
            hard_vocab_limit=False,
        )
    except RuntimeError as err:
        raise SynptError(f"SentencePiece training failed: {err} (try a smaller --size)") from err
    return out
