"""Imprint (Fowl et al. 2021, "Robbing the Fed"): a malicious server puts a binning layer in front of the model.

The block the server inserts (:class:`ImprintBlock`) is a fully connected layer on the flattened image whose
``k`` units all compute the same scalar statistic ``s = m . x`` of the image (its brightness, or its projection
on a random direction) and differ only in their thresholds ``t_1 < ... < t_k`` (biases ``-t_i``), then a ReLU.
Unit ``i`` therefore responds to exactly the images with ``s > t_i``.

Every unit's output goes back to the image through the same column ``c`` (a residual added to the input, so the
victim after the block keeps working). With identical columns, the loss gradient reaching unit ``i`` from image
``j`` is ``g_j = c . dL/dx'_j`` for every unit it activates: it depends on the image, not on the unit. For the mean
loss over a batch of ``B`` images the first layer's gradients are then

    dL/dW_i = (1/B) sum_{j: s_j > t_i} g_j x_j        dL/db_i = (1/B) sum_{j: s_j > t_i} g_j

and the difference between consecutive units keeps only the images whose statistic falls between their
thresholds (``t_i < s_j <= t_{i+1}``). When one image falls in that bin, dividing the weight-gradient difference
by the bias-gradient difference returns it exactly (seed 002, eq. 4, applied to a difference of rows). Had the
columns differed, ``g_j`` would change from unit to unit and the differences would mix every active image.

Thresholds are quantiles of the statistic over the server's public images, so each bin catches about ``1/k`` of
the images and a batch of ``B`` collides in some bin with probability about ``B^2 / 2k``; colliding images come
back as one weighted average. The lowest threshold sits below the smallest value any image in the pixel box can
take, so no image escapes the bins.
"""

from __future__ import annotations

import math
import time
from typing import Annotated, Callable

import torch
from torch import Tensor, nn

from fedpriv.attacks.analytic import assign_labels, fallback_labels, label_costs
from fedpriv.attacks.base import Attack, AttackProblem, Reconstruction, ServerKnowledge
from fedpriv.config.constraints import OneOf, Range


def _brightness(numel: int, generator: torch.Generator) -> Tensor:
    return torch.full((numel,), 1.0 / numel)


def _random_direction(numel: int, generator: torch.Generator) -> Tensor:
    direction = torch.randn(numel, generator=generator)
    return direction / direction.norm()


# The image statistic that every unit of the block measures (a direction ``m`` in model space).
MEASUREMENTS: dict[str, Callable[[int, torch.Generator], Tensor]] = {
    "brightness": _brightness,
    "random": _random_direction,
}
# A bin whose bias-gradient step is below this fraction of the largest bias gradient caught no image.
EMPTY_BIN = 1e-6


class ImprintBlock(nn.Module):
    """``x + c * relu(m . x - t)`` summed over units: the binning layer (``bins``) and its way back (``spread``).

    Args:
        shape: ``(C, H, W)`` of one input.
        direction: the statistic's direction ``m`` (``C*H*W`` values), shared by every unit.
        thresholds: increasing thresholds ``t``, one per unit.
        scale: every unit's output is added to every pixel with weight ``scale / k``.
        offset: subtracted from that sum so that, on the server's images, it is zero on average.
    """

    def __init__(self, shape: tuple[int, ...], direction: Tensor, thresholds: Tensor, scale: float, offset: float = 0.0):
        super().__init__()
        numel, units = math.prod(shape), len(thresholds)
        self.shape = tuple(shape)
        self.bins = nn.Linear(numel, units)
        self.spread = nn.Linear(units, numel)
        with torch.no_grad():
            self.bins.weight.copy_(direction.expand(units, numel))
            self.bins.bias.copy_(-thresholds)
            self.spread.weight.fill_(scale / units)  # identical columns: see the module docstring
            self.spread.bias.fill_(-offset)

    def thresholds(self) -> Tensor:
        return -self.bins.bias.detach()

    def forward(self, x: Tensor) -> Tensor:
        return x + self.spread(torch.relu(self.bins(x.flatten(1)))).view_as(x)


class ImprintedModel(nn.Module):
    """What the malicious server sends: its imprint block in front of the victim."""

    def __init__(self, imprint: ImprintBlock, victim: nn.Module):
        super().__init__()
        self.imprint = imprint
        self.victim = victim

    def forward(self, x: Tensor) -> Tensor:
        return self.victim(self.imprint(x))


