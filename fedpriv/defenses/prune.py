"""Gradient pruning (Zhu et al. 2019, "Deep Leakage from Gradients", section 5): share only the largest entries.

Each tensor of the update keeps its ``1 - p`` largest-magnitude entries and zeroes the rest. The zeros travel in
the shared update, so the server sees which entries were kept; :meth:`Prune.knowledge` grants that mask to an
adaptive attacker, which then matches only the kept entries (seed 003's GradPruning attack).
"""

from __future__ import annotations

from typing import Annotated, ClassVar

import torch
from torch import Tensor

from fedpriv.config.constraints import Range
from fedpriv.defenses.base import Defense
from fedpriv.defenses.client import ClientStep, DefenseKnowledge


def prune_smallest(gradient: Tensor, p: float) -> Tensor:
    """``gradient`` with its ``floor(p * numel)`` smallest-magnitude entries set to zero.

    A count rather than a quantile threshold: ties at the threshold (common in the many exact zeros of a ReLU
    network's gradient) would otherwise make the pruned fraction depend on the data.
    """
    flat = gradient.reshape(-1)
    # The small tolerance keeps p * n from flooring one short when it is an integer in exact arithmetic.
    pruned = min(flat.numel(), int(p * flat.numel() + 1e-6))
    if pruned == 0:
        return gradient.clone()
    out = torch.zeros_like(flat)
    kept = flat.numel() - pruned
    if kept > 0:
        index = flat.abs().topk(kept, sorted=False).indices
        out[index] = flat[index]
    return out.view_as(gradient)


class FractionDefense(Defense):
    """An update-side defense set by one fraction ``p`` (of entries or units it removes), acting in training too."""

    columns: ClassVar[tuple[str, ...]] = ("p",)
    update_in_training = True

    def __init__(self, *, p: Annotated[float, Range(0, 1)] = 0.9):
        self.p = float(p)

    def describe(self, class_id=None):
        return {"p": self.p}

    def training_signature(self):
        return {self.name: self.p}


class Prune(FractionDefense):
    """Zero the fraction ``p`` of smallest-magnitude entries of every parameter's update, per tensor.

    Args:
        p: the fraction pruned in each tensor (seed 002: 0.7 on MNIST and CIFAR-10 with DLG and Inverting
            Gradients, 0.3 against Imprint; seed 003: 0.9 and 0.99).
    """

    name = "prune"
    title = "gradient pruning"

    def defend_update(self, gradients: list[Tensor], step: ClientStep | None = None) -> list[Tensor]:
        return [prune_smallest(g, self.p) for g in gradients]

    def knowledge(self, update_gradients: list[Tensor]) -> DefenseKnowledge:
        """The kept entries are the non-zero ones of what the server received (whatever ran after pruning)."""
        return DefenseKnowledge(name=self.name, params=self.describe(),
                                mask=[g != 0 for g in update_gradients])
