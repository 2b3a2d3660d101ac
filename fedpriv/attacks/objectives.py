"""Gradient-matching distances and image priors used by the optimisation attacks.

Each distance compares a candidate update with the shared one, parameter tensor by parameter tensor, with an
optional weight per tensor (``layer_weights``): early layers hold the most spatial information about the input,
so several attacks weight them up. All functions are written with plain tensor ops so they run under
``torch.func.vmap``.
"""

from __future__ import annotations

import math
from typing import Callable, Sequence

from torch import Tensor

Distance = Callable[[Sequence[Tensor], Sequence[Tensor], Sequence[float]], Tensor]


def cosine_distance(candidate: Sequence[Tensor], target: Sequence[Tensor], weights: Sequence[float] | None = None,
                    eps: float = 1e-8) -> Tensor:
    """``1 - cos`` between the (weighted) concatenated gradient vectors (Inverting Gradients' objective)."""
    weights = weights or [1.0] * len(target)
    dot = sum(w * (c * t).sum() for w, c, t in zip(weights, candidate, target))
    c_norm = sum(w * c.pow(2).sum() for w, c in zip(weights, candidate)).sqrt()
    t_norm = sum(w * t.pow(2).sum() for w, t in zip(weights, target)).sqrt()
    return 1 - dot / (c_norm * t_norm).clamp_min(eps)


def euclidean_distance(candidate: Sequence[Tensor], target: Sequence[Tensor], weights: Sequence[float] | None = None) -> Tensor:
    """Squared Euclidean distance summed over tensors (DLG's objective)."""
    weights = weights or [1.0] * len(target)
    return sum(w * (c - t).pow(2).sum() for w, c, t in zip(weights, candidate, target))


def l1_distance(candidate: Sequence[Tensor], target: Sequence[Tensor], weights: Sequence[float] | None = None) -> Tensor:
    """Sum of absolute differences, less dominated by a few large gradient entries than the squared distance."""
    weights = weights or [1.0] * len(target)
    return sum(w * (c - t).abs().sum() for w, c, t in zip(weights, candidate, target))


DISTANCES: dict[str, Distance] = {"cosine": cosine_distance, "euclidean": euclidean_distance, "l1": l1_distance}


def layer_weights(scheme: str, count: int) -> list[float]:
    """Weights for ``count`` parameter tensors, first (input side) to last.

    ``equal``: all 1. ``linear``: from 1 at the first tensor down to 1/count at the last. ``exp``: halving
    every tenth of the network, from 1 down to about 2^-10 at the last tensor.
    """
    if scheme == "equal" or count <= 1:
        return [1.0] * count
    if scheme == "linear":
        return [1.0 - i * (1.0 - 1.0 / count) / (count - 1) for i in range(count)]
    if scheme == "exp":
        return [math.pow(2.0, -10.0 * i / (count - 1)) for i in range(count)]
    raise KeyError(f"unknown layer weighting {scheme!r}; allowed: equal, linear, exp")


LAYER_WEIGHTS = ("equal", "linear", "exp")


def total_variation(x: Tensor) -> Tensor:
    """Anisotropic total variation: mean absolute difference of neighbouring pixels, both directions."""
    dx = (x[..., :, 1:] - x[..., :, :-1]).abs().mean()
    dy = (x[..., 1:, :] - x[..., :-1, :]).abs().mean()
    return dx + dy


def defense_mask(problem, adaptive: bool = True) -> list[Tensor] | None:
    """The entries of the shared update an adaptive attacker matches: ``problem.defense.mask`` when the threat model
    grants one (gradient pruning reveals which entries it kept) and the attack is ``adaptive``, else None.

    Matching the pruned entries too would push the candidate's gradient towards zeros that carry no information
    about the input, only about the pruning threshold.
    """
    knowledge = getattr(problem, "defense", None)
    mask = getattr(knowledge, "mask", None)
    if not adaptive or mask is None:
        return None
    return list(mask)


def masked(gradients: Sequence[Tensor], masks: Sequence[Tensor]) -> list[Tensor]:
    """Each tensor with the entries outside its mask set to zero (vmappable: a product, not an index)."""
    return [g * m for g, m in zip(gradients, masks)]
