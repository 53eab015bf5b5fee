"""The binary tasks count, replace, sort, delete and search (synpt/synthetic/native/binary.c, simple.py), through
`synpt.synthetic.native` and simple.py.

Targets are checked against the per-example oracles on adversarial arguments, the delete/search absence test
against the reference's Python text expression, and every sampler's distribution against a small per-example
sampler written the reference's way with the `random` module (statistics of ~20k draws on both sides).
"""

from __future__ import annotations

import random

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from synpt.catalog import get_task
from synpt.synthetic import native, simple
from synpt.synthetic.sampling import Ragged
from synpt.synthetic.simple import ORACLES, SAMPLERS, Context, _first_index, make_pool

CTX = Context(10, 220, make_pool(None))
TARGETS = ("count", "replace", "sort", "delete", "search")


def target(name: str, samples: list) -> list[list[int]]:
    a = Ragged.from_lists([s[0] for s in samples])
    b = Ragged.from_lists([s[1] for s in samples])
    return getattr(simple, f"target_{name}")(a, b, CTX).tolists()


# -- (1) targets vs the oracles -----------------------------------------------------------------------------------
# Few distinct small ids (many repeats and partial matches) mixed with ids beyond 16 bits and the int32 extremes.
token = st.one_of(st.integers(2, 6), st.sampled_from([65536, 65537, 1 << 20, 2**31 - 1, -(2**31), 0, -1]))
tokens = st.lists(token, max_size=30)


@st.composite
def sample_for(draw, name: str):
    if name == "count":
        return draw(tokens), [draw(token)]
    if name == "replace":
        seq = draw(tokens)
        key = draw(st.sampled_from(seq)) if seq and draw(st.booleans()) else draw(token)
        return seq, [key, draw(token)]
    if name == "sort":
        order = draw(st.lists(token, min_size=1, max_size=12))  # repeated order tokens are frequent
        return draw(st.lists(st.sampled_from(order), max_size=30)), order
    seq = draw(tokens)
    if seq and draw(st.booleans()):  # a query cut out of the seq, so it is present (maybe more than once)
        i = draw(st.integers(0, len(seq) - 1))
        return seq, seq[i : draw(st.integers(i, len(seq)))]
    return seq, draw(st.lists(token, max_size=35))  # often empty or longer than the seq


@pytest.mark.parametrize("name", TARGETS)
def test_targets_equal_oracles(name):
    @settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
    @given(st.lists(sample_for(name), min_size=1, max_size=5))
    def check(samples):
        assert target(name, samples) == [list(ORACLES[name](s)) for s in samples]

    check()


def test_target_edge_cases():
    seq = [5, 7, 5, 7, 9]
    assert target("delete", [(seq, []), (seq, seq + [1]), (seq, [5, 7]), (seq, seq), ([], [3])]) == [
        seq, seq, [5, 7, 9], [], []
    ]  # fmt: skip
    assert target("search", [(seq, []), (seq, seq + [1]), (seq, [7, 9]), ([], [])]) == [[150], [150], [4273], [150]]
    # the last index of a repeated order token decides its place
    assert target("sort", [([1, 2, 3, 1, 2], [1, 2, 3, 1]), ([70000, 2], [70000, 2, 70000])]) == [
        [2, 2, 3, 1, 1], [2, 70000]
    ]  # fmt: skip
    count_samples = [([9, 9, 8], [9]), ([], [1]), ([1] * 300, [1])]
    assert target("count", count_samples) == [ORACLES["count"](s) for s in count_samples]


@pytest.mark.parametrize(
    "name, sample, message",
    [
        ("sort", ([1, 4], [1, 2]), "not in its order"),
        ("count", ([1], []), "needs 1"),
        ("replace", ([1], [1]), "needs 2"),
    ],
)
def test_targets_reject_malformed_arguments(name, sample, message):
    with pytest.raises(ValueError, match=message):
        target(name, [sample])


# -- (2) the absence test of delete/search branch B is the reference's text test -----------------------------------
def text_contains(seq: list[int], query: list[int]) -> bool:
    """The reference's test."""
    return str(query)[1:-1] in str(seq)


