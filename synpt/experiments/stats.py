"""The statistics of a study: 95 % intervals of means, paired differences, a paired bootstrap of the % of natural
benefit, and the verdict rules. numpy and the standard library only (no scipy in the environment).

Why these and not others:

* A cell (one row, one task, one metric over seeds) gets a Student-t interval of its mean: seeds are few (3-5), so
  the normal quantile 1.96 would be far too narrow (t with 4 degrees of freedom is 2.776).
* The "% of natural benefit" 100 (row - random) / (natural - random) is a ratio of noisy means whose denominator
  may be small; its interval comes from a paired bootstrap: seed indices are resampled jointly across the rows
  (seed s of every row shares the data order and the fresh init, so the rows' seed-to-seed noise is correlated
  and must stay paired), the percentage recomputed per resample, and the 2.5 / 97.5 percentiles taken. A resample
  whose natural - random gap is <= 0 has no defined percentage; it is left out and counted (`undefined`), and
  when they are more than the 2.5 % an interval tail holds, no interval is given.
* "Does natural pre-training help at all here" is the paired difference natural - random with its t interval:
  a % of benefit means nothing unless that interval lies above 0.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

CONFIDENCE = 0.95
BOOTSTRAP_RESAMPLES = 10_000
BOOTSTRAP_SEED = 0


def _incomplete_beta(a: float, b: float, x: float) -> float:
    """The regularized incomplete beta function I_x(a, b), by its continued fraction (modified Lentz)."""
    if x <= 0.0:
        return 0.0
    if x >= 1.0:
        return 1.0
    if x > (a + 1.0) / (a + b + 2.0):  # the fraction converges fast only below this point; use the symmetry
        return 1.0 - _incomplete_beta(b, a, 1.0 - x)
    front = math.exp(math.lgamma(a + b) - math.lgamma(a) - math.lgamma(b) + a * math.log(x) + b * math.log1p(-x)) / a
    tiny = 1e-300
    c, d = 1.0, 1.0 - (a + b) * x / (a + 1.0)
    d = 1.0 / (d if abs(d) > tiny else tiny)
    result = d
    for m in range(1, 500):
        for numerator in (
            m * (b - m) * x / ((a + 2 * m - 1) * (a + 2 * m)),
            -(a + m) * (a + b + m) * x / ((a + 2 * m) * (a + 2 * m + 1)),
        ):
            d = 1.0 + numerator * d
            d = 1.0 / (d if abs(d) > tiny else tiny)
            c = 1.0 + numerator / c
            c = c if abs(c) > tiny else tiny
            result *= c * d
        if abs(c * d - 1.0) < 1e-15:
            break
    return front * result


def t_cdf(t: float, df: int) -> float:
    """P(T <= t) for Student's t with `df` degrees of freedom."""
    tail = 0.5 * _incomplete_beta(df / 2.0, 0.5, df / (df + t * t))
    return 1.0 - tail if t >= 0 else tail


def t_quantile(p: float, df: int) -> float:
    """The `p` quantile of Student's t with `df` degrees of freedom (bisection on the CDF; 0 < p < 1, df >= 1)."""
    if not 0.0 < p < 1.0 or df < 1:
        raise ValueError(f"t_quantile needs 0 < p < 1 and df >= 1, got p={p}, df={df}")
    if p < 0.5:
        return -t_quantile(1.0 - p, df)
    low, high = 0.0, 1.0
    while t_cdf(high, df) < p:
        high *= 2.0
    for _ in range(200):
        middle = 0.5 * (low + high)
        low, high = (middle, high) if t_cdf(middle, df) < p else (low, middle)
    return 0.5 * (low + high)


