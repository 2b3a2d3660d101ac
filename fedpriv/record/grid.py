"""A picture of a trial: originals, defended inputs and reconstructions, one column per attacked image, rows named
and each reconstruction captioned with its PSNR."""

from __future__ import annotations

import math
import os
from typing import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from torchvision.utils import make_grid

from fedpriv.utils.io import atomic_path

MIN_SIDE = 64
PAD = 2


ROW_LABELS = ("original", "defended input", "reconstruction")
# Where PSNR against the original and against the defended input tell different stories (a transformed image
# recovered exactly scores low against the original): the caption then shows both.
DIVERGENCE_DB = 10.0
DPI = 100
LEFT, BOTTOM, TOP = 100, 46, 4     # pixels around the images for row labels and captions


def psnr_caption(psnr: float, psnr_defended: float | None = None, *, threshold: float = DIVERGENCE_DB) -> str:
    """``"2.5 dB"``, or ``"2.5 dB (40.6 vs defended)"`` when the defended input is more than ``threshold`` dB
    away from the original's score."""
    if math.isnan(psnr):
        return "n/a"
    text = f"{psnr:.1f} dB"
    if psnr_defended is not None and not math.isnan(psnr_defended) and abs(psnr_defended - psnr) > threshold:
        text += f" ({psnr_defended:.1f} vs defended)"
    return text


def reconstruction_captions(original: Tensor, defended: Tensor, reconstruction: Tensor) -> list[str]:
    """The PSNR caption of each reconstruction (tensors ``(N, C, H, W)`` in [0, 1])."""
    from fedpriv.metrics.image import psnr

    against_original = psnr(reconstruction.float().cpu(), original.float().cpu())
    against_defended = psnr(reconstruction.float().cpu(), defended.float().cpu())
    return [psnr_caption(float(a), float(b)) for a, b in zip(against_original, against_defended)]


def grid_canvas(rows: list[Tensor], *, limit: int) -> np.ndarray:
    """``rows`` (each ``(N, C, H, W)`` in [0, 1]) tiled as uint8 ``(H, W, 3)``, at most ``limit`` columns,
    upscaled (nearest neighbour) so small images stay legible."""
    rows = [r[:limit].float().cpu() for r in rows]
    n = rows[0].shape[0]
    images = torch.cat(rows)
    if images.shape[1] == 1:
        images = images.repeat(1, 3, 1, 1)
    side = images.shape[-1]
    if side < MIN_SIDE:
        images = F.interpolate(images, scale_factor=MIN_SIDE // side, mode="nearest")
    grid = make_grid(images.clamp(0, 1), nrow=n, padding=PAD, pad_value=1.0)
    return (grid.permute(1, 2, 0) * 255).round().to(torch.uint8).numpy()


def grid_size(canvas: np.ndarray) -> tuple[int, int]:
    """(width, height) in pixels of the PNG :func:`save_grid` writes for ``canvas``."""
    return canvas.shape[1] + LEFT, canvas.shape[0] + BOTTOM + TOP


def save_grid(path: str | os.PathLike, rows: list[Tensor], *, limit: int, labels: Sequence[str] = ROW_LABELS,
              captions: Sequence[str] = ()) -> None:
    """Write ``rows`` as a PNG grid with each row named on the left (``labels``) and a caption under each image
    of the last row (``captions``). Drawn at one image pixel per screen pixel, without pyplot."""
    from matplotlib.figure import Figure

    canvas = grid_canvas(rows, limit=limit)
    height, width = canvas.shape[:2]
    total_w, total_h = grid_size(canvas)
    figure = Figure(figsize=(total_w / DPI, total_h / DPI), dpi=DPI)
    axes = figure.add_axes((LEFT / total_w, BOTTOM / total_h, width / total_w, height / total_h))
    axes.imshow(canvas, interpolation="nearest", aspect="auto")
    n_rows, n_cols = len(rows), min(limit, rows[0].shape[0])
    tile_h, tile_w = (height - PAD) / n_rows, (width - PAD) / n_cols
    axes.set_yticks([PAD / 2 + tile_h * (r + 0.5) for r in range(n_rows)], list(labels)[:n_rows], fontsize=8)
    wrapped = [c.replace(" (", "\n(").replace(" vs ", " vs\n") for c in list(captions)[:n_cols]]
    axes.set_xticks([PAD / 2 + tile_w * (c + 0.5) for c in range(len(wrapped))], wrapped, fontsize=7)
    axes.tick_params(length=0, pad=2)
    for side in axes.spines.values():
        side.set_visible(False)
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=DPI)


def save_reconstruction_grid(path: str | os.PathLike, images: dict[str, Tensor], *, limit: int) -> None:
    """A trial's picture: originals, defended inputs and reconstructions, each reconstruction captioned with
    its PSNR against the original (and against the defended input where the two differ)."""
    picked = {k: images[k][:limit] for k in ("original", "defended", "reconstruction")}
    save_grid(path, [picked["original"], picked["defended"], picked["reconstruction"]], limit=limit,
              captions=reconstruction_captions(picked["original"], picked["defended"], picked["reconstruction"]))


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
