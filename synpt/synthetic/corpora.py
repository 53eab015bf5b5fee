"""The two "corpus" pre-training tasks of Table 1: `nonsense_summary` and `nesting_language` (reference §2.10-2.13).

Why a family of their own: unlike the 18 simple tasks (id lists on disk), nonsense summary is *text* tokenized at
load time, and the nesting language is a plain token stream turned into examples by T5 span corruption. Both
generate on the fly (`source="stream"`, the default) or read the reference layout (`source="files"`):

    DATA_DIR/pretraining_data/nonsense_summary/{train,valid}.txt   article<TAB>summary (text)
    DATA_DIR/pretraining_data/nesting_language/{train,valid}.txt   [id, id, ...]  (one sentence per line)

The paper's downloaded files load the same way as the ones `write_dataset` writes.

Determinism: stream example `i` of a split depends only on (task options, seed, i). Nonsense documents are
independent draws; the nesting train stream cuts blocks of `NESTING_CHUNKS_PER_BLOCK` raw chunks from
independently drawn sentence blocks, so the same holds; file streams cycle through the file in order.
"""

from __future__ import annotations

import functools
import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from synpt import __version__
from synpt.atomic import write_json_atomic
from synpt.errors import SynptError
from synpt.paths import resolve_data_dir
from synpt.synthetic import nesting, nonsense
from synpt.synthetic import span_corruption as sc
from synpt.synthetic.files import Chunk, SplitWriter, ordered_map, parse_id_list, text_digest, write_chunks
from synpt.synthetic.sampling import block_rng
from synpt.tasks import SPLIT_FILES, Example, Shard, Task, register_task
from synpt.vocab import EOS_ID

log = logging.getLogger(__name__)

SPLIT_STREAMS = {"train": 0, "validation": 1, "test": 2}
NESTING_CHUNKS_PER_BLOCK = 64
_WRITE_BATCH = 2048


