"""The paper's decoded metrics (reference §5.4) and a few extras, each a function of (predictions, references).

Why exact re-implementations: fine-tuning results are compared against the paper's columns, so every detail that
moves a number is kept: ROUGE without stemming and with `" . "` turned into sentence breaks; semantic-parsing EM/F1
with no normalisation at all (F1 is 0 when nothing overlaps, even for two empty strings); SQuAD EM/F1 with the
official normalisation and the max over all answers. The one deliberate change is quirk 16: ROUGE reports the plain
mean F-measure (a seeded bootstrap median is available).

`compute(scorers, predictions, references)` runs the named scorers and returns `{metric: value}`, all × 100 (BLEU
is on sacrebleu's 0–100 scale already).
"""

from __future__ import annotations

import collections
import re
import string
from collections.abc import Callable, Sequence

import numpy as np

from synpt.errors import SynptError

Reference = str | Sequence[str]


def _check_lengths(predictions: Sequence[str], references: Sequence) -> None:
    if len(predictions) != len(references):
        raise SynptError(f"{len(predictions)} predictions but {len(references)} references; they must pair up 1:1")
    if not predictions:
        raise SynptError("no predictions to score")


# ----------------------------------------------------------------------------------------------------------- F1 / EM


def token_f1(prediction_tokens: Sequence[str], reference_tokens: Sequence[str]) -> float:
    """Multiset-overlap F1 in [0, 1]; 0 when the overlap is empty (including two empty token lists)."""
    overlap = sum((collections.Counter(prediction_tokens) & collections.Counter(reference_tokens)).values())
    if overlap == 0:
        return 0.0
    precision = overlap / len(prediction_tokens)
    recall = overlap / len(reference_tokens)
    return 2 * precision * recall / (precision + recall)


def exact_match_f1(predictions: Sequence[str], references: Sequence[str]) -> dict[str, float]:
    """Semantic-parsing `em` and `f1` (code translation, MTOP, WebQSP, USPTO-50K): raw strings, whitespace tokens."""
    _check_lengths(predictions, references)
    em = [float(p == r) for p, r in zip(predictions, references, strict=True)]
    f1 = [token_f1(p.split(), r.split()) for p, r in zip(predictions, references, strict=True)]
    return {"em": 100.0 * float(np.mean(em)), "f1": 100.0 * float(np.mean(f1))}


_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCTUATION = set(string.punctuation)


def normalize_squad_answer(text: str) -> str:
    """The official SQuAD v1.1 normalisation: lowercase, drop punctuation, drop articles, collapse whitespace."""
    text = text.lower()
    text = "".join(ch for ch in text if ch not in _PUNCTUATION)
    text = _ARTICLES.sub(" ", text)
    return " ".join(text.split())


def squad_em_f1(predictions: Sequence[str], references: Sequence[Sequence[str]]) -> dict[str, float]:
    """SQuAD `em` and `f1` (the names T5 logs): normalised strings, max over the answers, mean, × 100."""
    _check_lengths(predictions, references)
    em, f1 = [], []
    for prediction, answers in zip(predictions, references, strict=True):
        if isinstance(answers, str) or not answers:
            raise SynptError(f"SQuAD references must be non-empty lists of answers, got {answers!r}")
        p = normalize_squad_answer(prediction)
        em.append(max(float(p == normalize_squad_answer(a)) for a in answers))
        f1.append(max(token_f1(p.split(), normalize_squad_answer(a).split()) for a in answers))
    return {"em": 100.0 * float(np.mean(em)), "f1": 100.0 * float(np.mean(f1))}


# ------------------------------------------------------------------------------------------------------------- ROUGE

ROUGE_KEYS = ("rouge1", "rouge2", "rougeLsum")


def _sentence_breaks(text: str) -> str:
    return text.replace(" . ", " .\n")


