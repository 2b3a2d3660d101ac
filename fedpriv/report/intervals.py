"""Confidence intervals for the report's numbers, as torchmetrics pairs them: functions that compute an interval
from what they are given, and small accumulating classes (``update`` / ``compute``) over the same functions.

- :func:`wilson_interval`: a rate of ``k`` successes in ``n`` trials (MA or AA of one class). Wilson's score
  interval stays inside [0, 1] and is honest at the extremes that one image per class produces (0/1 gives
  [0, 0.79], not the zero-width [0, 0] of the normal approximation).
- :func:`combined_interval`: a weighted sum of independent estimates, each with its own interval (the advantage
  score ``(MA - MA_dp) + (AA_dp - AA)``, a mean over classes), by the MOVER method (Zou & Donner 2008;
  Newcombe's hybrid score interval for a difference of two proportions is its two-term case).
- :func:`simultaneous_interval`: the same weighted sum by interval arithmetic on intervals that hold together
  (each part at ``1 - (1 - confidence) / parts``, Bonferroni): conservative, for parts too small for MOVER (at
  one image per arm MOVER's four one-image intervals would exclude 0 from a score of 200 that one chance draw
  in 16 produces).
- :func:`bootstrap_interval`: the percentile bootstrap of any statistic of one or more independent samples
  (images), each resampled with replacement along its first axis, seeded.

Every interval is two-sided at ``confidence`` (0.95 by default). :class:`Estimate` carries a point estimate with
its interval, the number of observations and the method, and says whether it contains a value or overlaps another.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
from scipy.stats import norm

CONFIDENCE = 0.95
RESAMPLES = 1000


@dataclass(frozen=True)
class Estimate:
    """A point estimate with its two-sided interval; ``n`` observations behind it, ``method`` how it was made."""

    value: float
    low: float
    high: float
    n: int | None = None
    method: str = ""

    def contains(self, x: float) -> bool:
        return self.low <= x <= self.high

    def overlaps(self, other: "Estimate") -> bool:
        return self.low <= other.high and other.low <= self.high

    def scaled(self, factor: float) -> "Estimate":
        """The same estimate in other units (fractions to percent: ``scaled(100)``)."""
        low, high = sorted((self.low * factor, self.high * factor))
        return Estimate(self.value * factor, low, high, self.n, self.method)


def _z(confidence: float) -> float:
    if not 0 < confidence < 1:
        raise ValueError(f"confidence={confidence} must lie strictly between 0 and 1")
    return float(norm.ppf(0.5 + confidence / 2))


def wilson_interval(successes: float, n: int, *, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Wilson's score interval for a binomial rate ``successes / n``.

    Args:
        successes: k, in [0, n] (a rate times n, rounded by the caller when it comes from a stored rate).
        n: trials; n = 0 gives the vacuous interval [0, 1].
        confidence: two-sided coverage.

    Returns:
        (low, high) in [0, 1]: ``(p + z²/2n ± z sqrt(p(1-p)/n + z²/4n²)) / (1 + z²/n)`` with ``p = k/n``.
    """
    if n < 0 or not 0 <= successes <= max(n, 0):
        raise ValueError(f"successes={successes} must lie in [0, n={n}]")
    if n == 0:
        return 0.0, 1.0
    z, p = _z(confidence), successes / n
    centre = p + z * z / (2 * n)
    spread = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    scale = 1 + z * z / n
    return max(0.0, (centre - spread) / scale), min(1.0, (centre + spread) / scale)


def wilson_estimate(rate: float, n: int, *, confidence: float = CONFIDENCE) -> Estimate:
    """A rate stored as a fraction of ``n`` with its Wilson interval (successes recovered as ``round(rate n)``)."""
    low, high = wilson_interval(min(max(round(rate * n), 0), n), n, confidence=confidence)
    return Estimate(rate, low, high, n, "wilson")


def combined_interval(estimates: Sequence[Estimate], weights: Sequence[float]) -> Estimate:
    """``sum(w_i * theta_i)`` of independent estimates, with the MOVER interval built from their intervals.

    Each term's distance to its own lower (upper) bound is what it can contribute downwards (upwards); a negative
    weight swaps the two sides. The bounds are the point minus (plus) the root sum of squares of those distances.
    """
    if len(estimates) != len(weights) or not estimates:
        raise ValueError("combined_interval needs one weight per estimate, and at least one estimate")
    value = sum(w * e.value for e, w in zip(estimates, weights))
    down = [w * (e.value - e.low) if w >= 0 else -w * (e.high - e.value) for e, w in zip(estimates, weights)]
    up = [w * (e.high - e.value) if w >= 0 else -w * (e.value - e.low) for e, w in zip(estimates, weights)]
    ns = [e.n for e in estimates]
    n = sum(ns) if all(x is not None for x in ns) else None
    return Estimate(value, value - math.sqrt(sum(d * d for d in down)), value + math.sqrt(sum(u * u for u in up)),
                    n, "mover")


