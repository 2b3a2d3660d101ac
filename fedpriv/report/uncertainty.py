"""How sure the report's numbers are: per-class MA and AA, advantage scores and means over classes, each with a
95% interval built from the trials' per-image outcomes (``images.csv``) or, where a trial has none (sweeps run
before trials wrote it) or too few images for a bootstrap, from the stored rates and ``n``.

- MA, AA of one class: Wilson's interval on the pooled images of every trial (seed) of the setting.
- advantage of one (class, op, magnitude): the bootstrap over images (MA and AA of an image resampled together,
  the defended and the DP images independently) when both arms have per-image outcomes for at least
  :data:`MIN_BOOTSTRAP_IMAGES` images; else, with that many images but no per-image outcomes, the MOVER
  combination of the four Wilson intervals; with fewer images, the conservative simultaneous interval of the four
  Wilson intervals (Bonferroni).
- a mean over classes: the bootstrap stratified by class under the same condition; else MOVER over the classes
  when each has that many images; else Wilson's interval on the images of all classes pooled (conservative: it
  ignores that classes differ).
- a mean over classes of a similarity metric (PSNR, SSIM, LPIPS): the stratified bootstrap over images as above;
  with fewer images, the normal interval on the images pooled; without per-image values, Student's t over the
  trials (the spread of repeated seeds), or no interval for a single trial.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

import numpy as np
from scipy.stats import norm, t

from fedpriv.record import IMAGES_FILE, read_outcomes
from fedpriv.report.intervals import (CONFIDENCE, Estimate, bonferroni, bootstrap_interval, combined_interval,
                                      simultaneous_interval, wilson_estimate)

# Below this many images per sample the bootstrap's resamples are too few distinct sets to trust its interval (at
# one image per class every resample is the image itself: a zero-width interval).
MIN_BOOTSTRAP_IMAGES = 20
SEED = 0

# (trial_id, class_id) -> array (n, 2) of each image's [ma_correct, aa_correct].
ImageOutcomes = dict[tuple[str, str], np.ndarray]


def load_image_outcomes(trials) -> ImageOutcomes:
    """The per-image outcomes of every trial that wrote ``images.csv``."""
    table: dict[tuple[str, str], list] = defaultdict(list)
    for trial in trials:
        path = trial.directory / IMAGES_FILE
        if not path.is_file():
            continue
        for row in read_outcomes(path):
            table[(trial.trial_id, str(row["class_id"]))].append((float(row["ma_correct"]), float(row["aa_correct"])))
    return {key: np.asarray(values, dtype=float) for key, values in table.items()}


def _number(cell) -> float | None:
    try:
        return float(cell) if cell not in (None, "") else None
    except ValueError:
        return None


@dataclass
class ClassOutcome:
    """MA and AA of one class over the rows of one setting (seeds averaged), with their Wilson intervals."""

    ma: Estimate
    aa: Estimate
    images: np.ndarray | None       # pooled (n, 2) per-image outcomes, None when some row's trial has none

    @property
    def n(self) -> int:
        return self.ma.n or 0

    def can_bootstrap(self) -> bool:
        return self.images is not None and len(self.images) >= MIN_BOOTSTRAP_IMAGES

    def large(self) -> bool:
        return self.n >= MIN_BOOTSTRAP_IMAGES


def class_outcome(rows: list[dict[str, str]], images: ImageOutcomes | None = None) -> ClassOutcome | None:
    """One class's outcome from its rows (one per trial); None when no row has both MA and AA."""
    usable = [r for r in rows if _number(r.get("ma")) is not None and _number(r.get("aa")) is not None]
    if not usable:
        return None
    ma = sum(_number(r["ma"]) for r in usable) / len(usable)
    aa = sum(_number(r["aa"]) for r in usable) / len(usable)
    n = sum(int(_number(r.get("n")) or 1) for r in usable)
    keys = [(r.get("trial_id") or "", str(r.get("class_id") or "")) for r in usable]
    pooled = None
    if images is not None and all(k in images for k in keys):
        pooled = np.concatenate([images[k] for k in keys])
    return ClassOutcome(wilson_estimate(ma, n), wilson_estimate(aa, n), pooled)


