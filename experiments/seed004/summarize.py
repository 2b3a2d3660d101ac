"""Per-setting tables of the seed 004 sweeps with 95% intervals over images, for README.md.

    python experiments/seed004/summarize.py multirun/seed004_split_small-* multirun/seed004_dlg_small-*

Each trial folder holds results.csv (one row per class) and images.csv (one row per attacked image); a setting is
a trial's overrides minus the ones every trial of its sweep shares. Means over images with a normal 95% interval
(1.96 standard errors); AA and success as percentages with Wilson intervals.
"""

from __future__ import annotations

import csv
import math
import sys
from pathlib import Path


def _rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def _number(text):
    try:
        value = float(text)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _mean_ci(values: list[float]) -> str:
    values = [v for v in values if v is not None]
    if not values:
        return "–"
    n, mean = len(values), sum(values) / len(values)
    if n == 1:
        return f"{mean:.3g}"
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    half = 1.96 * sd / math.sqrt(n)
    return f"{mean:.3g} ± {half:.2g}"


def _wilson(hits: int, n: int) -> str:
    if n == 0:
        return "–"
    p, z = hits / n, 1.96
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return f"{100 * p:.0f} [{100 * max(0, centre - half):.0f}, {100 * min(1, centre + half):.0f}]"


def _setting(row: dict[str, str], shared: set[str]) -> str:
    parts = [o for o in row.get("overrides", "").split() if o not in shared and not o.startswith(("experiment=",
             "progress=", "dataset.root=", "attack.prior_root="))]
    return " ".join(parts) or "base"


def summarize(sweep: Path) -> None:
    trials = [t for t in sorted(sweep.iterdir()) if (t / "results.csv").exists()]
    if not trials:
        print(f"{sweep}: no finished trial")
        return
    results = {t: _rows(t / "results.csv") for t in trials}
    overrides = [set(r[0].get("overrides", "").split()) for r in results.values()]
    shared = set.intersection(*overrides) if len(overrides) > 1 else set()
    print(f"### {sweep.name}: {len(trials)} trials\n")
    print("| setting | n | victim acc % | MA % | AA % [95% CI] | MSE (0-255) | PSNR (dB) | SSIM | LPIPS | floor PSNR | converged % | "
          "median iter | median final loss | s / image |")
    print("|---|---|---|---|---|---|---|---|---|---|---|---|---|---|")
    lines = []
    for trial in trials:
        rows, images = results[trial], _rows(trial / "images.csv")
        n = len(images)
        ma = sum(float(r["ma"]) * int(r["n"]) for r in rows) / max(1, sum(int(r["n"]) for r in rows))
        aa = sum(i["aa_correct"] in ("1", "True", "true") for i in images)
        mse = [(_number(i["mse"]) or 0) * 255 ** 2 for i in images]
        psnr = [_number(i["psnr"]) for i in images]
        ssim = [_number(i["ssim"]) for i in images]
        lpips = [_number(i.get("lpips")) for i in images]
        victim = _number(rows[0].get("victim_acc"))
        victim = "–" if victim is None else f"{100 * victim:.0f}"
        floor = sum(_number(r.get("psnr_init")) * int(r["n"]) for r in rows) / max(1, n)
        converged = [_number(r.get("converged")) for r in rows]
        conv = "–" if None in converged else f"{100 * sum(c * int(r['n']) for c, r in zip(converged, rows)) / n:.0f}"
        iters = sorted(v for v in (_number(r.get("converged_iter")) for r in rows) if v is not None)
        losses = sorted(v for v in (_number(r.get("matching_loss")) for r in rows) if v is not None)
        seconds = sum(_number(r["attack_seconds"]) * int(r["n"]) for r in rows) / n
        lines.append((_setting(rows[0], shared), f"| {_setting(rows[0], shared)} | {n} | {victim} | {100 * ma:.0f} | "
                      f"{_wilson(aa, n)} | {_mean_ci(mse)} | {_mean_ci(psnr)} | {_mean_ci(ssim)} | {_mean_ci(lpips)} | "
                      f"{floor:.3g} | {conv} | {iters[len(iters) // 2] if iters else 'N/A'} | "
                      f"{losses[len(losses) // 2]:.3g} | {seconds:.3g} |" if losses else
                      f"| {_setting(rows[0], shared)} | {n} | {victim} | {100 * ma:.0f} | {_wilson(aa, n)} | {_mean_ci(mse)} | "
                      f"{_mean_ci(psnr)} | {_mean_ci(ssim)} | {_mean_ci(lpips)} | {floor:.3g} | – | – | – | "
                      f"{seconds:.3g} |"))
    for _, line in sorted(lines):
        print(line)
    print()


if __name__ == "__main__":
    for folder in sys.argv[1:]:
        summarize(Path(folder))