class CorpusTask(Task):
    """Shared machinery: options, file locations, split handling, `write_dataset` (see module docstring).

    Subclasses declare `name`, `default_options` and `default_sizes`; `CorpusTask(**options)` configures one.
    """

    family = "corpus"
    writes_dataset = True
    generated_eval_size = 0  # examples in a generated validation/test split
    dedup = False  # whether write_dataset drops lines whose input repeats an earlier one
    dedup_note = ""  # how the manifest describes the dedup

    # -- files -----------------------------------------------------------------------------------------------------
    def folder(self, data_dir: str | os.PathLike | None) -> Path:
        return resolve_data_dir(data_dir) / "pretraining_data" / self.name

    def split_file(self, split: str, data_dir) -> Path:
        return self.folder(data_dir) / SPLIT_FILES[split]

    def _use_file(self, split: str, data_dir) -> Path | None:
        """The file to read for `split`, or None to generate.

        With source='stream', evaluation splits still read their file when present (the contract), unless its
        manifest says it was generated with other options (e.g. a uniform-frequency nesting file for a Zipf task).
        """
        path = self.split_file(split, data_dir)
        if self.options["source"] == "files":
            if not path.is_file():
                raise SynptError(
                    f"{path} does not exist (task {self.name!r}, source='files'). Write it with "
                    f"`synpt generate --task {self.name}`, download the paper's data, or use source='stream'"
                )
            return path
        if split == "train" or not path.is_file():
            return None
        written_with = self._manifest_options(path.parent)
        if written_with is not None and written_with != self.generation_options():
            log.warning(
                "%s was generated with options %s, this task has %s: generating the %s split instead",
                path, written_with, self.generation_options(), split,
            )  # fmt: skip
            return None
        return path

    @staticmethod
    def _manifest_options(folder: Path) -> dict | None:
        """The generation options recorded by `write_dataset` (None for downloaded data without a manifest)."""
        try:
            return json.loads((folder / "manifest.json").read_text())["options"]
        except (OSError, ValueError, KeyError, TypeError):
            return None

    def _read_lines(self, path: Path) -> Iterator[tuple[int, str]]:
        with open(path, encoding="utf-8") as f:
            for number, line in enumerate(f, 1):
                line = line.rstrip("\n")
                if line:
                    yield number, line

    def _cycle_lines(self, path: Path, endless: bool) -> Iterator[tuple[int, str]]:
        """File lines in order; for training, epoch after epoch (the file order is the data order)."""
        while True:
            empty = True
            for item in self._read_lines(path):
                empty = False
                yield item
            if not endless:
                return
            if empty:
                raise SynptError(f"{path} has no examples; regenerate it with `synpt generate --task {self.name}`")

    # -- writing ---------------------------------------------------------------------------------------------------
    def generation_options(self) -> dict:
        """The options that change the generated data (recorded in the manifest)."""
        return {k: v for k, v in self.options.items() if k not in ("source", "vocab")}

    def _write_dataset(self, root: Path, sizes: tuple, seed: int, workers: int, progress: bool) -> dict:
        """Write `train.txt` / `valid.txt` in the reference layout under `root` and return the manifest.

        train = the first `num_train` lines of the train stream, valid = the first `num_valid` of the validation
        stream (a disjoint seed stream, so the validation file equals the generated validation split). Files are
        written atomically; `manifest.json` records what was generated. The output does not depend on `workers`.
        `num_examples` exists for the simple tasks' single-stream split and must be None or num_train + num_valid.
        """
        num_train, num_valid, num_examples = sizes
        if num_examples is not None and num_examples != num_train + num_valid:
            raise SynptError(
                f"--num-examples does not apply to {self.name!r}: its train and valid files come from separate "
                "streams; leave it out"
            )
        folder = root / "pretraining_data" / self.name
        counts = {}
        for split, count in (("train", num_train), ("validation", num_valid)):
            writer = SplitWriter(folder / SPLIT_FILES[split], None, num_train=None, dedup=self.dedup)
            make = functools.partial(_format_batch, type(self), self.options, split, seed, count, _WRITE_BATCH)
            chunks = ordered_map(make, -(-count // _WRITE_BATCH), workers, processes=True)
            written = write_chunks(writer, chunks, total=count, desc=f"{self.name} {split}", progress=progress)
            counts[SPLIT_FILES[split]] = {
                "lines": written["train"],
                "duplicates_dropped": written["duplicates_removed"],
            }
        manifest = {
            "task": self.name,
            "family": self.family,
            "seed": seed,
            "options": self.generation_options(),
            "num_train": num_train,
            "num_valid": num_valid,
            "counts": counts,
            "dedup": self.dedup_note,
            "synpt_version": __version__,
        }
        write_json_atomic(folder / "manifest.json", manifest)
        return manifest

    def lines(self, split: str, seed: int, begin: int, end: int) -> list[str]:
        raise NotImplementedError


def _format_batch(cls, options: dict, split: str, seed: int, count: int, batch_size: int, batch: int) -> Chunk:
    """Lines `batch * batch_size` .. (at most `count`) of a split's stream as a chunk; run in a worker process.

    The dedup key of a line is the digest of its text before the first tab (the article of a nonsense document).
    """
    task = cls(**options)
    begin = batch * batch_size
    lines = [line.encode() for line in task.lines(split, seed, begin, min(begin + batch_size, count))]
    digests = [text_digest(line) for line in lines] if task.dedup else [0] * len(lines)
    return Chunk(
        b"".join(line + b"\n" for line in lines),
        np.array([len(line) + 1 for line in lines], dtype=np.int64),
        np.array(digests, dtype=np.uint64),
    )


# -- nonsense summary ----------------------------------------------------------------------------------------------


class NonsenseSummaryTask(CorpusTask):
    """Nonsense documents -> concatenated keyword summaries, tokenized with the chosen vocabulary (§2.10)."""

    name = "nonsense_summary"
    default_options = {"source": "stream", "vocab": "t5"}
    default_sizes = {"num_train": 100_000, "num_valid": 5_000}
    generated_eval_size = 5_000
    dedup = True
    dedup_note = "by article (first occurrence wins)"
    VOCABS = ("t5", "bytes")

    def _configure(self) -> None:
        vocab = str(self.options["vocab"])
        if vocab not in self.VOCABS and not vocab.endswith(".model"):
            raise SynptError(
                f"task option vocab={vocab!r}: use 't5' (DATA_DIR/vocab/t5_spiece.model), 'bytes' (no file needed) "
                "or the path of a SentencePiece .model file"
            )

    def vocabulary(self, data_dir=None):
        from synpt import vocab as vocabularies

        choice = str(self.options["vocab"])
        if choice == "t5":
            return vocabularies.t5_vocabulary(data_dir)
        if choice == "bytes":
            return vocabularies.ByteVocabulary()
        return vocabularies.custom_vocabulary(choice)

    def lines(self, split: str, seed: int, begin: int, end: int) -> list[str]:
        stream = SPLIT_STREAMS[split]
        return [
            f"{article}\t{summary}"
            for article, summary in (
                nonsense.make_example(nonsense.example_rng(seed, stream, i)) for i in range(begin, end)
            )
        ]

    def _texts(self, split: str, seed: int, data_dir, shard: Shard) -> Iterator[tuple[str, str]]:
        path = self._use_file(split, data_dir)
        if path is not None:
            for _, line in shard.select(self._cycle_lines(path, endless=split == "train")):
                fields = line.split("\t")
                if len(fields) == 2:  # seqio drops lines without exactly two fields
                    yield fields[0], fields[1]
            return
        stream = SPLIT_STREAMS[split]
        stop = None if split == "train" else self.generated_eval_size
        for index in shard.indices(stop):
            yield nonsense.make_example(nonsense.example_rng(seed, stream, index))

    def _examples(self, split: str, seed: int, data_dir, shard: Shard) -> Iterator[Example]:
        """Tokenized (article, summary) pairs with EOS appended to both; see the Task contract."""
        vocab = self.vocabulary(data_dir)
        texts = self._texts(split, seed, data_dir, shard)
        batch: list[tuple[str, str]] = []
        for pair in texts:
            batch.append(pair)
            if len(batch) == 64:
                yield from _tokenize(vocab, batch)
                batch = []
        yield from _tokenize(vocab, batch)


def _tokenize(vocab, pairs: list[tuple[str, str]]) -> Iterator[Example]:
    if not pairs:
        return
    encoded = vocab.encode_batch([text for pair in pairs for text in pair])
    for k in range(len(pairs)):
        yield {
            "inputs": np.array([*encoded[2 * k], EOS_ID], dtype=np.int32),
            "targets": np.array([*encoded[2 * k + 1], EOS_ID], dtype=np.int32),
        }


# -- nesting language ----------------------------------------------------------------------------------------------


class NestingLanguageTask(CorpusTask):
    """Nesting-dependency sentences turned into T5 span-corruption examples (§2.11, §2.13)."""

    name = "nesting_language"
    default_options = {
        "source": "stream",
        "vocab_size": nesting.DEFAULT_VOCAB_SIZE,
        "frequency": "zipf",
        "inputs_length": 512,
    }
    default_sizes = {"num_train": 1_000_000, "num_valid": 10_000}
    generated_eval_size = 10_000  # sentences in a generated validation/test split (about 420 examples)
    dedup_note = "none: repeated short sentences are part of the language's distribution"

    def _configure(self) -> None:
        self.language = nesting.NestingLanguage(
            vocab_size=int(self.options["vocab_size"]), frequency=self.options["frequency"]
        )
        self.lengths = sc.random_spans_lengths(int(self.options["inputs_length"]))
        lowest_sentinel = sc.FIRST_SENTINEL - self.lengths.num_noise_spans + 1
        if self.language.max_id >= lowest_sentinel:
            raise SynptError(
                f"nesting_language: vocab_size={self.options['vocab_size']} uses ids up to {self.language.max_id}, "
                f"which collide with the span-corruption sentinels ({lowest_sentinel}..{sc.FIRST_SENTINEL}); "
                "choose a smaller vocab_size or inputs_length"
            )

    def generation_options(self) -> dict:
        """Options that change the sentences (inputs_length only changes how they are cut into examples)."""
        return {k: v for k, v in super().generation_options().items() if k != "inputs_length"}

    def lines(self, split: str, seed: int, begin: int, end: int) -> list[str]:
        return [str(s) for s in self._sentences(split, seed, begin, end)]

    def _sentences(self, split: str, seed: int, begin: int, end: int | None) -> Iterator[list[int]]:
        """Sentences `begin..end-1` of a split's stream, drawn in blocks of 1,024 (endless when `end` is None)."""
        block_size = 1024
        block = begin // block_size
        while True:
            rows = self.language.sentences(block_rng(seed, self.name, block, split), block_size).tolists()
            for offset, row in enumerate(rows):
                index = block * block_size + offset
                if index >= begin:
                    if end is not None and index >= end:
                        return
                    yield row
            block += 1

    def _file_sentences(self, path: Path, endless: bool) -> Iterator[np.ndarray]:
        for number, line in self._cycle_lines(path, endless):
            yield _parse_id_list(line, path, number)

    def _train_chunks(self, seed: int, first_block: int) -> Iterator[np.ndarray]:
        """Raw chunks [NESTING_CHUNKS_PER_BLOCK, raw_length] of the generated train stream, block after block.

        Block b draws sentences until it has `NESTING_CHUNKS_PER_BLOCK` full raw chunks, concatenates them and cuts
        the chunks (the tail is dropped), like T5's concatenate-and-split over a sentence stream.
        """
        raw = self.lengths.raw_length
        needed = NESTING_CHUNKS_PER_BLOCK * raw
        mean_tokens = float((nesting.SENTENCE_LENGTHS * nesting.SENTENCE_LENGTH_PROBS).sum())
        block = first_block
        while True:
            rng = block_rng(seed, self.name, block, "train-chunks")
            parts, total = [], 0
            while total < needed:
                sentences = self.language.sentences(rng, int(1.1 * (needed - total) / mean_tokens) + 16)
                parts.append(sentences.values)
                total += len(sentences.values)
            yield np.concatenate(parts)[:needed].reshape(NESTING_CHUNKS_PER_BLOCK, raw)
            block += 1

    def _examples(self, split: str, seed: int, data_dir, shard: Shard) -> Iterator[Example]:
        """Span-corrupted examples (inputs <= inputs_length, targets <= 114 for 512, EOS appended)."""
        stream = SPLIT_STREAMS[split]
        path = self._use_file(split, data_dir)
        if path is None and split == "train":
            first_block = shard.start // NESTING_CHUNKS_PER_BLOCK
            examples = (
                example
                for block, chunks in enumerate(self._train_chunks(seed, first_block), first_block)
                for example in sc.corrupt_chunks(
                    chunks,
                    block_rng(seed, self.name, block, "train-noise"),
                    inputs_length=self.lengths.inputs_length,
                    targets_length=self.lengths.targets_length,
                )
            )
            yield from shard.select(examples, first_index=first_block * NESTING_CHUNKS_PER_BLOCK)
            return
        if path is None:
            sentences = (
                np.asarray(s, dtype=np.int32) for s in self._sentences(split, seed, 0, self.generated_eval_size)
            )
        else:
            sentences = self._file_sentences(path, endless=split == "train")
        yield from sc.span_corruption_examples(
            sentences,
            start=shard.start,
            shard_index=shard.index,
            shard_count=shard.count,
            seed=seed,
            stream=stream,
            inputs_length=self.lengths.inputs_length,
        )


def _parse_id_list(line: str, path: Path, number: int) -> np.ndarray:
    """`[id, id, ...]` -> int32 array; a malformed line names the file and line."""
    try:
        return np.array(parse_id_list(line.strip()), dtype=np.int32)
    except ValueError as err:
        raise SynptError(f"{path}:{number}: expected one list of ids like [12, 7, 3] per line ({err})") from err


register_task(NonsenseSummaryTask())
register_task(NestingLanguageTask())
