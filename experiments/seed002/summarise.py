"""Seed 002 baselines: PSNR/SSIM per attack and defense (mean over the attacked images, 95% t-interval) beside the
utility classifier's test accuracy (Wilson 95% interval), as a Markdown table for the README.

    python experiments/seed002/summarise.py multirun/seed002_baselines_small-* multirun/seed002_imprint_small-*
"""

from __future__ import annotations

import csv
import math
import sys
from pathlib import Path

from scipy import stats


def mean_interval(values: list[float]) -> str:
    n = len(values)
    mean = sum(values) / n
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1)) if n > 1 else 0.0
    half = stats.t.ppf(0.975, n - 1) * sd / math.sqrt(n) if n > 1 else float("nan")
    return f"{mean:.2f} [{mean - half:.2f}, {mean + half:.2f}]"


def wilson(p: float, n: int) -> str:
    z = 1.96
    centre = (p + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return f"{100 * p:.1f} [{100 * (centre - half):.1f}, {100 * (centre + half):.1f}]"


def main(folders: list[str]) -> None:
    print("| attack | defense | images | PSNR | PSNR - none (paired) | SSIM | test accuracy % |")
    print("|---|---|---:|---:|---:|---:|---:|")
    table = []
    for results in sorted(p for folder in folders for p in Path(folder).glob("trial-*/results.csv")):
        rows = list(csv.DictReader(results.open()))
        images = list(csv.DictReader((results.parent / "images.csv").open()))
        first = rows[0]
        setting = " ".join(o for o in first["overrides"].split() if o.startswith(("attack=", "defense=")))
        psnr = mean_interval([float(r["psnr"]) for r in images])
        ssim = mean_interval([float(r["ssim"]) for r in images])
        accuracy = wilson(float(first["classifier_acc"]), 1000)   # dataset.test_per_class=100: 1,000 test images
        attack = next((o.split("=")[1] for o in setting.split() if o.startswith("attack=")), first["attack"])
        defense = next((o.split("=")[1] for o in setting.split() if o.startswith("defense=")), first["defense"])
        per_image = {(r["class_id"], r["image_index"]): float(r["psnr"]) for r in images}
        table.append((attack, defense, len(images), psnr, ssim, accuracy, per_image))
    # The trials of one attack reconstruct the same images, so differences to no defense are paired per image.
    undefended = {row[0]: row[6] for row in table if row[1] == "none"}
    order = ["none", "seed002_prune", "seed002_prune_imprint", "gaussian", "laplacian", "seed002_soteria_5",
             "seed002_soteria_1"]
    table.sort(key=lambda row: (row[0] == "imprint", row[0], order.index(row[1]) if row[1] in order else 99))
    for attack, defense, n, psnr, ssim, accuracy, per_image in table:
        base = undefended.get(attack, {})
        paired = [v - base[k] for k, v in per_image.items() if k in base]
        delta = mean_interval(paired) if paired and defense != "none" else ""
        print(f"| {attack} | {defense} | {n} | {psnr} | {delta} | {ssim} | {accuracy} |")


if __name__ == "__main__":
    main(sys.argv[1:])
