"""`natural_text`: T5 span corruption over real English prose, byte-level; the natural pre-training reference.

Why bytes: the downstream transfer copies everything but the embedding (reference §6.1), so the pre-training
vocabulary need not match the fine-tuning one; a byte vocabulary (ids 3..258, as `ByteVocabulary`) keeps a tiny
model's softmax at 384 rows instead of 32,128, which is most of its CPU time. The span-corruption sentinels are
the top ids of those 384 rows, counting down from 383 (ByT5's layout; T5's sentinels count down from 32099).

Streams: "train" is endless; epoch e walks the training documents in the order `epoch_order((seed, 0x7E47), e)`,
their bytes (each document ending in a newline) are concatenated and cut into chunks (T5's concatenate-and-split),
and chunk c is noised with its own generator, so example i depends only on (corpus, options, seed, i) and a run
resumes at any position. Validation and test are one pass over their documents in order, noised with seed 0.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterator

import numpy as np

from synpt.errors import SynptError
from synpt.natural import corpus as corpora
from synpt.synthetic import span_corruption as sc
from synpt.tasks import Example, Shard, Task, register_task
from synpt.tasks.sharding import epoch_order
from synpt.vocab import ByteVocabulary

VOCAB_ROWS = 384  # 259 byte ids + 125 sentinel ids, a multiple of 128
FIRST_SENTINEL = VOCAB_ROWS - 1
_ORDER_KEY = 0x7E47  # seed-key tag: the document order is independent of anything else seeded with `seed`
_STREAMS = {"train": 0, "validation": 1, "test": 2}


class NaturalTextVocabulary(ByteVocabulary):
    """UTF-8 bytes (ids 3..258) plus the span-corruption sentinels at the top of 384 rows."""

    def __init__(self) -> None:
        super().__init__()
        self.name = "bytes+sentinels"
        self.vocab_size = VOCAB_ROWS


class NaturalTextTask(Task):
    """Span-corrupted English prose (see module docstring); options: corpus, inputs_length, span statistics."""

    name = "natural_text"
    family = "natural"
    default_options = {
        "corpus": corpora.PYTHON_DOCS,
        "inputs_length": 128,
        "noise_density": sc.NOISE_DENSITY,
        "mean_noise_span_length": sc.MEAN_NOISE_SPAN_LENGTH,
    }

    def _check_option(self, key, value):
        if key == "corpus" and value not in (corpora.PYTHON_DOCS, corpora.FILES):
            raise SynptError(
                f"natural_text: corpus must be {corpora.PYTHON_DOCS!r} (embedded) or {corpora.FILES!r} "
                f"(DATA_DIR/pretraining_data/natural_text/), got {value!r}"
            )
        if key == "inputs_length" and (not isinstance(value, int) or value < 8):
            raise SynptError(f"natural_text: inputs_length must be an integer >= 8, got {value!r}")
        if key == "noise_density" and not 0 < float(value) < 1:
            raise SynptError(f"natural_text: noise_density must be in (0, 1), got {value!r}")
        if key == "mean_noise_span_length" and not float(value) >= 1:
            raise SynptError(f"natural_text: mean_noise_span_length must be >= 1, got {value!r}")
        return super()._check_option(key, value)

    def _configure(self) -> None:
        self.lengths = sc.random_spans_lengths(
            self.options["inputs_length"],
            noise_density=float(self.options["noise_density"]),
            mean_noise_span_length=float(self.options["mean_noise_span_length"]),
        )
        if self.lengths.num_noise_spans > VOCAB_ROWS - ByteVocabulary().vocab_size:
            raise SynptError(
                f"natural_text: {self.lengths.num_noise_spans} noise spans per example need more sentinels than "
                f"the {VOCAB_ROWS - ByteVocabulary().vocab_size} ids above the bytes; use a shorter inputs_length"
            )

    @property
    def target_length(self) -> int:
        """Longest target (EOS included) of a full chunk: the feature length to train with."""
        return self.lengths.targets_length

    def vocabulary(self, data_dir: str | os.PathLike | None = None) -> NaturalTextVocabulary:
        return NaturalTextVocabulary()

    def corpus(self, data_dir: str | os.PathLike | None = None) -> corpora.Corpus:
        if self.options["corpus"] == corpora.FILES:
            return corpora.files_corpus(data_dir)
        return corpora.python_docs()

    def data_info(self, data_dir: str | os.PathLike | None = None) -> dict:
        """What a run records: the corpus (name, source, documents, bytes, digest, licence) and the options."""
        return {**self.corpus(data_dir).info, "options": dict(self.options)}

    def _documents(self, split: str, seed: int, data_dir) -> Iterator[np.ndarray]:
        vocabulary = self.vocabulary()
        # a newline ends each document, so that chunks spanning two documents read as two paragraphs
        encoded = [np.asarray(vocabulary.encode(doc + "\n"), np.int32) for doc in self.corpus(data_dir).splits[split]]
        if split != "train":
            yield from encoded
            return
        for epoch in itertools.count():
            for row in epoch_order((seed, _ORDER_KEY), epoch, len(encoded)):
                yield encoded[row]

    def _examples(self, split: str, seed: int, data_dir, shard: Shard) -> Iterator[Example]:
        yield from sc.span_corruption_examples(
            self._documents(split, seed, data_dir),
            inputs_length=self.options["inputs_length"],
            seed=seed if split == "train" else 0,
            start=shard.start,
            shard_index=shard.index,
            shard_count=shard.count,
            noise_density=float(self.options["noise_density"]),
            mean_noise_span_length=float(self.options["mean_noise_span_length"]),
            first_sentinel=FIRST_SENTINEL,
            stream=_STREAMS[split],
        )


register_task(NaturalTextTask(), aliases=("natural",))
