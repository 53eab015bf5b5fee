"""Interval arithmetic, the paired bootstrap % of benefit, and the verdict rules, on hand-computed numbers."""

import math

import numpy as np
import pytest

from synpt.experiments import stats
from synpt.experiments.verdicts import difference_verdict, share_verdict


@pytest.mark.parametrize(
    ("df", "tabulated"),  # two-sided 95 %: the 0.975 quantile, from a t table
    [(1, 12.706), (2, 4.303), (3, 3.182), (4, 2.776), (9, 2.262), (30, 2.042), (120, 1.980)],
)
def test_t_quantile_matches_the_table(df, tabulated):
    assert stats.t_quantile(0.975, df) == pytest.approx(tabulated, abs=5e-4)
    assert stats.t_quantile(0.025, df) == pytest.approx(-tabulated, abs=5e-4)


def test_t_cdf_known_values():
    assert stats.t_cdf(0.0, 5) == pytest.approx(0.5)
    assert stats.t_cdf(1.0, 1) == pytest.approx(0.75)  # Cauchy: 1/2 + atan(1)/pi
    assert stats.t_cdf(2.0, 2) == pytest.approx(0.5 + 2 / (2 * math.sqrt(6)))  # df=2 closed form
    with pytest.raises(ValueError):
        stats.t_quantile(1.0, 3)


def test_mean_interval_by_hand():
    # 1..5: mean 3, sd sqrt(2.5), n 5 -> half width 2.776 * sqrt(2.5) / sqrt(5) = 1.9630
    interval = stats.mean_interval([1, 2, 3, 4, 5])
    assert interval.estimate == 3.0 and interval.n == 5
    assert interval.half_width == pytest.approx(2.776445 * math.sqrt(0.5), rel=1e-5)
    assert (interval.low, interval.high) == pytest.approx((3 - 1.963243, 3 + 1.963243), abs=1e-5)
    one = stats.mean_interval([4.0])
    assert one.estimate == 4.0 and one.low is None and one.half_width is None and one.text() == "n/a (n=1)"


def test_paired_difference_uses_per_seed_differences():
    # differences 2, 4, 3: mean 3, sd 1, n 3 -> 3 ± 4.303 / sqrt(3)
    interval = stats.paired_difference([12, 14, 13], [10, 10, 10])
    assert interval.estimate == pytest.approx(3.0)
    assert interval.half_width == pytest.approx(4.302653 / math.sqrt(3), rel=1e-5)
    # the seeds' shared noise cancels: unpaired means would overlap, the paired interval excludes 0
    assert stats.paired_difference([50.5, 70.4, 60.6], [50, 70, 60]).above(0)
    with pytest.raises(ValueError):
        stats.paired_difference([1, 2], [1])


def test_benefit_percent_and_no_benefit():
    assert stats.benefit_percent(40, 20, 60) == 50.0
    assert stats.benefit_percent(10, 20, 60) == -25.0
    assert stats.benefit_percent(5, 3, 3) is None and stats.benefit_percent(5, 4, 3) is None


def test_bootstrap_benefit_is_paired_seeded_and_exact_for_constant_shifts():
    random = [10.0, 30.0, 20.0, 40.0]
    natural = [x + 10 for x in random]  # the seed noise is shared: every resample has gap exactly 10
    row = [x + 5 for x in random]
    benefit = stats.bootstrap_benefit(row, random, natural, resamples=2000)
    assert benefit.interval.estimate == pytest.approx(50.0)
    assert (benefit.interval.low, benefit.interval.high) == pytest.approx((50.0, 50.0))
    assert benefit.undefined == 0 and benefit.resamples == 2000
    noisy = stats.bootstrap_benefit([12, 33, 24, 45], random, natural, resamples=2000)
    again = stats.bootstrap_benefit([12, 33, 24, 45], random, natural, resamples=2000)
    assert noisy == again  # seeded
    # per-seed shares 20, 30, 40, 50 %: the point is their mean, the interval lies within their range
    assert noisy.interval.estimate == pytest.approx(35.0)
    assert 20.0 <= noisy.interval.low < 35.0 < noisy.interval.high <= 50.0


def test_bootstrap_counts_resamples_without_natural_benefit():
    random, natural = [0.0, 0.0, 0.0], [5.0, -5.0, 1.0]  # gap > 0 only when the resample leans on seeds 0 and 2
    benefit = stats.bootstrap_benefit([1.0, 1.0, 1.0], random, natural, resamples=4000)
    # P(mean gap <= 0) over the 27 equally likely index triples: count them by hand in numpy
    triples = np.array(np.meshgrid(*[range(3)] * 3)).reshape(3, -1).T
    expected = np.mean(np.asarray(natural)[triples].mean(axis=1) <= 0)
    assert benefit.undefined / benefit.resamples == pytest.approx(expected, abs=0.03)
    assert 0 < benefit.undefined < benefit.resamples
    assert benefit.interval.low is None  # far more than 2.5 % undefined: no interval
    few = stats.bootstrap_benefit([1.0] * 8, [0.0] * 8, [5.0] * 7 + [-1.0], resamples=4000)
    assert few.undefined == 0 and few.interval.low is not None
    with pytest.raises(ValueError):
        stats.bootstrap_benefit([1, 2], [1, 2], [1])


def interval(low, high, n=5):
    return stats.Interval((low + high) / 2, low, high, n)


def benefit(low, high):
    return stats.Benefit(interval(low, high), 10_000, 0)


def test_share_verdict_rules():
    helps = interval(1.0, 3.0)
    assert share_verdict(helps, benefit(20, 90), 65.0) == (
        "reproduced (CI 20.0..90.0); the paper's 65 % is inside the CI"
    )
    assert share_verdict(helps, benefit(5, 30), 65.0).endswith("the paper's 65 % is outside the CI")
    assert share_verdict(helps, benefit(-40, 0.0), 65.0).startswith("not reproduced (CI -40.0..0.0)")
    assert share_verdict(helps, benefit(-10, 30), 39.0).startswith("inconclusive (CI -10.0..30.0)")
    # no measurable natural benefit: every share is inconclusive, whatever its own interval
    for gain in (interval(-1.0, 2.0), interval(0.0, 2.0), stats.Interval(1.0, None, None, 1)):
        verdict = share_verdict(gain, benefit(20, 90), 65.0)
        assert verdict.startswith("inconclusive (no measurable natural benefit: CI "), verdict
    assert share_verdict(interval(-1.0, 2.0), benefit(20, 90), 65.0).endswith("CI -1.00..2.00)")


def test_difference_verdict_rules():
    assert difference_verdict(interval(0.5, 2.0)) == "reproduced (difference CI 0.50..2.00)"
    assert difference_verdict(interval(-2.0, 0.0)) == "not reproduced (difference CI -2.00..0.00)"
    assert difference_verdict(interval(-1.0, 1.0)) == "inconclusive (CI -1.00..1.00)"
    assert difference_verdict(stats.Interval(1.0, None, None, 1)) == "inconclusive (CI n/a (n=1))"
    assert difference_verdict(stats.Interval(0.0, 0.0, 0.0, 5)).startswith("inconclusive (the same score")
