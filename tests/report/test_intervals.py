"""The interval maths of the report, against published values and the behaviour a reader relies on."""

from __future__ import annotations

import numpy as np
import pytest

from fedpriv.report.intervals import (BootstrapInterval, Estimate, RateInterval, bonferroni, bootstrap_interval,
                                      combined_interval, simultaneous_interval, wilson_estimate, wilson_interval)


def test_wilson_interval_matches_known_values():
    assert wilson_interval(0, 1) == pytest.approx((0.0, 0.7935), abs=1e-4)      # one image, missed
    assert wilson_interval(1, 1) == pytest.approx((0.2065, 1.0), abs=1e-4)
    assert wilson_interval(5, 10) == pytest.approx((0.2366, 0.7634), abs=1e-4)
    assert wilson_interval(56, 70) == pytest.approx((0.6918, 0.8770), abs=1e-4)  # Newcombe (1998), Table II
    assert wilson_interval(0, 0) == (0.0, 1.0)
    assert wilson_interval(5, 10, confidence=0.99)[0] < wilson_interval(5, 10)[0]
    with pytest.raises(ValueError, match="successes"):
        wilson_interval(3, 2)


def test_mover_difference_matches_newcombes_hybrid_score_interval():
    # Newcombe (1998), method 10: 56/70 - 48/80 = 0.2, 95% interval (0.0524, 0.3339).
    difference = combined_interval([wilson_estimate(56 / 70, 70), wilson_estimate(48 / 80, 80)], [1.0, -1.0])
    assert difference.value == pytest.approx(0.2)
    assert (difference.low, difference.high) == pytest.approx((0.0524, 0.3339), abs=1e-4)


def test_simultaneous_interval_spans_the_bounds_of_its_parts():
    assert bonferroni(0.95, 4) == pytest.approx(0.9875)
    parts = [Estimate(1.0, 0.2, 1.0), Estimate(0.0, 0.0, 0.8)]
    difference = simultaneous_interval(parts, [100.0, -100.0])
    assert (difference.value, difference.low, difference.high) == pytest.approx((100.0, -60.0, 100.0))
    assert difference.method == "bonferroni"


def test_bootstrap_covers_the_estimate_and_shrinks_with_more_images():
    rng = np.random.default_rng(1)
    widths = []
    for n in (20, 200, 2000):
        sample = (rng.random(n) < 0.3).astype(float)
        interval = bootstrap_interval([sample], lambda s: s[0].mean(-1), seed=0)
        assert interval.contains(sample.mean()) and interval.value == pytest.approx(sample.mean())
        assert interval.n == n and interval.method == "bootstrap"
        widths.append(interval.high - interval.low)
    assert widths[0] > 2 * widths[1] > 4 * widths[2]
    # Near Wilson's interval at n = 2000, where both are accurate.
    low, high = wilson_interval(sample.sum(), 2000)
    assert widths[2] == pytest.approx(high - low, rel=0.15)


def test_bootstrap_is_seeded_and_keeps_the_columns_of_an_observation_together():
    pairs = np.array([[1.0, 1.0]] * 30 + [[0.0, 0.0]] * 30)     # MA and AA always equal on each image
    difference = lambda s: s[0][..., 0].mean(-1) - s[0][..., 1].mean(-1)
    one = bootstrap_interval([pairs], difference, seed=3)
    assert (one.low, one.high) == (0.0, 0.0)                     # resampled together: the difference never moves
    spread = bootstrap_interval([pairs[:, :1], pairs[:, 1:]], lambda s: s[0][..., 0].mean(-1) - s[1][..., 0].mean(-1),
                                seed=3)
    assert spread.low < -0.1 and spread.high > 0.1               # resampled apart: it does
    assert bootstrap_interval([pairs], difference, seed=3) == one


def test_classes_accumulate_like_their_functional_twins():
    rate = RateInterval()
    rate.update([1, 0, 1])
    rate.update(np.array([0, 1, 0, 1, 0, 0, 1]))
    assert rate.compute() == Estimate(0.5, *wilson_interval(5, 10), 10, "wilson")
    boot = BootstrapInterval(lambda s: s[0].mean(-1), samples=1, seed=7)
    boot.update(0, [1, 0, 1, 1])
    boot.update(0, [0, 0, 1, 0])
    assert boot.compute() == bootstrap_interval([np.array([1, 0, 1, 1, 0, 0, 1, 0.0])], lambda s: s[0].mean(-1), seed=7)


def test_estimate_overlap_and_scaling():
    a, b, c = Estimate(0.5, 0.4, 0.6), Estimate(0.65, 0.55, 0.75), Estimate(0.8, 0.7, 0.9)
    assert a.overlaps(b) and b.overlaps(c) and not a.overlaps(c)
    assert a.scaled(100.0) == Estimate(50.0, 40.0, 60.0)
    assert Estimate(-5.0, -12.0, 3.0).contains(0.0) and not a.contains(0.0)
