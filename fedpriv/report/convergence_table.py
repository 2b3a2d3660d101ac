"""DLG-style convergence per swept knob: how often gradient matching converged and succeeded, and how fast.

Seed 004 reports, per model choice (depth, conv and FC width, activation, pooling, batch size, clients), the
iterations until the matching loss reaches ~0 ("N/A" when it never does), the final matching loss, the wall time
and the fraction of images recovered. Rows of ``results.csv`` from optimisation attacks carry these per class
(:func:`fedpriv.attacks.convergence.convergence_columns`); here they are grouped by the command-line overrides that
differ between trials (the swept knobs), seeds and classes pooled.
"""

from __future__ import annotations

import statistics

from fedpriv.report.cells import number
from fedpriv.report.tables import Table

NAME = "convergence"
POOLED = {"seed"}  # repeated draws of one setting, not a knob


def _overrides(row: dict[str, str]) -> dict[str, str]:
    pairs = (item.split("=", 1) for item in (row.get("overrides") or "").split() if "=" in item)
    return {key.lstrip("+~"): value for key, value in pairs}


def swept_knobs(rows: list[dict[str, str]]) -> list[str]:
    """Override keys whose values differ between rows (a key missing from a row counts as its default)."""
    parsed = [_overrides(r) for r in rows]
    keys = sorted({k for p in parsed for k in p} - POOLED)
    return [k for k in keys if len({p.get(k) for p in parsed}) > 1]


def _median(values: list[float]) -> float | None:
    return statistics.median(values) if values else None


def _weighted(rows: list[dict[str, str]], column: str) -> float | None:
    """The image-weighted mean of a per-class fraction (``n`` images behind each row)."""
    pairs = [(number(r.get(column)), number(r.get("n")) or 1.0) for r in rows]
    pairs = [(v, n) for v, n in pairs if v is not None]
    total = sum(n for _, n in pairs)
    return sum(v * n for v, n in pairs) / total if total else None


def convergence_table(rows: list[dict[str, str]]) -> Table | None:
    """A row per combination of the swept knobs' values; None when no row has convergence columns.

    Success and convergence rates are fractions of images (in percent); the iterations to converge are the median
    over the classes that converged (each row's own median), empty ("N/A") when none did; the final matching loss
    and the seconds per image are medians over rows."""
    rows = [r for r in rows if number(r.get("converged")) is not None]
    if not rows:
        return None
    knobs = swept_knobs(rows)
    groups: dict[tuple, list[dict[str, str]]] = {}
    for row in rows:
        values = _overrides(row)
        groups.setdefault(tuple(values.get(k, "") for k in knobs), []).append(row)
    table = Table(NAME, "Gradient-matching convergence per setting",
                  [*knobs, "trials", "images", "success %", "converged %", "median iterations to converge",
                   "median final matching loss", "median seconds per image"],
                  note="Success: converged (matching loss below attack.converged_below) with PSNR above "
                       "attack.success_psnr. Empty iterations: never converged.")
    for key in sorted(groups, key=lambda k: tuple((number(v) is None, number(v) or 0, v) for v in k)):
        group = groups[key]
        success, converged = _weighted(group, "success"), _weighted(group, "converged")
        table.rows.append([
            *key, len({r.get("trial_id") for r in group}), int(sum(number(r.get("n")) or 0 for r in group)),
            None if success is None else 100 * success, None if converged is None else 100 * converged,
            _median([v for v in (number(r.get("converged_iter")) for r in group) if v is not None]),
            _median([v for v in (number(r.get("matching_loss")) for r in group) if v is not None]),
            _median([v for v in (number(r.get("attack_seconds")) for r in group) if v is not None]),
        ])
    return table
