"""The set-operation kernels (synpt/synthetic/native/setops.c) through `synpt.synthetic.native`: targets vs the oracles
in all three set orders, the CPython 3.11 set emulation vs real sets, and the `two_sets` sampler's distribution vs a
reference-style sampler."""

from __future__ import annotations

import random
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from synpt.synthetic import native
from synpt.synthetic.native import SET_ORDER_CODES
from synpt.synthetic.sampling import Ragged
from synpt.synthetic.simple import ORACLES, Context

OPS = ["union", "intersect", "set_1_minus_2", "set_2_minus_1"]
ORDERS = list(SET_ORDER_CODES)
POOL = np.arange(2, 32000, dtype=np.int32)
IS_CPYTHON_311 = sys.implementation.name == "cpython" and sys.version_info[:2] == (3, 11)
NOT_311 = "the cpython order reproduces CPython 3.11's sets; this interpreter may iterate sets differently"


def native_target(op: str, pairs: list[tuple[list[int], list[int]]], order: str) -> list[list[int]]:
    x, y = Ragged.from_lists([x for x, _ in pairs]), Ragged.from_lists([y for _, y in pairs])
    return native.target(op)(x, y, Context(1, 8, POOL, order)).tolists()


def check_targets(pairs, orders=ORDERS):
    for order in orders:
        if order == "cpython" and not IS_CPYTHON_311:
            continue
        for op in OPS:
            expected = [ORACLES[op]((x, y), order) for x, y in pairs]
            assert native_target(op, pairs, order) == expected, (op, order)


# -- (1) the four targets x three orders vs the oracles ----------------------------------------------------------
# Ids that stress the emulation: -1 and -2 share the hash -2; multiples of 8/32/128 collide in every table size;
# ids >= 65536 and the int32 extremes exercise the perturbed probing (high hash bits).
special = st.sampled_from([-1, -2, -3, 0, 1, 8, 16, 32, 64, 128, 65536, 65537, 131072, 2**31 - 1, -(2**31)])
ids = st.one_of(
    st.integers(-3, 40), special, st.integers(0, 60).map(lambda v: v * 32), st.integers(-(2**31), 2**31 - 1)
)
side = st.lists(ids, max_size=100)


@settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(st.tuples(side, side), max_size=5))
@example([([], [])])
@example([([-1, -2, -1], [-2, 65536, -1]), ([5], []), ([], [5, 5])])
def test_targets_match_oracles(pairs):
    check_targets(pairs)


