"""Seed 002 with concealing samples: the leakage table (PSNR / SSIM on the sensitive images: mean with a 95%
t-interval, worst case = the best-reconstructed image, paired difference to no defense, and the mean over all
images of the batches) and the FedAvg accuracy table, as Markdown for the README.

    python experiments/seed002/summarise_concealing.py --utility experiments/seed002/utility \
        experiments/seed002/concealing  (copies of the trials' results.csv / images.csv)
"""

from __future__ import annotations

import argparse
import csv
from pathlib import Path

from summarise import mean_interval

ORDER = ["none", "seed002_prune", "seed002_prune_imprint", "gaussian", "laplacian", "seed002_gaussian_cifar",
         "seed002_laplacian_cifar", "seed002_soteria_5", "seed002_soteria_1", "seed002_soteria_90", "concealing",
         "concealing_mixed", "concealing_imprint"]


def leakage(folders: list[str]) -> None:
    print("| attack | defense | sensitive images | PSNR | worst PSNR | PSNR - none (paired) | SSIM | worst SSIM "
          "| all images: PSNR / SSIM |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|")
    table = []
    for results in sorted(p for folder in folders for p in Path(folder).glob("*trial-*/results.csv")):
        if not (results.parent / "images.csv").exists():
            continue
        rows = list(csv.DictReader(results.open()))
        images = list(csv.DictReader((results.parent / "images.csv").open()))
        first = rows[0]
        overrides = first["overrides"].split()
        pick = lambda key, default: next((o.split("=", 1)[1] for o in overrides if o.startswith(key + "=")), default)
        attack, defense = pick("attack", first["attack"]), pick("defense", first["defense"])
        psnr = [float(r["psnr"]) for r in images]
        ssim = [float(r["ssim"]) for r in images]
        per_image = {(r["class_id"], r["image_index"]): float(r["psnr"]) for r in images}
        everything = f"{float(first['psnr_all']):.2f} / {float(first['ssim_all']):.2f}" if first.get("psnr_all") else ""
        table.append((attack, defense, psnr, ssim, per_image, everything))
    undefended = {row[0]: row[4] for row in table if row[1] == "none"}
    table.sort(key=lambda r: (r[0] == "imprint", r[0], ORDER.index(r[1]) if r[1] in ORDER else 99))
    for attack, defense, psnr, ssim, per_image, everything in table:
        base = undefended.get(attack, {})
        paired = [v - base[k] for k, v in per_image.items() if k in base]
        delta = mean_interval(paired) if paired and defense != "none" else ""
        print(f"| {attack} | {defense} | {len(psnr)} | {mean_interval(psnr)} | {max(psnr):.2f} | {delta} "
              f"| {mean_interval(ssim)} | {max(ssim):.2f} | {everything} |")


def utility(folder: str) -> None:
    results = {}
    for path in sorted(Path(folder).glob("*_summary.csv")):
        for row in csv.DictReader(path.open()):
            results.setdefault(row["defense"], {})[row["partition"]] = row
    print("| defense | IID best (round) | IID last | non-IID best (round) | non-IID last | rounds | test images |")
    print("|---|---:|---:|---:|---:|---:|---:|")
    for defense, parts in results.items():
        cells = []
        for part in ("iid", "labels"):
            row = parts.get(part)
            cells += ([f"{100 * float(row['best']):.1f} ({row['best_round']})", f"{100 * float(row['last']):.1f}"]
                      if row else ["", ""])
        any_row = next(iter(parts.values()))
        print(f"| {defense} | {' | '.join(cells)} | {any_row['rounds']} | {any_row['test_images']} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("folders", nargs="*")
    parser.add_argument("--utility")
    args = parser.parse_args()
    if args.folders:
        leakage(args.folders)
    if args.utility:
        print()
        utility(args.utility)