def class_outcomes(rows: list[dict[str, str]], images: ImageOutcomes | None = None) -> dict[str, ClassOutcome]:
    by_class: dict[str, list] = defaultdict(list)
    for row in rows:
        by_class[row.get("class", "")].append(row)
    out = {name: class_outcome(members, images) for name, members in by_class.items()}
    return {name: outcome for name, outcome in out.items() if outcome is not None}


def _advantage_statistic(resampled: list[np.ndarray]) -> np.ndarray:
    defended, dp = resampled       # (B, n, 2): columns MA, AA
    ma, aa = (defended[..., 0].mean(-1), dp[..., 0].mean(-1)), (dp[..., 1].mean(-1), defended[..., 1].mean(-1))
    return 100.0 * ((ma[0] - ma[1]) + (aa[0] - aa[1]))


def advantage_estimate(defended: ClassOutcome, dp: ClassOutcome, *, seed: int = SEED) -> Estimate:
    """The advantage ``(MA - MA_dp) + (AA_dp - AA)`` in percentage points, with its 95% interval."""
    value = 100.0 * ((defended.ma.value - dp.ma.value) + (dp.aa.value - defended.aa.value))
    n = defended.n + dp.n
    if defended.can_bootstrap() and dp.can_bootstrap():
        boot = bootstrap_interval([defended.images, dp.images], _advantage_statistic, seed=seed)
        return Estimate(value, boot.low, boot.high, n, "bootstrap")
    weights = [100.0, -100.0, 100.0, -100.0]
    if defended.large() and dp.large():
        mover = combined_interval([defended.ma, dp.ma, dp.aa, defended.aa], weights)
        return Estimate(value, mover.low, mover.high, n, "mover")
    level = bonferroni(CONFIDENCE, 4)
    parts = [wilson_estimate(e.value, e.n, confidence=level) for e in (defended.ma, dp.ma, dp.aa, defended.aa)]
    joint = simultaneous_interval(parts, weights)
    return Estimate(value, joint.low, joint.high, n, "bonferroni")


def class_mean(outcomes: list[ClassOutcome], column: str, *, seed: int = SEED) -> Estimate | None:
    """The mean over classes (weighted equally, as the seed papers average) of ``ma`` or ``aa``."""
    if not outcomes:
        return None
    index = {"ma": 0, "aa": 1}[column]
    estimates = [getattr(o, column) for o in outcomes]
    value = sum(e.value for e in estimates) / len(estimates)
    n = sum(e.n or 0 for e in estimates)
    if all(o.can_bootstrap() for o in outcomes):
        statistic = lambda resampled: np.mean([s[..., index].mean(-1) for s in resampled], axis=0)
        boot = bootstrap_interval([o.images for o in outcomes], statistic, seed=seed)
        return Estimate(value, boot.low, boot.high, n, "bootstrap")
    if all(o.large() for o in outcomes):
        mover = combined_interval(estimates, [1.0 / len(estimates)] * len(estimates))
        return Estimate(value, max(0.0, mover.low), min(1.0, mover.high), n, "mover")
    pooled = wilson_estimate(value, n)
    return Estimate(value, pooled.low, pooled.high, n, "wilson")