@pytest.mark.parametrize("nx", [0, 1, 4, 5, 18, 19, 76, 77, 80, 300])
def test_targets_across_resize_thresholds(nx):
    # Distinct counts around the table growth points (5 -> 32 slots, 19 -> 128, 77 -> 512) and x much larger than
    # y (the copy-and-discard difference path), with repeats, in one call so the per-row sets are reused.
    rng = random.Random(nx)
    pairs = []
    for ny in [0, 1, 3, 4, 5, 18, 19, 80]:
        for spread in [nx + ny + 1, 3 * (nx + ny) + 1, 2**20]:
            x = rng.sample(range(-5, spread), min(nx, spread + 5))
            y = [rng.choice(x) if x and rng.random() < 0.5 else rng.randrange(-5, spread) for _ in range(ny)]
            pairs.append((x + x[: nx // 3], y))
    check_targets(pairs)


def test_target_errors_and_empty_batch():
    assert native_target("union", [], "sorted") == []
    with pytest.raises(ValueError, match="two arguments"):
        native.target("union")(Ragged.from_lists([[1]]), None, Context(1, 8, POOL))


# -- (2) the emulation behind the cpython order vs the running interpreter's sets ----------------------------------
@pytest.mark.skipif(not IS_CPYTHON_311, reason=NOT_311)
def test_cpython_set_order_matches_real_sets():
    rng = random.Random(2022)
    apply = [lambda a, b: a, lambda a, b: a | b, lambda a, b: a & b, lambda a, b: a - b]
    copy_and_difference = 0
    for _ in range(3000):
        spread = rng.choice([4, 40, 300, 70000, 2**31])
        nx = rng.choice([rng.randrange(0, 12), rng.randrange(0, 120), rng.randrange(100, 400)])
        ny = rng.choice([0, 1, rng.randrange(0, 12), rng.randrange(0, 120)])
        x = [rng.randrange(-3, spread) - (2**31 if spread == 2**31 else 0) for _ in range(nx)]
        # half the time y reuses x's ids, so differences really discard (dummies, then the resize that drops them)
        y = [rng.choice(x) if x and rng.random() < 0.5 else rng.randrange(-3, spread) for _ in range(ny)]
        for op in range(4):
            assert native.cpython_set_order(op, x, y) == list(apply[op](set(x), set(y))), (op, x, y)
        copy_and_difference += len(set(x)) >> 2 > len(set(y))  # CPython's condition for that path of x - y
    assert copy_and_difference > 500


# -- (3) the two_sets sampler vs a reference-style sampler ---------------------------------------------------------
@pytest.mark.skipif(not IS_CPYTHON_311, reason=NOT_311)
def test_targets_match_real_sets_on_many_random_rows():
    """The targets against real sets, in bulk: empty sides, tiny and large local pools, ids of every size, sizes
    across every resize."""
    rnd = random.Random(11)
    pairs = []
    for _ in range(3000):
        pool = [rnd.randint(0, rnd.choice([40, 32000, 70000])) for _ in range(rnd.choice([1, 3, 10, 40, 110, 300]))]
        n1, n2 = rnd.choice([0, rnd.randint(0, 250)]), rnd.choice([0, rnd.randint(0, 250)])
        pairs.append(([rnd.choice(pool) for _ in range(n1)], [rnd.choice(pool) for _ in range(n2)]))
    python = {"union": lambda x, y: x | y, "intersect": lambda x, y: x & y}
    python |= {"set_1_minus_2": lambda x, y: x - y, "set_2_minus_1": lambda x, y: y - x}
    for op, fn in python.items():
        assert native_target(op, pairs, "cpython") == [list(fn(set(x), set(y))) for x, y in pairs], op


N = 20_000


def native_samples(seed: int, count: int, lo: int, hi: int, pool: np.ndarray):
    x, y = native.sampler("two_sets")(np.random.default_rng(seed), count, Context(lo, hi, pool))
    rows = [np.split(r.values, np.cumsum(r.lengths)[:-1]) for r in (x, y)]
    return list(zip(*rows, strict=True))


def reference_samples(rng: random.Random, count: int, lo: int, hi: int, pool: list[int]):
    """§2.6.2 written the reference's way: one example at a time with the `random` module."""
    out = []
    for _ in range(count):
        total = rng.randint(max(lo - 1, 1), hi - 1)
        n1 = rng.randint(0, total)
        local = rng.sample(pool, max(total // 2, 1))
        out.append((rng.choices(local, k=n1), rng.choices(local, k=total - n1)))
    return out


def features(samples) -> dict[str, np.ndarray]:
    x_len = np.array([len(x) for x, _ in samples])
    total = x_len + np.array([len(y) for _, y in samples])
    return {
        "T": total,
        "n1": x_len,
        "distinct1": np.array([len(set(np.asarray(x).tolist())) for x, _ in samples]),
        "distinct2": np.array([len(set(np.asarray(y).tolist())) for _, y in samples]),
    }


def expected_distinct(k: np.ndarray, n: np.ndarray) -> np.ndarray:
    """E[#distinct] of n uniform draws from k distinct tokens."""
    return k * (1 - (1 - 1 / k) ** n)


def test_two_sets_distribution_matches_reference_sampler():
    native = features(native_samples(1, N, 10, 220, POOL))
    reference = features(reference_samples(random.Random(1), N, 10, 220, POOL.tolist()))
    assert native["T"].min() == 9 and native["T"].max() == 219
    assert np.all(native["n1"] <= native["T"])
    # n1 ~ U{0..T}: each end has probability E[1 / (T + 1)] (about 0.0146, ~290 rows, sd 17).
    end = (1 / (native["T"] + 1)).mean()
    for hits in (native["n1"] == 0, native["n1"] == native["T"]):
        assert abs(hits.mean() - end) < 0.2 * end, (hits.mean(), end)
    for name in native:
        a, b = native[name], reference[name]
        se = np.sqrt(a.var() / N + b.var() / N)
        # 5 standard errors: about 1 id for T, n1 and the distinct counts; a shifted range or split fails.
        assert abs(a.mean() - b.mean()) < 5 * se, (name, a.mean(), b.mean())
        assert abs(a.std() - b.std()) < 0.03 * b.std(), (name, a.std(), b.std())
    # Exact values for the uniform T ~ U{9..219}: mean 114, sd sqrt((211^2 - 1) / 12) = 60.9.
    assert abs(native["T"].mean() - 114) < 1.5 and abs(native["T"].std() - 60.91) < 1.0


@pytest.mark.parametrize(("hi", "pool_size"), [(220, None), (25, 12)])
def test_two_sets_local_pool_is_distinct_and_half_of_t(hi, pool_size):
    # Given T (hence k = max(T // 2, 1)) and an argument's length n, the expected number of distinct tokens is
    # exactly E(k, n); averaging (observed - expected) over 20k rows has a standard error of ~0.02 ids, while a
    # local pool of k +- 1 tokens, or one drawn with replacement (duplicates; likely with the 12-token pool),
    # moves it by > 0.2.
    pool = POOL if pool_size is None else np.sort(np.random.default_rng(0).choice(POOL, pool_size, replace=False))
    samples = native_samples(7, N, 10, hi, pool)
    f = features(samples)
    k = np.maximum(f["T"] // 2, 1)
    union = np.array([len(set(np.concatenate([x, y]).tolist())) for x, y in samples])
    assert np.all(union <= k) and np.all(np.isin(np.concatenate([np.concatenate(s) for s in samples]), pool))
    for name, n in (("distinct1", f["n1"]), ("distinct2", f["T"] - f["n1"])):
        residual = f[name] - expected_distinct(k, n)
        assert abs(residual.mean()) < 0.1, (name, residual.mean())
    assert abs((union - expected_distinct(k, f["T"])).mean()) < 0.1
    if pool_size is not None:
        # Every pool token is equally likely to be in a row (~15k rows each, sd ~60): a skipped or favoured slot
        # of the without-replacement draw shows here.
        _, rows_with = np.unique(np.concatenate([np.unique(np.concatenate(s)) for s in samples]), return_counts=True)
        assert len(rows_with) == pool_size
        assert rows_with.max() < 1.03 * rows_with.min(), rows_with


def test_two_sets_errors():
    two_sets, rng = native.sampler("two_sets"), np.random.default_rng(0)
    with pytest.raises(ValueError, match="needs a token pool at least that large, got 50"):
        two_sets(rng, 10, Context(10, 220, POOL[:50]))
    with pytest.raises(ValueError, match="no total length"):
        two_sets(rng, 10, Context(1, 1, POOL))
    # The smallest pool that fits (T <= 220 needs 110 distinct tokens) works.
    x, _ = two_sets(rng, 50, Context(200, 221, POOL[:110]))
    assert set(x.values.tolist()) <= set(POOL[:110].tolist())
