"""The paper's metrics (reference §5.4) against hand-checked values and independent re-computations."""

from __future__ import annotations

import collections
import re

import pytest

from synpt.downstream import metrics
from synpt.errors import SynptError

# ------------------------------------------------------------------------------------------ semantic-parsing EM / F1

# (prediction, reference, em, f1) worked out by hand: F1 = 2PR/(P+R) over the whitespace-token multiset overlap.
SEMANTIC_CASES = [
    ("a b c", "a b c", 1, 1.0),
    ("a b c", "a b d", 0, 2 / 3),  # overlap 2, P = R = 2/3
    ("a b", "a b c d", 0, 2 * (1.0 * 0.5) / 1.5),  # P 1, R 1/2 -> 2/3
    ("", "", 1, 0.0),  # equal strings, but F1 is 0 when nothing overlaps, even for two empty strings
    ("", "a", 0, 0.0),
    ("a", "", 0, 0.0),
    ("A b", "a b", 0, 2 * 0.5 * 0.5 / 1.0),  # no lowercasing: overlap 1 of 2 -> 0.5
    ("a b.", "a b", 0, 0.5),  # no punctuation stripping: "b." != "b"
    ("the cat", "cat", 0, 2 * 0.5 * 1 / 1.5),  # no article removal: P 1/2, R 1 -> 2/3
    ("a a a", "a", 0, 2 * (1 / 3) * 1 / (4 / 3)),  # duplicates: overlap min(3, 1) = 1 -> 0.5
    ("a a", "a a b", 0, 2 * 1 * (2 / 3) / (5 / 3)),  # overlap 2: P 1, R 2/3 -> 0.8
    ("a  b", "a b", 0, 1.0),  # whitespace differs: EM fails, tokens agree
    (" a b", "a b", 0, 1.0),
    ("b a", "a b", 0, 1.0),  # order ignored by F1
    ("x y z", "a b c", 0, 0.0),
    ("[IN:GET_WEATHER [SL:LOCATION nyc ] ]", "[IN:GET_WEATHER [SL:LOCATION nyc ] ]", 1, 1.0),
    ("[IN:GET_WEATHER ]", "[IN:GET_WEATHER [SL:DATE today ] ]", 0, 2 * 1 * 0.4 / 1.4),  # overlap 2 of 2 / 5
    ("CC(=O)O", "CC(=O)O", 1, 1.0),
    ("OCC", "CCO", 0, 0.0),  # no SMILES canonicalisation in the paper's EM
    ("a\tb", "a b", 0, 1.0),  # tab is whitespace for split()
    ("café", "cafe", 0, 0.0),
]


@pytest.mark.parametrize(("prediction", "reference", "em", "f1"), SEMANTIC_CASES)
def test_semantic_parsing_em_f1_single(prediction, reference, em, f1):
    result = metrics.exact_match_f1([prediction], [reference])
    assert result["em"] == pytest.approx(100 * em)
    assert result["f1"] == pytest.approx(100 * f1)


def test_semantic_parsing_mean_over_all_cases():
    predictions, references, ems, f1s = zip(*SEMANTIC_CASES, strict=True)
    result = metrics.exact_match_f1(list(predictions), list(references))
    assert result["em"] == pytest.approx(100 * sum(ems) / len(ems))
    assert result["f1"] == pytest.approx(100 * sum(f1s) / len(f1s))


# ----------------------------------------------------------------------------------------------------------- SQuAD