def rouge(
    predictions: Sequence[str], references: Sequence[str], *, bootstrap_seed: int | None = None, resamples: int = 1000
) -> dict[str, float]:
    """ROUGE-1/2/Lsum F-measure × 100 (no stemming, `" . "` -> `" .\\n"`), plain mean over examples.

    With `bootstrap_seed`, the median of `resamples` seeded bootstrap means instead (the paper's "mid", made
    reproducible; reference quirk 16).
    """
    from rouge_score import rouge_scorer

    _check_lengths(predictions, references)
    scorer = rouge_scorer.RougeScorer(list(ROUGE_KEYS), use_stemmer=False)
    scores = np.zeros((len(predictions), len(ROUGE_KEYS)))
    for row, (prediction, reference) in enumerate(zip(predictions, references, strict=True)):
        result = scorer.score(_sentence_breaks(reference), _sentence_breaks(prediction))
        scores[row] = [result[key].fmeasure for key in ROUGE_KEYS]
    if bootstrap_seed is None:
        values = scores.mean(axis=0)
    else:
        rng = np.random.default_rng(bootstrap_seed)
        picks = rng.integers(0, len(scores), size=(resamples, len(scores)))
        values = np.median(scores[picks].mean(axis=1), axis=0)
    return {key: 100.0 * float(v) for key, v in zip(ROUGE_KEYS, values, strict=True)}


# ------------------------------------------------------------------------------------------------------------ extras


def bleu(predictions: Sequence[str], references: Sequence[str]) -> dict[str, float]:
    """Corpus BLEU (sacrebleu defaults, 13a tokenisation), as CodeXGLUE reports for code translation."""
    import sacrebleu

    _check_lengths(predictions, references)
    return {"bleu": float(sacrebleu.corpus_bleu(list(predictions), [list(references)]).score)}


def rdkit_available() -> bool:
    try:
        from rdkit import Chem  # noqa: F401
    except ImportError:
        return False
    return True


def canonical_smiles(smiles: str) -> str | None:
    """RDKit's canonical SMILES of `smiles` (None when it does not parse)."""
    from rdkit import Chem, RDLogger

    RDLogger.DisableLog("rdApp.*")
    molecule = Chem.MolFromSmiles(smiles.replace(" ", ""))
    return None if molecule is None else Chem.MolToSmiles(molecule)


def smiles_exact_match(predictions: Sequence[str], references: Sequence[str]) -> dict[str, float]:
    """Top-1 accuracy on canonical SMILES (unparsable predictions are wrong); {} when RDKit is not installed.

    The paper's number is the plain `em`; this is the chemically meaningful variant, reported alongside it.
    """
    if not rdkit_available():
        return {}
    _check_lengths(predictions, references)
    hits = []
    for p, r in zip(predictions, references, strict=True):
        cp = canonical_smiles(p)
        hits.append(float(cp is not None and cp == canonical_smiles(r)))
    return {"smiles_em": 100.0 * float(np.mean(hits))}


def edit_distance(a: Sequence[str], b: Sequence[str]) -> int:
    """Levenshtein distance between two token sequences (unit costs)."""
    previous = list(range(len(b) + 1))
    for i, x in enumerate(a, 1):
        current = [i]
        for j, y in enumerate(b, 1):
            current.append(min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + (x != y)))
        previous = current
    return previous[-1]


def phoneme_error_rate(predictions: Sequence[str], references: Sequence[str]) -> dict[str, float]:
    """Phoneme error rate × 100: total edit distance over total reference phonemes (space-separated tokens)."""
    _check_lengths(predictions, references)
    errors = sum(edit_distance(p.split(), r.split()) for p, r in zip(predictions, references, strict=True))
    total = sum(len(r.split()) for r in references)
    if total == 0:
        raise SynptError("phoneme error rate needs at least one reference phoneme")
    return {"per": 100.0 * errors / total}


# -------------------------------------------------------------------------------------------------------- dispatcher

MetricFn = Callable[[Sequence[str], Sequence], dict[str, float]]

# scorer name -> function; a task lists its scorers, each returns one or more named metrics.
SCORERS: dict[str, MetricFn] = {
    "em_f1": exact_match_f1,
    "squad": squad_em_f1,
    "rouge": rouge,
    "bleu": bleu,
    "smiles": smiles_exact_match,
    "per": phoneme_error_rate,
}


def compute(scorers: Sequence[str], predictions: Sequence[str], references: Sequence) -> dict[str, float]:
    """All metrics of the named `scorers`, merged into one dict."""
    unknown = [n for n in scorers if n not in SCORERS]
    if unknown:
        raise SynptError(f"unknown scorer(s) {', '.join(unknown)}; valid: {', '.join(SCORERS)}")
    results: dict[str, float] = {}
    for name in scorers:
        results.update(SCORERS[name](predictions, references))
    return results