def sample(name: str, count: int, lo: int, hi: int, pool, seed: int = 0) -> tuple[list, list]:
    ctx = Context(lo, hi, np.asarray(pool, dtype=np.int32))
    a, b = native.sampler(name)(np.random.default_rng(seed), count, ctx)
    return a.tolists(), b.tolists()


def query_samples(count: int, lo: int, hi: int, pool, seed: int = 0, name: str = "search") -> tuple[list, list]:
    """delete/search samples, each from one branch (`balanced`: the branch is kept through the length rejection)."""
    ctx = Context(lo, hi, np.asarray(pool, dtype=np.int32), balanced=True)
    a, b = SAMPLERS[name](np.random.default_rng(seed), count, ctx)
    return a.tolists(), b.tolists()


def test_absent_samples_pass_the_text_test():
    seqs, queries = query_samples(20_000, 1, 12, np.arange(41), seed=1)
    absent = [(s, q) for s, q in zip(seqs, queries, strict=True) if _first_index(s, q) < 0]
    tiny = [len(q) > len(s) for s, q in absent]
    assert 8000 < len(absent) < 12000 and 30 < sum(tiny) < 200  # the 1 % branch without a test (some rejected)
    assert not any(text_contains(s, q) for (s, q), t in zip(absent, tiny, strict=True) if not t)
    # which is not for free: fresh draws of the same lengths hit the text test often
    rng = random.Random(0)
    fresh_hits = sum(
        text_contains([rng.randrange(41) for _ in s], [rng.randrange(41) for _ in q])
        for (s, q), t in zip(absent, tiny, strict=True)
        if not t
    )
    assert fresh_hits > 500, fresh_hits


# ids whose texts overlap across number boundaries ("15, 7" holds "5, 7", "-12" holds "12", "123" holds "23"), and
# ids beyond the formatter's 16-bit table and the int32 extremes
TEXT_POOL = [-(2**31), -12, -1, 1, 2, 3, 5, 7, 12, 15, 23, 57, 123, 65536, 165536, 2**31 - 1]


@pytest.mark.parametrize("name", ["delete", "search"])
def test_absent_rows_pass_the_text_test_across_number_boundaries(name):
    """Branch B rows (balanced: exactly the rows without the query, as branch A plants it) never have the query's
    text in the seq's text, though here the text test is stricter than a token test."""
    seqs, queries = query_samples(20_000, 1, 8, TEXT_POOL, seed=2, name=name)
    absent = [(s, q) for s, q in zip(seqs, queries, strict=True) if _first_index(s, q) < 0 and len(q) <= len(s)]
    assert len(absent) > 4000  # a quarter (delete) or half (search) of the rows, but the tiny ones
    assert not any(text_contains(s, q) for s, q in absent)
    rng = random.Random(0)
    fresh = [([rng.choice(TEXT_POOL) for _ in s], [rng.choice(TEXT_POOL) for _ in q]) for s, q in absent]
    assert sum(_first_index(s, q) < 0 and text_contains(s, q) for s, q in fresh) > 200


def test_sampler_errors_are_clear():
    with pytest.raises(ValueError, match="token pool is too small"):
        query_samples(50, 1, 12, [7])
    with pytest.raises(ValueError, match="sort: the length range"):
        sample("sort", 1, 10, 10, [7])
    with pytest.raises(ValueError, match="count: the length range"):
        sample("count", 1, 1, 2, [7])


# -- (3) sampler distributions vs per-example reference-style samplers -------------------------------------------
N = 20_000


def reference(fn, lo: int, hi: int, pool, seed: int = 0) -> tuple[list, list]:
    rng, pool = random.Random(seed), [int(t) for t in pool]
    pairs = [fn(rng, lo, hi, pool) for _ in range(N)]
    return [p[0] for p in pairs], [p[1] for p in pairs]


def ref_count(r, lo, hi, pool):
    n, q = r.randint(max(lo - 2, 1), hi - 2), r.choice(pool)
    c = r.randint(0, n)
    seq = [q] * c + [r.choice(pool) for _ in range(n - c)]
    r.shuffle(seq)
    return seq, [q]


