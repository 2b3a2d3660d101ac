"""Leakage per swept knob: seed 004's tables of the generative decoder (image MSE on 0-255 pixels, PSNR, SSIM) and
the PSNR beside DLG's convergence, one row per combination of the command-line overrides that differ between trials.

Image-weighted means over the rows of a setting (seeds and classes pooled); ``floor PSNR`` is the attack's starting point or its guess
without the observation (``psnr_init``: the decoder's prior mean image, DLG's random start), which the knob's effect
must be read against.
"""

from __future__ import annotations

import math

from fedpriv.report.cells import number
from fedpriv.report.convergence_table import _overrides, swept_knobs
from fedpriv.report.tables import Table

NAME = "leakage_per_knob"
COLUMNS = (("victim_acc", "victim acc %", 100), ("ma", "MA %", 100), ("aa", "AA %", 100), ("mse255", "MSE (0-255)", 1), ("psnr", "PSNR", 1),
           ("ssim", "SSIM", 1), ("lpips", "LPIPS", 1), ("psnr_init", "floor PSNR", 1))


def _applies(row: dict[str, str]) -> bool:
    """Knob sweeps of seed 004: split learning's attacks, and gradient matching that records convergence."""
    return row.get("fl") == "split" or number(row.get("converged")) is not None


def _mean(rows: list[dict[str, str]], column: str) -> float | None:
    pairs = [(number(r.get(column)), number(r.get("n")) or 1.0) for r in rows]
    pairs = [(v, n) for v, n in pairs if v is not None and math.isfinite(v)]
    total = sum(n for _, n in pairs)
    return sum(v * n for v, n in pairs) / total if total else None


def knob_leakage_table(rows: list[dict[str, str]]) -> Table | None:
    """A row per setting of the swept knobs; None when no row is of a seed 004 knob sweep."""
    rows = [r for r in rows if _applies(r)]
    knobs = swept_knobs(rows)
    if not rows or not knobs:
        return None
    groups: dict[tuple, list[dict[str, str]]] = {}
    for row in rows:
        values = _overrides(row)
        groups.setdefault(tuple(values.get(k, "") for k in knobs), []).append(row)
    table = Table(NAME, "Leakage per setting of the swept knobs",
                  [*knobs, "attack", "trials", "images", *(title for _, title, _ in COLUMNS)],
                  note="Image-weighted means over the setting's classes. MSE on the 0-255 pixel scale (seed 004's); "
                       "floor PSNR: the attack's start or its guess without the observation.")
    for key in sorted(groups):
        group = groups[key]
        means = [_mean(group, column) for column, _, _ in COLUMNS]
        table.rows.append([
            *key, " ".join(sorted({r.get("attack", "") for r in group})), len({r.get("trial_id") for r in group}),
            int(sum(number(r.get("n")) or 0 for r in group)),
            *(None if m is None else m * scale for m, (_, _, scale) in zip(means, COLUMNS)),
        ])
    return table