@dataclass(frozen=True)
class Interval:
    """An estimate with its 95 % interval (`low`/`high` None when it cannot be computed, e.g. one seed)."""

    estimate: float | None
    low: float | None
    high: float | None
    n: int

    @property
    def half_width(self) -> float | None:
        return None if self.low is None or self.high is None else (self.high - self.low) / 2

    def above(self, value: float = 0.0) -> bool:
        """The whole interval lies above `value`."""
        return self.low is not None and self.low > value

    def at_or_below(self, value: float = 0.0) -> bool:
        return self.high is not None and self.high <= value

    def contains(self, value: float) -> bool:
        return self.low is not None and self.high is not None and self.low <= value <= self.high

    def text(self, digits: int = 2) -> str:
        """ "lo..hi", or "n/a (n=1)" when there is no interval."""
        if self.low is None or self.high is None:
            return f"n/a (n={self.n})"
        return f"{self.low:.{digits}f}..{self.high:.{digits}f}"


def mean_interval(values: Sequence[float], confidence: float = CONFIDENCE) -> Interval:
    """The mean and its Student-t interval (mean ± t_{(1+c)/2, n-1} · sd / sqrt(n)); no interval for n < 2."""
    values = np.asarray(values, dtype=np.float64)
    n = len(values)
    if n == 0:
        return Interval(None, None, None, 0)
    mean = float(values.mean())
    if n < 2:
        return Interval(mean, None, None, n)
    half = t_quantile((1 + confidence) / 2, n - 1) * float(values.std(ddof=1)) / math.sqrt(n)
    return Interval(mean, mean - half, mean + half, n)


def paired_difference(treated: Sequence[float], control: Sequence[float]) -> Interval:
    """Mean of the per-seed differences treated - control, with its t interval (the seeds must be aligned)."""
    if len(treated) != len(control):
        raise ValueError(f"paired_difference: {len(treated)} vs {len(control)} values; pair them by seed first")
    return mean_interval(np.asarray(treated, dtype=np.float64) - np.asarray(control, dtype=np.float64))


def benefit_percent(score: float, random: float, natural: float) -> float | None:
    """100 · (score − random) / (natural − random) (reference §1.3); None when natural <= random (nothing to share)."""
    gap = natural - random
    return None if gap <= 0 else 100.0 * (score - random) / gap


@dataclass(frozen=True)
class Benefit:
    """The % of natural benefit of one row: the point estimate, its paired bootstrap interval, and how many
    resamples had no natural benefit (natural - random <= 0) and were therefore left out."""

    interval: Interval
    resamples: int
    undefined: int


def bootstrap_benefit(
    row: Sequence[float],
    random: Sequence[float],
    natural: Sequence[float],
    *,
    resamples: int = BOOTSTRAP_RESAMPLES,
    seed: int = BOOTSTRAP_SEED,
    confidence: float = CONFIDENCE,
) -> Benefit:
    """% of natural benefit of `row` with a paired percentile-bootstrap interval; the three sequences are aligned
    by seed (element i of each is seed i), and every resample draws the same seed indices for all three."""
    arrays = [np.asarray(x, dtype=np.float64) for x in (row, random, natural)]
    n = len(arrays[0])
    if any(len(a) != n for a in arrays):
        raise ValueError("bootstrap_benefit: row, random and natural must hold the same seeds, in the same order")
    point = benefit_percent(*(float(a.mean()) for a in arrays)) if n else None
    if n < 2:
        return Benefit(Interval(point, None, None, n), 0, 0)
    indices = np.random.default_rng(seed).integers(0, n, size=(resamples, n))
    row_means, random_means, natural_means = (a[indices].mean(axis=1) for a in arrays)
    gap = natural_means - random_means
    defined = gap > 0
    undefined = int(resamples - defined.sum())
    if undefined > resamples * (1 - confidence) / 2:
        # More resamples without a natural benefit than a tail of the interval holds: the ratio is unbounded
        # there, so no interval is honest (the count is reported instead).
        return Benefit(Interval(point, None, None, n), resamples, undefined)
    percent = 100.0 * (row_means[defined] - random_means[defined]) / gap[defined]
    tail = 100.0 * (1 - confidence) / 2
    low, high = np.percentile(percent, [tail, 100.0 - tail])
    return Benefit(Interval(point, float(low), float(high), n), resamples, undefined)