def interval_note(methods: set[str], *, images_missing: int) -> str:
    """What report.md says about where its intervals come from."""
    parts = ["Intervals are 95% (\"interval\" columns name the method): per-class MA and AA by Wilson's score "
             "interval on the images behind them"]
    if "bootstrap" in methods:
        parts.append(f"bootstrap: advantage scores and means over classes by a seeded bootstrap over images (1,000 "
                     f"resamples) where every sample has per-image outcomes for at least {MIN_BOOTSTRAP_IMAGES} "
                     "images")
    if "mover" in methods:
        parts.append("mover: enough images but no per-image outcomes, the Wilson intervals of the parts combined "
                     "by MOVER")
    if "bonferroni" in methods:
        parts.append(f"bonferroni: advantage scores over fewer than {MIN_BOOTSTRAP_IMAGES} images per arm span the "
                     "four Wilson intervals of their parts, each at 98.75% (conservative)")
    parts.append(f"means over classes with fewer than {MIN_BOOTSTRAP_IMAGES} images per class: Wilson on all their "
                 "images pooled")
    text = "; ".join(parts) + "."
    if images_missing:
        text += (f" {images_missing} trial(s) have no images.csv (run before trials wrote it): their intervals come "
                 "from the stored rates and n (a binomial approximation), not from the images themselves.")
    return text


# Similarity metrics: (trial_id, class_id) -> each image's value of one column of images.csv.
ImageValues = dict[tuple[str, str], np.ndarray]


def load_image_values(trials, column: str) -> ImageValues:
    """Each image's ``column`` (``psnr``, ``ssim``, ``lpips``) from every trial that wrote it to ``images.csv``;
    a (trial, class) with an empty or non-finite cell is left out (its rows fall back to their stored means)."""
    table: dict[tuple[str, str], list] = defaultdict(list)
    for trial in trials:
        path = trial.directory / IMAGES_FILE
        if path.is_file():
            for row in read_outcomes(path):
                table[(trial.trial_id, str(row["class_id"]))].append(_number(row.get(column)))
    return {key: np.asarray(v, dtype=float) for key, v in table.items()
            if all(x is not None for x in v) and np.isfinite(v).all()}


def metric_mean(rows: list[dict[str, str]], column: str, images: ImageValues | None = None, *,
                seed: int = SEED) -> Estimate | float | None:
    """The mean over classes (weighted equally) of a similarity metric, each class the mean of its rows, with a
    95% interval: the bootstrap over images stratified by class when every row's images are known, at least
    :data:`MIN_BOOTSTRAP_IMAGES` per class; with fewer, the normal interval on all those images pooled; without
    per-image values, Student's t over the trials (each trial's mean over its classes), the spread of repeated
    seeds. A plain float when no interval can be made (one trial without images.csv, an infinite PSNR of an
    exact reconstruction); None when no row has the column."""
    by_class: dict[str, list] = defaultdict(list)
    by_trial: dict[str, list] = defaultdict(list)
    for row in rows:
        value = _number(row.get(column))
        if value is not None:
            key = (row.get("trial_id") or "", str(row.get("class_id") or ""))
            by_class[row.get("class", "")].append((value, key))
            by_trial[key[0]].append(value)
    if not by_class:
        return None
    value = float(np.mean([np.mean([v for v, _ in members]) for members in by_class.values()]))
    if not np.isfinite(value):
        return value
    keys = [[key for _, key in members] for members in by_class.values()]
    if images is not None and all(key in images for group in keys for key in group):
        pooled = [np.concatenate([images[key] for key in group]) for group in keys]
        n = sum(len(p) for p in pooled)
        if all(len(p) >= MIN_BOOTSTRAP_IMAGES for p in pooled):
            statistic = lambda resampled: np.mean([s.mean(-1) for s in resampled], axis=0)
            boot = bootstrap_interval(pooled, statistic, seed=seed)
            return Estimate(value, boot.low, boot.high, n, "bootstrap")
        return _spread(value, np.concatenate(pooled), "normal")
    return _spread(value, np.asarray([np.mean(values) for values in by_trial.values()]), "t")


def _spread(value: float, observations: np.ndarray, method: str) -> Estimate | float:
    n = len(observations)
    if n < 2:
        return value
    z = float(norm.ppf(0.5 + CONFIDENCE / 2)) if method == "normal" else float(t.ppf(0.5 + CONFIDENCE / 2, n - 1))
    half = z * float(observations.std(ddof=1)) / np.sqrt(n)
    return Estimate(value, value - half, value + half, n, method)