def ref_replace(r, lo, hi, pool):
    seq = [r.choice(pool) for _ in range(r.randint(max(lo - 3, 1), hi - 3))]
    return seq, [r.choice(sorted(set(seq))), r.choice(pool)]


def ref_sort(r, lo, hi, pool):
    m = r.randint(max(1, lo // 2), max(1, (hi - 1) // 2))
    order = [r.choice(pool) for _ in range(m)]
    s = r.randint(m, max(hi - 1 - m, m))
    runs = [1] * m  # partition_no_zeros(s, m)
    for _ in range(s - m):
        runs[r.randrange(m)] += 1
    seq = [t for length in runs for t in [r.choice(order)] * length]
    r.shuffle(seq)
    return seq, order


def ref_present(r, lo, hi, pool):
    q = r.randint(1, max(1, (hi - 1) // 3))
    s = r.randint(2 * q, max(hi - 1 - q, 2 * q))
    query = [r.choice(pool) for _ in range(q)]
    copies = r.randint(1, s // q)
    gaps = [0] * (copies + 1)  # partition(s - copies * q, copies + 1)
    for _ in range(s - copies * q):
        gaps[r.randrange(copies + 1)] += 1
    seq = []
    for k, gap in enumerate(gaps):
        seq += [r.choice(pool) for _ in range(gap)] + (query if k < copies else [])
    return seq, query


def ref_absent(r, lo, hi, pool):
    if r.random() < 0.01:
        q = r.randint(min(lo + 1, hi), hi)
        s = r.randint(0, q - 1)
        return [r.choice(pool) for _ in range(s)], [r.choice(pool) for _ in range(q)]
    s = r.randint(lo, hi)
    q = r.randint(lo, s)
    while True:
        seq, query = [r.choice(pool) for _ in range(s)], [r.choice(pool) for _ in range(q)]
        if not text_contains(seq, query):
            return seq, query


def occurrences(seq, query):
    n = len(query)
    return sum(seq[i : i + n] == query for i in range(len(seq) - n + 1))


def assert_same_mean(name, stat, ours, theirs, sigmas=5.0):
    x = np.array([stat(s, q) for s, q in zip(*ours, strict=True)], dtype=float)
    y = np.array([stat(s, q) for s, q in zip(*theirs, strict=True)], dtype=float)
    tolerance = sigmas * np.sqrt(x.var() / len(x) + y.var() / len(y))
    assert abs(x.mean() - y.mean()) <= tolerance, (name, x.mean(), y.mean(), tolerance)
    return tolerance


SMALL_POOL = np.arange(2, 10)  # 8 tokens: fillers hit the count query, replace keys repeat
REPLACE_STATS = {
    "length": lambda s, q: len(s),
    "key multiplicity": lambda s, q: s.count(q[0]),  # uniform over distinct tokens, not over positions
    "value is key": lambda s, q: q[0] == q[1],
    "key is 2": lambda s, q: q[0] == 2,
}
CASES = {
    # sampler name[/variant]: (reference sampler, length range, pool, statistics of (arg1, arg2))
    "count": (
        ref_count,
        (10, 40),
        SMALL_POOL,
        {
            "length": lambda s, q: len(s),
            "count": lambda s, q: s.count(q[0]),  # copies plus fillers equal to the query
            "count share squared": lambda s, q: (s.count(q[0]) / len(s)) ** 2,  # c ~ U{0..n}, not binomial
            "first is query": lambda s, q: s[0] == q[0],  # copies are spread, not in front
            "neighbours equal": lambda s, q: np.mean([x == y for x, y in zip(s, s[1:], strict=False)]),  # nor clumped
            "last is a rare query": lambda s, q: s[-1] == q[0] and 3 * s.count(q[0]) < len(s),  # every place is used
        },
    ),
    "replace": (
        ref_replace,
        (10, 30),
        SMALL_POOL,
        REPLACE_STATS,
    ),
    "replace/skewed pool": (  # 2 rare, 3 frequent: the kernel's quick rejection tries fail, its fallback decides
        ref_replace,
        (10, 30),
        [2] + [3] * 9,
        REPLACE_STATS,
    ),
    "sort": (
        ref_sort,
        (10, 60),
        make_pool(None),
        {
            "order length": lambda s, o: len(o),
            "seq length": lambda s, o: len(s),
            "distinct": lambda s, o: len(set(s)),  # m runs over the order, not i.i.d. draws from it
            "neighbours equal": lambda s, o: s[0] == s[1],  # shuffled, not runs
        },
    ),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_sampler_distribution_matches_reference_style_sampler(name):
    fn, (lo, hi), pool, stats = CASES[name]
    ours = sample(name.split("/")[0], N, lo, hi, pool, seed=3)
    theirs = reference(fn, lo, hi, pool, seed=3)
    for stat_name, stat in stats.items():
        assert_same_mean(stat_name, stat, ours, theirs)


# -- delete/search: both branches, the branch choice and the length rejection ------------------------------------
def query_statistics(seqs: Ragged, queries: Ragged) -> dict[str, float]:
    present = np.array([_first_index(s, q) >= 0 for s, q in zip(seqs.tolists(), queries.tolists(), strict=True)])
    return {"present": present.mean(), "arg length": (seqs.lengths + 1 + queries.lengths).mean()}


BRANCH_CASES = {
    "query_present": (
        ref_present,
        (10, 60),
        make_pool(None),
        {
            "query length": lambda s, q: len(q),
            "seq length": lambda s, q: len(s),
            "occurrences": occurrences,  # the copies r
            "first gap": lambda s, q: s.index(q[0]),  # the partition of the fillers
            "starts with query": lambda s, q: s[: len(q)] == q,  # gaps may be empty
        },
    ),
    "query_absent": (
        ref_absent,
        (1, 6),  # short queries: the text test hits often
        np.arange(41),
        {
            "seq length": lambda s, q: len(s),
            "query length": lambda s, q: len(q),
            "tiny": lambda s, q: len(q) > len(s),
            "one-digit query ids": lambda s, q: sum(t < 10 for t in q) / len(q),  # what the text test redraws
            "one-digit seq ids": lambda s, q: sum(t < 10 for t in s) / max(len(s), 1),
        },
    ),
}


@pytest.mark.parametrize("branch", sorted(BRANCH_CASES))
def test_query_branches_match_reference_style_samplers(branch):
    """Each branch of balanced search rows (a row is present exactly when its branch planted the query) against the
    reference's branch sampler with the same length rejection."""
    fn, (lo, hi), pool, stats = BRANCH_CASES[branch]
    seqs, queries = query_samples(2 * N, lo, hi, pool, seed=3)
    present = branch == "query_present"
    ours = [(s, q) for s, q in zip(seqs, queries, strict=True) if (_first_index(s, q) >= 0) == present]
    rng, pool = random.Random(3), [int(t) for t in pool]
    theirs = []
    while len(theirs) < len(ours):
        s, q = fn(rng, lo, hi, pool)
        if lo <= len(s) + 1 + len(q) <= hi:
            theirs.append((s, q))
    for stat_name, stat in stats.items():
        assert_same_mean(stat_name, stat, list(zip(*ours, strict=True)), list(zip(*theirs, strict=True)))


@pytest.mark.parametrize("name, p_present", [("delete", 0.75), ("search", 0.5)])
@pytest.mark.parametrize("balanced", [False, True])
def test_query_sampler_rates_and_lengths(name, p_present, balanced):
    ctx = get_task(name).with_options(balanced=balanced).context()
    seqs, queries = SAMPLERS[name](np.random.default_rng(5), N, ctx)
    lengths = seqs.lengths + 1 + queries.lengths
    assert lengths.min() >= ctx.lo and lengths.max() <= ctx.hi  # every row fits: `accepted` keeps the block as is
    ours = query_statistics(seqs, queries)
    # 20k draws: the present rate has a standard error below 0.0035 (the length rejection skews it, quirk 5)
    expected = {(False, "delete"): 0.82, (False, "search"): 0.60, (True, "delete"): 0.75, (True, "search"): 0.5}
    assert abs(ours["present"] - expected[balanced, name]) < 0.02, ours


def test_query_sampler_rejects_an_impossible_range():
    with pytest.raises(ValueError, match="too narrow"):
        query_samples(10, 1, 2, make_pool(None))  # a present example needs s + 1 + q >= 4