# (prediction, answers, em, f1) by hand after lowercasing, removing punctuation and a/an/the, collapsing spaces.
SQUAD_CASES = [
    ("Denver Broncos", ["Denver Broncos", "Denver Broncos"], 1, 1.0),
    ("the Denver Broncos", ["Denver Broncos"], 1, 1.0),  # article removed
    ("denver broncos.", ["Denver Broncos"], 1, 1.0),  # case and punctuation
    ("Broncos", ["Denver Broncos"], 0, 2 * 1 * 0.5 / 1.5),
    ("Broncos", ["Denver Broncos", "Broncos"], 1, 1.0),  # max over answers
    ("Santa Clara , California", ["Santa Clara, California"], 1, 1.0),
    ("U . S .", ["U.S."], 0, 0.0),  # "u s" vs "us"
    ("an apple", ["apple"], 1, 1.0),
    ("theory", ["the theory"], 1, 1.0),  # whole-word articles only
    ("a", ["the"], 1, 0.0),  # both normalise to "": EM 1, F1 0
    ("", ["1996"], 0, 0.0),  # empty prediction
    ("in 1996", ["1996", "in 1996 ."], 1, 1.0),
    ("1996 and 1997", ["1996"], 0, 2 * (1 / 3) * 1 / (4 / 3)),  # P 1/3, R 1 -> 0.5
    ("red red", ["red"], 0, 2 * 0.5 * 1 / 1.5),  # duplicate tokens count once in the overlap
    ("New-York", ["New York"], 0, 0.0),  # the hyphen is deleted, not turned into a space: "newyork"
    ("$5 million", ["5 million"], 1, 1.0),
    ("Beyoncé", ["beyoncé"], 1, 1.0),  # lowercase works beyond ASCII
    ("«Nocturne»", ["Nocturne"], 0, 0.0),  # only ASCII punctuation is removed
    ("the the the", ["the"], 1, 0.0),
    ("Nikola Tesla", ["Tesla", "Nikola Tesla", "N. Tesla"], 1, 1.0),
    ("Tesla Nikola", ["Nikola Tesla"], 0, 1.0),
]


@pytest.mark.parametrize(("prediction", "answers", "em", "f1"), SQUAD_CASES)
def test_squad_em_f1_single(prediction, answers, em, f1):
    result = metrics.squad_em_f1([prediction], [answers])
    assert result["em"] == pytest.approx(100 * em)
    assert result["f1"] == pytest.approx(100 * f1)


def test_squad_normalisation_hand_checked():
    assert metrics.normalize_squad_answer("The  Quick, brown fox!") == "quick brown fox"
    assert metrics.normalize_squad_answer("An apple a day") == "apple day"
    assert metrics.normalize_squad_answer("  ") == ""


def test_squad_rejects_plain_string_references():
    with pytest.raises(SynptError, match="lists of answers"):
        metrics.squad_em_f1(["x"], ["x"])


# ----------------------------------------------------------------------------------------------------------- ROUGE


def _tokens(text: str) -> list[str]:
    """rouge_score's default tokenizer, re-written: lowercase, non-alphanumerics to spaces."""
    return re.sub(r"[^a-z0-9]+", " ", text.lower()).split()


def _f(overlap: int, n_pred: int, n_ref: int) -> float:
    if overlap == 0:
        return 0.0
    p, r = overlap / n_pred, overlap / n_ref
    return 2 * p * r / (p + r)


def _ngram_f(prediction: str, reference: str, n: int) -> float:
    grams = [
        collections.Counter(zip(*[t[i:] for i in range(n)], strict=False))
        for t in map(_tokens, (prediction, reference))
    ]
    return _f(sum((grams[0] & grams[1]).values()), sum(grams[0].values()), sum(grams[1].values()))


def _lcs(a: list[str], b: list[str]) -> int:
    table = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i, x in enumerate(a):
        for j, y in enumerate(b):
            table[i + 1][j + 1] = table[i][j] + 1 if x == y else max(table[i][j + 1], table[i + 1][j])
    return table[-1][-1]


ROUGE_CASES = [
    ("the cat sat on the mat", "the cat sat on the mat"),
    ("the cat sat", "the cat sat on the mat"),
    ("The Cat, sat!", "the cat sat"),
    ("a b c d", "d c b a"),
    ("police arrested two men", "two men were arrested by police"),
    ("x y z", "a b c"),
    ("one two three four five", "one three five"),
    ("it rained it rained", "it rained"),
    ("numbers 2022 and 10k", "numbers 2022 10k"),
    ("", "a reference"),
]


@pytest.mark.parametrize(("prediction", "reference"), ROUGE_CASES)
def test_rouge_single_sentence_matches_independent_computation(prediction, reference):
    result = metrics.rouge([prediction], [reference])
    assert result["rouge1"] == pytest.approx(100 * _ngram_f(prediction, reference, 1))
    assert result["rouge2"] == pytest.approx(100 * _ngram_f(prediction, reference, 2))
    lcs = _lcs(_tokens(prediction), _tokens(reference))
    assert result["rougeLsum"] == pytest.approx(100 * _f(lcs, len(_tokens(prediction)), len(_tokens(reference))))


