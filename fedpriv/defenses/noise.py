"""Additive noise on the shared update (the Gaussian and Laplacian baselines of seed 002, Table 7).

Unlike DP-SGD there is no per-example clipping: the noise scale is absolute, so what it hides depends on the size
of the gradient (large for an untrained model, small late in training).
"""

from __future__ import annotations

from typing import Annotated, ClassVar

import torch
from torch import Tensor

from fedpriv.config.constraints import OneOf, Range
from fedpriv.defenses.base import Defense
from fedpriv.defenses.client import ClientStep

DISTRIBUTIONS = ("gaussian", "laplacian")


def draw_noise(shape: torch.Size, distribution: str, scale: float, generator: torch.Generator) -> Tensor:
    """Zero-mean noise of ``shape`` on the generator's device: Gaussian with standard deviation ``scale``, or
    Laplacian with scale (diversity) ``scale``, drawn as the difference of two Exp(1) variables so that it comes
    from ``generator`` alone (``torch.distributions`` cannot take one)."""
    device = generator.device
    if distribution == "gaussian":
        return torch.randn(shape, generator=generator, device=device) * scale
    first = torch.empty(shape, device=device).exponential_(1.0, generator=generator)
    second = torch.empty(shape, device=device).exponential_(1.0, generator=generator)
    return (first - second) * scale


class Noise(Defense):
    """Add i.i.d. noise to every entry of the update the client shares.

    Args:
        distribution: ``gaussian`` (scale = standard deviation) or ``laplacian`` (scale = b, standard deviation
            b * sqrt(2)).
        scale: seed 002 used 1e-2 on MNIST, 1e-3 on CIFAR-10, 1e-1 on HAM10000; 0 shares the update unchanged.
    """

    name = "noise"
    title = "additive noise"
    columns: ClassVar[tuple[str, ...]] = ("distribution", "scale")
    update_in_training = True

    def __init__(self, *, distribution: Annotated[str, OneOf(DISTRIBUTIONS)] = "gaussian",
                 scale: Annotated[float, Range(0)] = 1e-2):
        self.distribution = distribution
        self.scale = float(scale)

    def describe(self, class_id=None):
        return {"distribution": self.distribution, "scale": self.scale}

    def training_signature(self):
        return {"noise": [self.distribution, self.scale]}

    def defend_update(self, gradients: list[Tensor], step: ClientStep) -> list[Tensor]:
        if self.scale == 0:
            return list(gradients)
        if step is None or step.generator is None:
            # The global RNG would make the update depend on what ran before (a cold or a warm model cache).
            raise ValueError("Noise.defend_update needs a ClientStep with a seeded generator for the noise")
        return [g + draw_noise(g.shape, self.distribution, self.scale, step.generator).to(g.device, g.dtype)
                for g in gradients]
