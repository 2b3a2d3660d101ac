"""Scoring a trial on the sensitive images of its batches (``targets.sensitive``), the threat model of concealing
samples: each batch holds ``m`` sensitive images (its last rows) among ordinary ones the client does not mind
revealing, so leakage is what an attack recovers of the sensitive rows. The results rows then describe those
rows only; ``psnr_all`` / ``ssim_all`` / ``n_all`` keep the score over every image of the batches beside them.
"""

from __future__ import annotations

from typing import Optional

import torch
from torch import Tensor

from fedpriv.metrics.image import image_scores


def sensitive_mask(batch_sizes: list[int], m: int) -> Tensor:
    """``(sum(batch_sizes),)``: True on the last ``m`` rows of every batch (all rows of a batch of ``m`` or fewer)."""
    return torch.cat([torch.arange(n) >= n - m for n in batch_sizes]) if batch_sizes else torch.zeros(0, dtype=torch.bool)


def sensitive_subset(images: dict[str, Tensor], batches, m: Optional[int],
                     model_correct: Tensor) -> tuple[dict[str, Tensor], Optional[dict[str, Tensor]], Tensor]:
    """The per-image records restricted to the sensitive rows, the full records (None when every image is
    scored, ``m`` None) and the matching subset of ``model_correct``."""
    if not m:
        return images, None, model_correct
    mask = sensitive_mask([len(t.index) for t in batches], int(m))
    subset = {k: (v[mask] if isinstance(v, Tensor) and v.ndim > 0 and len(v) == len(mask) else v)
              for k, v in images.items()}
    return subset, images, model_correct[mask] if len(model_correct) == len(mask) else model_correct


def all_image_columns(rows: list[dict], all_images: Optional[dict[str, Tensor]]) -> list[dict]:
    """``rows`` with the mean PSNR / SSIM over every image of the batches (when only the sensitive ones were
    scored)."""
    if all_images is None:
        return rows
    leak = image_scores(all_images["reconstruction"], all_images["original"])
    extra = {"psnr_all": float(leak["psnr"].mean()), "ssim_all": float(leak["ssim"].mean()),
             "n_all": len(leak["psnr"])}
    return [{**row, **extra} for row in rows]
