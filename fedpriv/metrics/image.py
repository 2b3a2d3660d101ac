"""Per-image reconstruction scores on [0, 1] images: PSNR, SSIM (torchmetrics, data_range=1) and MSE."""

from __future__ import annotations

from torch import Tensor
from torchmetrics.functional.image import peak_signal_noise_ratio, structural_similarity_index_measure


def psnr(pred: Tensor, target: Tensor) -> Tensor:
    """PSNR in dB per image of ``(N, C, H, W)`` tensors in [0, 1]; ``inf`` for an exact copy."""
    return peak_signal_noise_ratio(pred, target, data_range=1.0, reduction="none", dim=(1, 2, 3))


def ssim(pred: Tensor, target: Tensor) -> Tensor:
    """SSIM per image (Gaussian window 11, sigma 1.5); images must be at least 11 pixels on each side."""
    return structural_similarity_index_measure(pred, target, data_range=1.0, reduction="none")


def mse(pred: Tensor, target: Tensor) -> Tensor:
    return (pred - target).pow(2).flatten(1).mean(1)


def image_scores(pred: Tensor, target: Tensor) -> dict[str, Tensor]:
    pred, target = pred.float().cpu(), target.float().cpu()
    return {"psnr": psnr(pred, target), "ssim": ssim(pred, target), "mse": mse(pred, target)}
