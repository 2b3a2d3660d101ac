"""Gradient-matching distances and image priors used by the optimisation attacks."""

from __future__ import annotations

from typing import Sequence

import torch
from torch import Tensor


def cosine_distance(candidate: Sequence[Tensor], target: Sequence[Tensor], eps: float = 1e-8) -> Tensor:
    """``1 - cos`` between the concatenated gradient vectors (Inverting Gradients, eq. 4)."""
    dot = sum((c * t).sum() for c, t in zip(candidate, target))
    c_norm = sum(c.pow(2).sum() for c in candidate).sqrt()
    t_norm = sum(t.pow(2).sum() for t in target).sqrt()
    return 1 - dot / (c_norm * t_norm).clamp_min(eps)


def total_variation(x: Tensor) -> Tensor:
    """Anisotropic total variation: mean absolute difference of neighbouring pixels, both directions."""
    dx = (x[..., :, 1:] - x[..., :, :-1]).abs().mean()
    dy = (x[..., 1:, :] - x[..., :-1, :]).abs().mean()
    return dx + dy
