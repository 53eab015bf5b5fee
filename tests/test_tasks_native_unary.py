"""The unary tasks' kernels (synpt/synthetic/native/unary.c) through `synpt.synthetic.native` and simple.py.

Targets are checked against the per-example oracles on arbitrary rows (any int32 token, empty rows and words);
samplers against a pure-Python sampler written the reference's way (reference §2.5, §2.6.1), by comparing
statistics and whole-row frequencies of ~20k draws each. The ranges and pools are small on purpose: there a wrong
distribution (k off by one, a missing shuffle, a wrong partition) moves the statistics by many standard errors.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from synpt.synthetic import native, simple
from synpt.synthetic.sampling import Ragged
from synpt.synthetic.simple import ORACLES, WORD_DIVIDER, Context, split_words

N = 20_000
CTX = SimpleNamespace(set_order="cpython")
INT32 = st.integers(-(2**31), 2**31 - 1)


def _target(name: str, rows: list[list[int]]) -> list[list[int]]:
    return getattr(simple, f"target_{name}")(Ragged.from_lists(rows), None, CTX).tolists()


# ---- targets ---------------------------------------------------------------------------------------------------

# Few distinct values so that runs, repeats and empty words are common, mixed with arbitrary int32 ids.
FEW = st.sampled_from([0, 7, 7, 65536, -1, WORD_DIVIDER])
ROWS = st.lists(st.lists(st.one_of(FEW, INT32), max_size=40), min_size=1, max_size=8)


@pytest.mark.parametrize("name", ["deduplicate", "set", "longest_word"])
def test_targets_equal_oracles(name):
    @settings(max_examples=300, deadline=None)
    @given(ROWS)
    def check(rows):
        assert _target(name, rows) == [ORACLES[name](row) for row in rows]

    check()


@pytest.mark.parametrize(
    "rows",
    [
        [[]],
        [[5]],
        [[WORD_DIVIDER]],
        [[WORD_DIVIDER, WORD_DIVIDER, 3]],  # empty first words, then a longer one
        [[1, 2, WORD_DIVIDER, 3, 4], [4, WORD_DIVIDER, WORD_DIVIDER, 5]],  # ties: the first one wins
        [[], [9, 9, 9], [], [2**31 - 1, -(2**31), 2**31 - 1, -(2**31)]],
        [[65536, 0, 131072, 65536, 0, -65536, 131072]],  # ids equal modulo 2^16
        [[32767, 32768, 32767, 32768, -32768, 32098, -32768]],  # around the direct table of `set` (ids < 2^15)
    ],
)
@pytest.mark.parametrize("name", ["deduplicate", "set", "longest_word"])
def test_targets_edge_cases(name, rows):
    assert _target(name, rows) == [ORACLES[name](row) for row in rows]


def test_set_on_long_rows_next_to_short_ones():
    """One table serves every row: a long row of many distinct ids, then short rows reusing its slots."""
    rnd = random.Random(3)
    long_row = [rnd.randrange(-(2**31), 2**31) for _ in range(5000)]
    long_row += long_row[::7]  # repeats of earlier ids
    rows = [long_row] + [[rnd.randrange(-50, 50) for _ in range(rnd.randrange(0, 12))] for _ in range(300)]
    rows.append([i * 2**16 for i in range(-3000, 3000)] * 2)
    assert _target("set", rows) == [ORACLES["set"](row) for row in rows]


@pytest.mark.parametrize(
    "name, oracle",
    [
        ("copy", "copy"),
        ("reverse", "reverse"),
        ("duplicate", "duplicate"),
        ("length", "length"),
        ("first", "first_char"),
        ("last", "last_char"),
    ],
)
def test_numpy_targets_equal_oracles(name, oracle):
    rows = [[5], [1, 2, 3], [], [2**31 - 1, -(2**31), 7, 7], list(range(250))]
    # an empty row has no first or last token (the task writes [32096] there)
    expected = [ORACLES[oracle](row) if row or name not in ("first", "last") else [] for row in rows]
    assert _target(name, rows) == expected


# ---- samplers: pure-Python references -------------------------------------------------------------------------


def _partition_no_zeros(rnd: random.Random, n: int, k: int) -> list[int]:
    """k positive parts summing to n: the multinomial of n - k items into k equal bins, plus 1 each."""
    parts = [1] * k
    for _ in range(n - k):
        parts[rnd.randrange(k)] += 1
    return parts


def _ref_runs(rnd, lo, hi, pool, shuffle):
    n = rnd.randint(lo, hi)
    row = []
    for part in _partition_no_zeros(rnd, n, rnd.randint(1, n)):
        row += [rnd.choice(pool)] * part
    if shuffle:
        rnd.shuffle(row)
    return row


def _ref_words(rnd, lo, hi, pool):
    w = rnd.randint(1, max(1, hi // 2))
    n = rnd.randint(max(lo - (w - 1), w), hi - (w - 1))
    row = []
    for i, part in enumerate(_partition_no_zeros(rnd, n, w)):
        row += ([WORD_DIVIDER] if i else []) + [rnd.choice(pool) for _ in range(part)]
    return row


def _native_rows(sampler: str, lo: int, hi: int, pool: list[int], count: int = N, seed: int = 0) -> list[list[int]]:
    ctx = Context(lo, hi, np.array(pool, np.int32))
    return native.sampler(sampler)(np.random.default_rng(seed), count, ctx)[0].tolists()


def _ref_rows(sampler: str, lo: int, hi: int, pool: list[int], count: int = N) -> list[list[int]]:
    rnd = random.Random(12345)
    if sampler == "words":
        return [_ref_words(rnd, lo, hi, pool) for _ in range(count)]
    return [_ref_runs(rnd, lo, hi, pool, sampler == "shuffled_runs") for _ in range(count)]


def _sd_variance(x: np.ndarray) -> float:
    """The sampling variance of x's standard deviation, (mu4 - sigma^4) / (4 sigma^2 n), any distribution."""
    var = x.var()
    return (np.mean((x - x.mean()) ** 4) - var**2) / (4 * var * len(x)) if var else 0.0