class Imprint(Attack):
    """The malicious server of Fowl et al.: bins the batch by an image statistic, reads images from bin differences.

    Args:
        bins: units of the imprint layer; more bins, fewer collisions (about ``B^2 / 2 bins`` colliding pairs).
        measurement: the statistic the bins split: ``brightness`` (the mean model-space pixel value)
            or ``random`` (the projection on a seeded Gaussian direction of unit length).
        scale: how strongly the block changes the victim's input: each unit adds its output times
            ``scale / bins`` to every pixel. Reconstruction does not depend on it (it cancels in the ratio); keep
            it small so that the modified model predicts like the victim.
    """

    name = "imprint"

    def __init__(
        self,
        *,
        bins: Annotated[int, Range(2, 65536)] = 128,
        measurement: Annotated[str, OneOf(MEASUREMENTS)] = "brightness",
        scale: Annotated[float, Range(0, None, low_open=True)] = 0.01,
    ):
        self.bins = bins
        self.measurement = measurement
        self.scale = scale

    def prepare_model(self, model: nn.Module, knowledge: ServerKnowledge) -> nn.Module:
        if len(knowledge.public_images) == 0:
            raise ValueError("attack=imprint calibrates its bins on the server's public images, and there are none")
        numel = math.prod(knowledge.shape)
        generator = torch.Generator().manual_seed(knowledge.seed)
        direction = MEASUREMENTS[self.measurement](numel, generator).to(knowledge.device)
        statistic = knowledge.public_images.flatten(1).float().to(knowledge.device) @ direction
        low, high = (b.to(knowledge.device).expand(1, *knowledge.shape).flatten() for b in knowledge.bounds)
        floor = torch.minimum(direction * low, direction * high).sum()  # the darkest value the pixel box allows
        levels = torch.arange(1, self.bins, device=knowledge.device) / self.bins
        inner = torch.quantile(statistic, levels)
        margin = 1e-3 * (statistic.max() - floor).clamp_min(1e-6)
        thresholds = torch.cat([(floor - margin).view(1), inner])
        activity = torch.relu(statistic[:, None] - thresholds).sum(dim=1)
        offset = float(self.scale / self.bins * activity.mean())
        block = ImprintBlock(knowledge.shape, direction, thresholds, self.scale, offset).to(knowledge.device)
        return ImprintedModel(block, model).train(model.training)

    def reconstruct(self, problem: AttackProblem) -> Reconstruction:
        start = time.perf_counter()
        block = _find_block(problem.model)
        position = {id(p): i for i, p in enumerate(problem.model.parameters())}
        weight_grad = problem.gradients[position[id(block.bins.weight)]].detach()
        bias_grad = problem.gradients[position[id(block.bins.bias)]].detach()
        # Bin i holds the images between unit i's threshold and the next one's; the top unit's bin is open.
        order = block.thresholds().argsort()
        weight_steps, bias_steps = _steps(weight_grad[order]), _steps(bias_grad[order])
        probes = _steps(torch.eye(len(order), device=bias_grad.device)[order])
        filled = bias_steps.abs() > EMPTY_BIN * bias_grad.abs().max()
        images = (weight_steps[filled] / bias_steps[filled, None]).view(-1, *problem.shape)
        kept = torch.isfinite(images).flatten(1).all(dim=1)
        images, probes, observed = images[kept], probes[filled][kept], problem.batch_size * bias_steps[filled][kept]
        recovered = len(images)
        if recovered == 0:  # e.g. a defense zeroed the gradient: nothing to read, return the mean image
            images = torch.zeros(problem.batch_size, *problem.shape, device=bias_grad.device)
            info = {"attack_seconds": time.perf_counter() - start, "recovered": 0}
            return Reconstruction(images, fallback_labels(problem), info=info)
        labels = assign_labels(label_costs(problem.model, block.bins.bias, images, probes, observed), problem.labels)
        if recovered < problem.batch_size:
            # Fewer filled bins than images: some bin caught several. The server knows the batch size, so it offers
            # its candidates again and every private image is paired with one (a blend for those that collided).
            repeat = torch.arange(problem.batch_size, device=images.device) % recovered
            images, labels = images[repeat], labels[repeat]
        low, high = (b.to(images.device) for b in problem.bounds)
        return Reconstruction(
            images=torch.max(torch.min(images, high), low), labels=labels,
            info={"attack_seconds": time.perf_counter() - start, "recovered": recovered},
        )


def _steps(rows: Tensor) -> Tensor:
    """Each row minus the next; the last row stays as it is (its bin has no upper threshold)."""
    return rows - torch.cat([rows[1:], torch.zeros_like(rows[:1])])


def _find_block(model: nn.Module) -> ImprintBlock:
    block = next((m for m in model.modules() if isinstance(m, ImprintBlock)), None)
    if block is None:
        raise ValueError(
            f"attack=imprint reads the gradient of its own imprint block, but {type(model).__name__} has none: "
            "reconstruct must get the model that Imprint.prepare_model returned"
        )
    return block
