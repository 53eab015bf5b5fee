"""Real English prose for natural pre-training, offline: the Python documentation that CPython itself ships.

Why this corpus: the paper's 100 % row is T5 pre-trained on natural text (C4). A fresh machine offline has no C4,
but every CPython install carries ~1.6 MB of English prose written by people: the reference manual's topics that
`pydoc` shows (`pydoc_data.topics`) and the docstrings of the standard library. No generated text is used.

Paragraphs are the documents: blank-line separated blocks, whitespace reflowed, kept when they read as prose (long
enough, mostly letters, no interactive `>>>` sessions), so that code listings do not dominate. The split is fixed
by position: of every 50 paragraphs in source order, one goes to validation and one to test.

A user's own corpus replaces it: `DATA_DIR/pretraining_data/natural_text/{train,valid,test}.txt`, one document
per line (e.g. Wikipedia paragraphs).
"""

from __future__ import annotations

import ast
import functools
import hashlib
import os
import platform
import sysconfig
from dataclasses import dataclass
from pathlib import Path

from synpt.errors import SynptError
from synpt.paths import resolve_data_dir
from synpt.tasks import SPLIT_FILES

PYTHON_DOCS = "python_docs"
FILES = "files"
LICENCE = "PSF-2.0 (Python Software Foundation License; the CPython documentation and standard library)"
MIN_CHARS = 120
MIN_LETTER_SHARE = 0.75
SPLIT_EVERY = 50  # paragraph k (source order) -> validation when k % 50 == 0, test when k % 50 == 25
# Standard-library folders whose docstrings are test data or bundled third-party code, not documentation.
_SKIPPED_FOLDERS = {"site-packages", "dist-packages", "test", "tests", "idlelib", "lib2to3", "tkinter", "ensurepip"}


@dataclass(frozen=True)
class Corpus:
    """The documents of each split, and what a run records about where they came from."""

    splits: dict[str, tuple[str, ...]]
    info: dict


def paragraphs(text: str) -> list[str]:
    """The prose paragraphs of `text`: blank-line separated blocks, reflowed to one line, filtered (see module)."""
    kept = []
    for block in text.split("\n\n"):
        paragraph = " ".join(block.split())
        if len(paragraph) < MIN_CHARS or ">>>" in paragraph:
            continue
        letters = sum(c.isalpha() or c == " " for c in paragraph)
        if letters >= MIN_LETTER_SHARE * len(paragraph):
            kept.append(paragraph)
    return kept


def _stdlib_docstrings(root: Path) -> list[str]:
    """Module, class and function docstrings of the standard library under `root`, in sorted file order."""
    texts = []
    for path in sorted(root.rglob("*.py")):
        if _SKIPPED_FOLDERS & set(path.relative_to(root).parts[:-1]):
            continue
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError, ValueError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
                docstring = ast.get_docstring(node)
                if docstring:
                    texts.append(docstring)
    return texts


def _split_by_position(documents: list[str]) -> dict[str, tuple[str, ...]]:
    splits: dict[str, list[str]] = {"train": [], "validation": [], "test": []}
    for index, document in enumerate(documents):
        split = {0: "validation", SPLIT_EVERY // 2: "test"}.get(index % SPLIT_EVERY, "train")
        splits[split].append(document)
    return {name: tuple(docs) for name, docs in splits.items()}


@functools.lru_cache(maxsize=1)
def python_docs() -> Corpus:
    """The embedded default: prose paragraphs of `pydoc_data.topics` and the standard library's docstrings."""
    try:
        from pydoc_data.topics import topics
    except ImportError as err:
        raise SynptError(
            "natural_text: this Python has no pydoc_data (some distributions split it off); install the full "
            "standard library or give your own corpus in DATA_DIR/pretraining_data/natural_text/ (corpus='files')"
        ) from err
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    texts = [topics[key] for key in sorted(topics)] + _stdlib_docstrings(stdlib)
    documents = list(dict.fromkeys(p for text in texts for p in paragraphs(text)))  # first occurrence wins
    return Corpus(
        _split_by_position(documents),
        _info(
            PYTHON_DOCS,
            documents,
            LICENCE,
            f"CPython {platform.python_version()}: pydoc_data.topics + standard-library docstrings ({stdlib})",
        ),
    )


def files_corpus(data_dir: str | os.PathLike | None) -> Corpus:
    """A user's corpus: one document per line in DATA_DIR/pretraining_data/natural_text/{train,valid,test}.txt."""
    folder = resolve_data_dir(data_dir) / "pretraining_data" / "natural_text"
    splits = {}
    for split, name in SPLIT_FILES.items():
        path = folder / name
        if not path.is_file():
            if split == "test":
                continue
            raise SynptError(
                f"natural_text (corpus='files'): {path} is missing; put one document per line in "
                f"{folder}/{{train,valid}}.txt, or use the embedded corpus='{PYTHON_DOCS}'"
            )
        splits[split] = tuple(line.strip() for line in path.read_text(encoding="utf-8").splitlines() if line.strip())
        if not splits[split]:
            raise SynptError(f"natural_text: {path} has no documents (one per line)")
    splits.setdefault("test", splits["validation"])
    documents = [doc for split in ("train", "validation", "test") for doc in splits[split]]
    licence = (folder / "LICENSE").read_text(encoding="utf-8").strip() if (folder / "LICENSE").is_file() else "unknown"
    return Corpus(splits, _info(FILES, documents, licence, str(folder)))


def _info(corpus: str, documents: list[str], licence: str, source: str) -> dict:
    text = "\n".join(documents).encode("utf-8")
    return {
        "corpus": corpus,
        "source": source,
        "documents": len(documents),
        "bytes": len(text),
        "sha256": hashlib.sha256(text).hexdigest()[:16],
        "licence": licence,
    }
