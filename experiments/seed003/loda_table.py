"""The LODA rows of seed 003's tables from a sweep folder: per trial, the classifier's clean test accuracy, PSNR
and LPIPS of the final reconstructions against the private images (mean with a 95% t-interval over images, max
PSNR, min LPIPS), PSNR(x', x) of the obscured images and PSNR of the reconstruction against x'.

    python experiments/seed003/loda_table.py multirun/seed003_small-*
"""

import csv
import math
import sys
from pathlib import Path

import torch
from scipy import stats

from fedpriv.metrics import image_scores


def interval(values):
    n = len(values)
    mean = sum(values) / n
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    half = stats.t.ppf(0.975, n - 1) * sd / math.sqrt(n)
    return mean, mean - half, mean + half


rows = []
for trial in sorted(p for folder in sys.argv[1:] for p in Path(folder).glob("trial-*")):
    if not (trial / "results.csv").exists():
        continue
    results = list(csv.DictReader(open(trial / "results.csv")))
    per_image = list(csv.DictReader(open(trial / "images.csv")))
    psnr = [float(r["psnr"]) for r in per_image]
    lpips = [float(r["lpips"]) for r in per_image]
    samples = torch.load(trial / "samples.pt", weights_only=True)
    original, defended, recon = (samples[k].float() / 255 for k in ("original", "defended", "reconstruction"))
    r = results[0]
    label = f"{r['defense']} {r.get('layers', '')} c={r.get('c', '')} decode={r.get('decode', '')}"
    p, pl, ph = interval(psnr)
    l, ll, lh = interval(lpips)
    rows.append(f"| {label} | {float(r['classifier_acc']) * 100:.1f} | {p:.2f} [{pl:.2f}, {ph:.2f}] | "
                f"{l:.3f} [{ll:.3f}, {lh:.3f}] | {max(psnr):.2f} | {min(lpips):.3f} | "
                f"{image_scores(defended, original)['psnr'].mean():.2f} | "
                f"{image_scores(recon, defended)['psnr'].mean():.2f} | {len(psnr)} |")
print("| arm | Acc % | PSNR dB [95%] | LPIPS [95%] | max PSNR | min LPIPS | PSNR(x', x) | PSNR(rec, x') | n |")
print("|---|---|---|---|---|---|---|---|---|")
print("\n".join(rows))