def test_rouge_hand_values():
    # 3 of 3 predicted unigrams in a 6-token reference: P 1, R 1/2 -> F 2/3; bigrams 2 of 2 vs 5 -> 4/7.
    result = metrics.rouge(["the cat sat"], ["the cat sat on the mat"])
    assert result["rouge1"] == pytest.approx(100 * 2 / 3)
    assert result["rouge2"] == pytest.approx(100 * 4 / 7)


def test_rouge_lsum_sees_sentence_breaks_from_space_dot_space():
    # Without breaks the LCS of "a b . c d" and "c d . a b" is 2 of 4 tokens (F 0.5); with " . " -> " .\n" each
    # reference sentence is matched in full by the union LCS, so rougeLsum is 100 while rouge1 is 100 as well.
    result = metrics.rouge(["a b . c d"], ["c d . a b"])
    assert result["rougeLsum"] == pytest.approx(100.0)
    no_break = metrics.rouge(["a b, c d"], ["c d, a b"])
    assert no_break["rougeLsum"] == pytest.approx(50.0)


def test_rouge_is_plain_mean_and_seeded_bootstrap_is_reproducible():
    predictions = [p for p, _ in ROUGE_CASES]
    references = [r for _, r in ROUGE_CASES]
    mean = metrics.rouge(predictions, references)
    singles = [metrics.rouge([p], [r])["rouge1"] for p, r in ROUGE_CASES]
    assert mean["rouge1"] == pytest.approx(sum(singles) / len(singles))
    first = metrics.rouge(predictions, references, bootstrap_seed=3)
    assert first == metrics.rouge(predictions, references, bootstrap_seed=3)
    assert first["rouge1"] == pytest.approx(mean["rouge1"], abs=10)
    assert first != metrics.rouge(predictions, references, bootstrap_seed=4)


# ---------------------------------------------------------------------------------------------------------- extras


@pytest.mark.parametrize(
    ("predictions", "references", "per"),
    [
        (["AH0 B"], ["AH0 B"], 0.0),
        (["AH0 P"], ["AH0 B"], 50.0),  # one substitution of 2
        (["AH0"], ["AH0 B"], 50.0),  # one deletion
        (["AH0 B K"], ["AH0 B"], 50.0),  # one insertion
        ([""], ["K AE1 T"], 100.0),
        (["K AE1 T", "D AO1 G Z"], ["K AE1 T", "D AO1 G"], 100 * 1 / 6),  # errors and lengths pooled over examples
        (["T AE1 K"], ["K AE1 T"], 100 * 2 / 3),
    ],
)
def test_phoneme_error_rate(predictions, references, per):
    assert metrics.phoneme_error_rate(predictions, references)["per"] == pytest.approx(per)


def test_bleu_identical_is_100_and_disjoint_is_0():
    code = ["public int Foo ( ) { return 1 ; }", "int x = 2 ;"]
    assert metrics.bleu(code, code)["bleu"] == pytest.approx(100.0)
    assert metrics.bleu(["a b c d"], ["w x y z"])["bleu"] == pytest.approx(0.0)


def test_smiles_metric_is_absent_without_rdkit_and_em_still_reported(monkeypatch):
    monkeypatch.setattr(metrics, "rdkit_available", lambda: False)
    result = metrics.compute(("em_f1", "smiles"), ["CCO"], ["OCC"])
    assert result == {"em": 0.0, "f1": 0.0}


def test_canonical_smiles_match_with_rdkit():
    pytest.importorskip("rdkit")
    assert metrics.smiles_exact_match(["OCC", "C1CC1"], ["CCO", "CCC"])["smiles_em"] == pytest.approx(50.0)


def test_mismatched_lengths_and_unknown_scorers_are_user_errors():
    with pytest.raises(SynptError, match="pair up"):
        metrics.exact_match_f1(["a"], ["a", "b"])
    with pytest.raises(SynptError, match="unknown scorer"):
        metrics.compute(("nope",), ["a"], ["a"])
