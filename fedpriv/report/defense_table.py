"""Utility and leakage per defense setting: one table for every defense the results hold, whatever its name.

A row per :class:`~fedpriv.report.settings.DefenseSetting` (a defense at one value of each of its describing
columns, seeds pooled), with a column per describing column of any defense, then MA (utility), AA, PSNR, SSIM and
LPIPS as means over classes with their 95% intervals, and the worst cases an attacker gets: the class the
evaluator recognises most often in the reconstructions, the highest PSNR and the lowest LPIPS of any single image.
"""

from __future__ import annotations

from typing import Callable

from fedpriv.report.cells import number
from fedpriv.report.intervals import Estimate
from fedpriv.report.settings import DefenseSetting, describing_columns
from fedpriv.report.tables import Table
from fedpriv.report.uncertainty import ImageOutcomes, ImageValues, class_mean, class_outcomes, metric_mean

NAME = "defense_settings"
SIMILARITY = (("psnr", "PSNR"), ("ssim", "SSIM"), ("lpips", "LPIPS"))
# PSNR against the defended input is shown where that input is not the original (a data-side defense); an
# update-side defense shares the original, and the two PSNRs agree to the stored digits.
SAME_INPUT_DB = 0.01


def _percent(value: Estimate | None) -> Estimate | None:
    return value.scaled(100.0) if value is not None else None


def _worst(rows: list[dict[str, str]], column: str, per_image: str, pick: Callable,
           images: dict[str, ImageValues]) -> float | None:
    """``pick`` (max or min) over the rows' ``column`` (each a class's worst image); a row written before rows held
    it falls back to its images in images.csv, and to nothing without them."""
    values = []
    for row in rows:
        value = number(row.get(column))
        if value is None:
            found = images.get(per_image, {}).get((row.get("trial_id") or "", str(row.get("class_id") or "")))
            value = float(pick(found)) if found is not None and len(found) else None
        if value is not None:
            values.append(value)
    return pick(values) if values else None


def _value(cell: Estimate | float | None) -> float | None:
    return cell.value if isinstance(cell, Estimate) else cell


def _row(setting: DefenseSetting, columns: list[str], outcomes: ImageOutcomes | None,
         images: dict[str, ImageValues]) -> dict[str, object]:
    by_class = list(class_outcomes(setting.rows, outcomes).values())
    cells: dict[str, object] = {"defense": setting.defense, **{c: setting.values.get(c) for c in columns},
                                "trials": setting.trials, "images": sum(o.n for o in by_class) or None,
                                "MA": _percent(class_mean(by_class, "ma")), "AA": _percent(class_mean(by_class, "aa"))}
    for column, label in SIMILARITY:
        cells[label] = metric_mean(setting.rows, column, images.get(column))
    defended = metric_mean(setting.rows, "psnr_defended")
    psnr = _value(cells["PSNR"])
    if defended is not None and psnr is not None and abs(_value(defended) - psnr) > SAME_INPUT_DB:
        cells["PSNR defended"] = _value(defended)
    cells["AA worst class"] = max((100.0 * o.aa.value for o in by_class), default=None)
    cells["PSNR max"] = _worst(setting.rows, "psnr_max", "psnr", max, images)
    cells["LPIPS min"] = _worst(setting.rows, "lpips_min", "lpips", min, images)
    epsilon = [number(r.get("epsilon")) for r in setting.rows]
    cells["epsilon"] = max((e for e in epsilon if e is not None), default=None)
    return cells


ALWAYS = ("defense", "trials", "images", "MA", "AA")
MEASURED = ("MA", "AA", "PSNR", "SSIM", "LPIPS", "PSNR defended", "AA worst class", "PSNR max", "LPIPS min",
            "epsilon")


def defense_table(settings: list[DefenseSetting], outcomes: ImageOutcomes | None = None,
                  images: dict[str, ImageValues] | None = None) -> Table:
    """The table of every setting; a column no setting fills (LPIPS without a backbone, epsilon without DP) is
    left out. ``outcomes``: per-image MA/AA; ``images``: per-image values per similarity column."""
    described = describing_columns([row for s in settings for row in s.rows])
    columns = list(dict.fromkeys(c for found in described.values() for c in found))
    built = [_row(s, columns, outcomes, images or {}) for s in settings]
    order = ["defense", *columns, "trials", "images", *MEASURED]
    shown = [c for c in order if c in ALWAYS or any(r.get(c) is not None for r in built)]
    table = Table(NAME, "Utility and leakage per defense setting", shown,
                  note="One row per defense and value of each column describing it (seeds and repeated trials "
                       "pooled). MA (utility: the defended classifier on the shared inputs) and AA (the evaluator "
                       "on the reconstructions) in percent; PSNR (dB), SSIM and LPIPS of the reconstructions "
                       "against the originals; each a mean over classes with its 95% interval [low, high]. PSNR "
                       "defended: against the input the client shared, shown where that was not the original. "
                       "Worst cases: the class with the highest AA, and the single image with the highest PSNR "
                       "and the lowest LPIPS. epsilon: the largest DP budget spent. images counts the images.")
    table.rows = [[r.get(c) for c in shown] for r in built]
    return table