def _assert_same_mean_and_sd(a: list[float], b: list[float], what: str):
    """Two independent samples agree: means and standard deviations within 5 standard errors."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    se = math.sqrt(a.var() / len(a) + b.var() / len(b))
    assert abs(a.mean() - b.mean()) < 5 * se + 1e-9, (what, a.mean(), b.mean(), se)
    sd_se = math.sqrt(_sd_variance(a) + _sd_variance(b))
    assert abs(a.std() - b.std()) < 5 * sd_se + 1e-9, (what, a.std(), b.std(), sd_se)


def _assert_same_frequencies(a: list, b: list):
    """Two-sample chi-square over whole rows (equal sample sizes); rows seen < 20 times in all are pooled."""
    ca, cb = Counter(map(tuple, a)), Counter(map(tuple, b))
    chi2, bins, rare_a, rare_b = 0.0, 0, 0, 0
    for key in ca.keys() | cb.keys():
        x, y = ca[key], cb[key]
        if x + y < 20:
            rare_a, rare_b = rare_a + x, rare_b + y
        else:
            chi2, bins = chi2 + (x - y) ** 2 / (x + y), bins + 1
    if rare_a + rare_b:
        chi2, bins = chi2 + (rare_a - rare_b) ** 2 / (rare_a + rare_b), bins + 1
    df = bins - 1
    assert df >= 10, df  # enough bins for the test to mean something
    assert chi2 < df + 6 * math.sqrt(2 * df), (chi2, df)  # ~6 standard deviations of the null distribution


def _runs(row):
    return sum(1 for i, t in enumerate(row) if i == 0 or t != row[i - 1])


# ---- samplers: the tests --------------------------------------------------------------------------------------


@pytest.mark.parametrize("sampler", ["runs", "shuffled_runs"])
def test_run_samplers_match_reference_distribution(sampler):
    # Whole rows over a 2-token pool and lengths 1..4: every (L, k, partition, symbols, shuffle) shows in the
    # frequencies of the ~30 possible rows.
    tiny = (1, 4, [5, 9])
    _assert_same_frequencies(_native_rows(sampler, *tiny), _ref_rows(sampler, *tiny))
    # Statistics over a 3-token pool and lengths 1..12: runs after merging and distinct tokens.
    small = (1, 12, [2, 3, 4])
    ours, ref = _native_rows(sampler, *small), _ref_rows(sampler, *small)
    _assert_same_mean_and_sd([len(r) for r in ours], [len(r) for r in ref], "length")
    _assert_same_mean_and_sd([_runs(r) for r in ours], [_runs(r) for r in ref], "runs")
    _assert_same_mean_and_sd([len(set(r)) for r in ours], [len(set(r)) for r in ref], "distinct")


def test_runs_in_the_paper_range_have_k_uniform():
    """(10, 220) with the full pool: neighbours almost never merge, so the number of runs is k ~ U{1..L}."""
    pool = list(range(2, 32000))
    rows = _native_rows("runs", 10, 220, pool)
    ref = _ref_rows("runs", 10, 220, pool, count=4000)
    _assert_same_mean_and_sd([_runs(r) for r in rows], [_runs(r) for r in ref], "runs")
    _assert_same_mean_and_sd([len(set(r)) for r in rows], [len(set(r)) for r in ref], "distinct")
    assert all(10 <= len(r) <= 220 for r in rows)


def test_words_sampler_matches_reference_distribution():
    # With one token in the pool a row is its word lengths; (3, 9) makes W ~ U{1..4} and clips N from below.
    tiny = (3, 9, [7])
    _assert_same_frequencies(_native_rows("words", *tiny), _ref_rows("words", *tiny))
    for lo, hi in [(2, 11), (10, 220)]:
        ours, ref = _native_rows("words", lo, hi, [2, 3, 4]), _ref_rows("words", lo, hi, [2, 3, 4], count=8000)
        assert all(lo <= len(r) <= hi and all(split_words(r)) for r in ours)  # within range, no empty word
        _assert_same_mean_and_sd([len(split_words(r)) for r in ours], [len(split_words(r)) for r in ref], "words")
        longest = [len(ORACLES["longest_word"](r)) for r in ours]
        _assert_same_mean_and_sd(longest, [len(ORACLES["longest_word"](r)) for r in ref], "longest word")
        # Tokens (and the divider): informative for short rows, which hold 1..3 of the pool's 3 tokens.
        _assert_same_mean_and_sd([len(set(r)) for r in ours], [len(set(r)) for r in ref], "distinct")


@pytest.mark.parametrize("lo,hi", [(1, 1), (1, 2), (2, 3), (8, 8), (4000, 4000), (0, 5)])
def test_words_sampler_bounds(lo, hi):
    for row in _native_rows("words", lo, hi, [2, 3], count=500):
        words = split_words(row)
        assert lo <= len(row) <= hi and all(words) and len(words) <= max(1, hi // 2)


def test_shuffled_runs_are_permutations_of_run_sequences():
    """A one-row call of `shuffled_runs` builds the same runs as `runs` with the same seed, then shuffles them
    (the shuffle draws come after the row's runs), so the two rows hold the same multiset in another order."""
    pool = list(range(2, 32000))
    differ = multi = 0
    for seed in range(400):
        (runs,) = _native_rows("runs", 10, 60, pool, count=1, seed=seed)
        (shuffled,) = _native_rows("shuffled_runs", 10, 60, pool, count=1, seed=seed)
        assert sorted(runs) == sorted(shuffled)
        multi += len(set(runs)) > 1
        differ += runs != shuffled
    assert differ >= 0.95 * multi and multi > 300, (differ, multi)


def test_samplers_are_deterministic_and_reject_empty_ranges():
    for sampler in ["runs", "shuffled_runs", "words"]:
        assert _native_rows(sampler, 10, 30, [2, 3], 50, seed=1) == _native_rows(sampler, 10, 30, [2, 3], 50, seed=1)
        assert _native_rows(sampler, 10, 30, [2, 3], 50, seed=1) != _native_rows(sampler, 10, 30, [2, 3], 50, seed=2)
    with pytest.raises(ValueError, match="lengths >= 1"):
        _native_rows("shuffled_runs", 0, 5, [2])
    with pytest.raises(ValueError, match="hi >= 1"):
        _native_rows("words", 0, 0, [2])
