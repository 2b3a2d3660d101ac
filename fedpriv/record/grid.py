"""A picture of a trial: originals, defended inputs and reconstructions, one column per attacked image."""

from __future__ import annotations

import os

import torch
import torch.nn.functional as F
from torch import Tensor
from torchvision.utils import make_grid, save_image

from fedpriv.utils.io import atomic_path

MIN_SIDE = 64


def save_grid(path: str | os.PathLike, rows: list[Tensor], *, limit: int) -> None:
    """Stack ``rows`` (each ``(N, C, H, W)`` in [0, 1]) into a grid PNG, at most ``limit`` columns, upscaled
    (nearest neighbour) so small images stay legible."""
    rows = [r[:limit].float().cpu() for r in rows]
    n = rows[0].shape[0]
    images = torch.cat(rows)
    if images.shape[1] == 1:
        images = images.repeat(1, 3, 1, 1)
    side = images.shape[-1]
    if side < MIN_SIDE:
        images = F.interpolate(images, scale_factor=MIN_SIDE // side, mode="nearest")
    with atomic_path(path) as tmp:
        save_image(make_grid(images, nrow=n, padding=2, pad_value=1.0), tmp, format="png")


def save_samples(path: str | os.PathLike, images: dict[str, Tensor], *, limit: int) -> None:
    """Keep the first ``limit`` images of each kind as uint8 tensors (``torch.load(..., weights_only=True)``),
    one per class first, so reports can assemble montages without re-running anything."""
    labels = images["labels"]
    first = torch.unique(labels, sorted=True)
    order = [int((labels == c).nonzero()[0]) for c in first]
    order += [i for i in range(len(labels)) if i not in set(order)]
    pick = torch.tensor(order[:limit], dtype=torch.long)
    payload = {k: (images[k][pick] * 255).round().clamp(0, 255).to(torch.uint8)
               for k in ("original", "defended", "reconstruction")}
    payload["labels"] = labels[pick].clone()
    with atomic_path(path) as tmp:
        torch.save(payload, tmp)