def bonferroni(confidence: float, parts: int) -> float:
    """The confidence each of ``parts`` intervals needs for all of them to hold together at ``confidence``."""
    return 1 - (1 - confidence) / parts


def simultaneous_interval(estimates: Sequence[Estimate], weights: Sequence[float]) -> Estimate:
    """``sum(w_i * theta_i)`` with the interval spanned by its parts' intervals (each built at
    :func:`bonferroni` confidence by the caller): the lowest and highest sums the parts' bounds allow."""
    if len(estimates) != len(weights) or not estimates:
        raise ValueError("simultaneous_interval needs one weight per estimate, and at least one estimate")
    value = sum(w * e.value for e, w in zip(estimates, weights))
    low = sum(w * (e.low if w >= 0 else e.high) for e, w in zip(estimates, weights))
    high = sum(w * (e.high if w >= 0 else e.low) for e, w in zip(estimates, weights))
    ns = [e.n for e in estimates]
    return Estimate(value, low, high, sum(ns) if all(x is not None for x in ns) else None, "bonferroni")


def bootstrap_interval(samples: Sequence[np.ndarray], statistic: Callable[[list[np.ndarray]], np.ndarray], *,
                       resamples: int = RESAMPLES, confidence: float = CONFIDENCE, seed: int = 0) -> Estimate:
    """Percentile bootstrap of ``statistic`` over independent samples.

    Args:
        samples: arrays of shape ``(n_i, ...)``; each is resampled with replacement along its first axis, on its
            own (e.g. the images of one arm and class; the columns of one image, its MA and AA, stay together).
        statistic: maps the list of resampled arrays, each of shape ``(B, n_i, ...)``, to ``B`` values.
        resamples: B.
        confidence: two-sided coverage of the percentile interval.
        seed: seeds the resampling (``numpy.random.default_rng``), so a report is the same when rerun.

    Returns:
        An :class:`Estimate` whose value is the statistic on the samples themselves. (Written on numpy rather
        than ``scipy.stats.bootstrap``, which resamples each sample along its own axis only and so cannot keep an
        image's columns together across several independent samples.)
    """
    if not samples or any(len(s) == 0 for s in samples):
        raise ValueError("bootstrap_interval needs at least one observation in every sample")
    rng = np.random.default_rng(seed)
    point = float(np.asarray(statistic([np.asarray(s)[None] for s in samples])).reshape(-1)[0])
    drawn = [np.asarray(s)[rng.integers(0, len(s), size=(resamples, len(s)))] for s in samples]
    values = np.asarray(statistic(drawn), dtype=float).reshape(-1)
    tail = 100 * (1 - confidence) / 2
    low, high = np.percentile(values, [tail, 100 - tail])
    return Estimate(point, float(low), float(high), sum(len(s) for s in samples), "bootstrap")


class RateInterval:
    """Accumulates 0/1 outcomes (``update``) and returns their rate with its Wilson interval (``compute``)."""

    def __init__(self, *, confidence: float = CONFIDENCE):
        self.confidence = confidence
        self.successes = 0
        self.n = 0

    def update(self, outcomes) -> None:
        outcomes = np.asarray(outcomes, dtype=float).reshape(-1)
        self.successes += int(outcomes.sum())
        self.n += len(outcomes)

    def compute(self) -> Estimate:
        low, high = wilson_interval(self.successes, self.n, confidence=self.confidence)
        rate = self.successes / self.n if self.n else float("nan")
        return Estimate(rate, low, high, self.n, "wilson")


class BootstrapInterval:
    """Accumulates the observations of each sample (``update(i, rows)``) and bootstraps ``statistic`` over them."""

    def __init__(self, statistic: Callable[[list[np.ndarray]], np.ndarray], *, samples: int,
                 resamples: int = RESAMPLES, confidence: float = CONFIDENCE, seed: int = 0):
        self.statistic = statistic
        self.observations: list[list[np.ndarray]] = [[] for _ in range(samples)]
        self.options = {"resamples": resamples, "confidence": confidence, "seed": seed}

    def update(self, sample: int, rows) -> None:
        self.observations[sample].append(np.atleast_1d(np.asarray(rows, dtype=float)))

    def compute(self) -> Estimate:
        return bootstrap_interval([np.concatenate(o) for o in self.observations], self.statistic, **self.options)
