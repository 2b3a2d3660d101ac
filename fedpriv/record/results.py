"""The results contract: one row per (trial, class) in ``results.csv``, written atomically."""

from __future__ import annotations

import csv
import io
import math
import os
from pathlib import Path
from typing import Any, Iterable

from fedpriv.utils.io import atomic_write_text

# Columns every trial writes, in this order (DESIGN.md's contract first, then the extras fedpriv adds).
COLUMNS = [
    "dataset", "model", "fl", "defense", "op", "magnitude", "attack", "seed", "class", "n", "ma", "aa",
    "psnr", "ssim", "lpips", "mse", "epsilon", "overrides",
    "trial_id", "class_id", "label_acc", "psnr_defended", "ssim_defended", "psnr_init", "attack_seconds",
    "batch_size", "iterations", "victim_trained", "victim_acc", "noise_multiplier", "max_grad_norm", "noisy_update",
    "classifier_acc", "evaluator_acc", "psnr_max", "lpips_min", "defense_columns",
]


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        if math.isnan(value):
            return ""
        return repr(round(value, 6)) if math.isfinite(value) else ("inf" if value > 0 else "-inf")
    return str(value)


def format_rows(rows: Iterable[dict[str, Any]]) -> str:
    rows = list(rows)
    extra = sorted({k for r in rows for k in r} - set(COLUMNS))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS + extra, lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: _cell(row.get(k)) for k in COLUMNS + extra})
    return out.getvalue()


def write_results(path: str | os.PathLike, rows: Iterable[dict[str, Any]]) -> Path:
    """Write ``rows`` to ``path`` in one atomic step: readers see the old file or the whole new one."""
    atomic_write_text(path, format_rows(rows))
    return Path(path)


def read_results(path: str | os.PathLike) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def objective_of(path: str | os.PathLike, objective: str, *, baseline: str | None = None) -> float:
    """A finished trial's objective, computed from its results file (mean over classes), the same way when it
    has just run and when a relaunched sweep finds it finished. ``baseline``: see ``objective=advantage``
    (:mod:`fedpriv.sweeping.advantage`)."""
    rows = read_results(path)
    if objective == "advantage":
        from fedpriv.sweeping.advantage import advantage_objective, load_baseline

        return advantage_objective(rows, load_baseline(baseline))

    return summary_of(rows).get(objective, float("nan"))


SUMMARY_KEYS = ("ma", "aa", "psnr", "ssim", "lpips", "mse", "label_acc")


def summary_of(rows: Iterable[dict[str, Any]]) -> dict[str, float]:
    """Means over classes, weighted equally (as the seed papers average per-class accuracies), of the rows as a
    trial makes them or as read back from its results file; ``ma_minus_aa`` when both are there."""
    rows = list(rows)
    summary = {}
    for key in SUMMARY_KEYS:
        values = [float(r[key]) for r in rows if r.get(key) not in (None, "")]
        values = [v for v in values if math.isfinite(v)]
        if values:
            summary[key] = sum(values) / len(values)
    if "ma" in summary and "aa" in summary:
        summary["ma_minus_aa"] = summary["ma"] - summary["aa"]
    return summary
