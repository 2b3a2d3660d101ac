"""Per-image outcomes: one row per private image in ``images.csv``, beside the per-class ``results.csv``.

The per-class rows hold rates; a report that wants an interval over images (a bootstrap of the advantage score,
MA and AA of the same image resampled together) needs each image's own outcome. A trial writes this file before
``results.csv``, which stays the marker of a finished trial.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

from torch import Tensor

from fedpriv.record.results import _cell
from fedpriv.utils.io import atomic_write_text

IMAGES_FILE = "images.csv"
# class_id and image_index (the image's index in the test split, the same image in every arm of a comparison)
# identify the image; *_correct are 0/1; the rest are leakage metrics against the original image.
IMAGE_COLUMNS = ["class_id", "image_index", "ma_correct", "aa_correct", "label_correct", "psnr", "ssim", "lpips",
                 "mse"]


def format_outcomes(outcomes: dict[str, Tensor | None], *, trial_id: str = "") -> str:
    """``outcomes`` maps each column of :data:`IMAGE_COLUMNS` to a tensor with one entry per image (or None)."""
    count = len(outcomes["class_id"])
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["trial_id", *IMAGE_COLUMNS])
    columns = {k: (None if outcomes.get(k) is None else outcomes[k].reshape(-1).tolist()) for k in IMAGE_COLUMNS}
    for i in range(count):
        cells = [columns[k][i] if columns[k] is not None else None for k in IMAGE_COLUMNS]
        writer.writerow([trial_id, *(_cell(int(v) if isinstance(v, bool) else v) for v in cells)])
    return out.getvalue()


def write_outcomes(path: str | os.PathLike, outcomes: dict[str, Tensor | None], *, trial_id: str = "") -> Path:
    atomic_write_text(path, format_outcomes(outcomes, trial_id=trial_id))
    return Path(path)


def read_outcomes(path: str | os.PathLike) -> list[dict[str, str]]:
    with open(path, newline="") as f:
        return list(csv.DictReader(f))
