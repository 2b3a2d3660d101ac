"""Analytic reconstruction from the gradient of a fully connected first layer (Phong et al. 2017; Geiping et al.
2020; eq. 4 of seed 002).

For one image ``x`` entering a layer ``y = W x + b``, the chain rule gives ``dL/dW_r = (dL/dy_r) x`` and
``dL/db_r = dL/dy_r`` for every unit ``r``, so any unit whose bias gradient is non-zero holds the image:
``x = (dL/dW_r) / (dL/db_r)``. No optimisation, no prior, exact up to float rounding.

For a batch the gradient of the mean loss sums over images, and each unit holds a weighted average of the batch
(weights ``dL/dy_r`` of each image). It is exact only where a unit happens to respond to a single image (ReLU
units often do; Boenisch et al. 2021); elsewhere it is a mixture.

The label helpers at the bottom serve any attack that reads images out of a layer's bias gradient (Imprint too).
"""

from __future__ import annotations

import math
import time

import torch
from scipy.optimize import linear_sum_assignment
from torch import Tensor, nn
from torch.func import functional_call, jvp

from fedpriv.attacks.base import Attack, AttackProblem, Reconstruction
from fedpriv.attacks.labels import idlg_label
from fedpriv.config.validate import ConfigError

# Bias gradients below this fraction of the largest are treated as zero: dividing by them amplifies rounding.
NEGLIGIBLE = 1e-6
# Two units' estimates closer than this (relative) hold the same image: mixtures never agree that well.
AGREEMENT = 1e-4


class Analytic(Attack):
    """Read the private input straight out of the first layer's gradient; the model must start with ``nn.Linear``
    on the flattened image (``model=mlp``).

    At batch size 1 it uses the unit with the largest bias gradient and is exact; labels come from iDLG. At
    larger batches it returns one estimate per image, chosen among the units' estimates (see :meth:`pick_units`),
    with the given labels (or, without them, labels read from the bias gradient) paired to the estimates. Those
    estimates are exact only for images that some unit responded to alone; the others are mixtures.
    """

    name = "analytic"

    def model_problems(self, model: nn.Module, shape: tuple[int, ...]) -> list[str]:
        try:
            first_linear(model, shape)
        except ConfigError as err:
            return err.problems
        return []

    def reconstruct(self, problem: AttackProblem) -> Reconstruction:
        start = time.perf_counter()
        layer = first_linear(problem.model, problem.shape)
        weight_grad, bias_grad = layer_gradients(problem.model, layer, problem.gradients)
        usable = (bias_grad.abs() > NEGLIGIBLE * bias_grad.abs().max()).nonzero().flatten()
        if len(usable) == 0:  # a defense zeroed the layer: nothing to read, return the mean image
            images = torch.zeros(problem.batch_size, *problem.shape, device=bias_grad.device)
            return Reconstruction(images, fallback_labels(problem), info={"attack_seconds": time.perf_counter() - start})
        estimates = weight_grad[usable] / bias_grad[usable, None]
        chosen = usable[self.pick_units(estimates, bias_grad[usable], problem)]
        images = (weight_grad[chosen] / bias_grad[chosen, None]).view(-1, *problem.shape)
        if problem.batch_size == 1:
            labels = idlg_label(problem.model, problem.gradients)
        else:
            probes = torch.eye(len(bias_grad), device=bias_grad.device)[chosen]
            costs = label_costs(problem.model, layer.bias, images, probes, problem.batch_size * bias_grad[chosen])
            labels = assign_labels(costs, problem.labels)
        low, high = (b.to(images.device) for b in problem.bounds)
        return Reconstruction(
            images=torch.max(torch.min(images, high), low), labels=labels,
            info={"attack_seconds": time.perf_counter() - start, "units": chosen.tolist()},
        )

    @staticmethod
    def pick_units(estimates: Tensor, bias_grad: Tensor, problem: AttackProblem) -> list[int]:
        """Indices into ``estimates`` of the units to report, one per image of the batch.

        At batch size 1 every active unit holds the same image; the largest bias gradient divides with the least
        rounding. At larger batches two units that hold the same single image agree to rounding error, while
        mixtures weight the images differently in every unit; so estimates that several units agree on come
        first. The rest are filled by farthest-point traversal over estimates inside the pixel box: a unit whose
        images all push its output the same way holds a convex combination of them, so the pure images are the
        corners of that cloud.
        """
        batch = problem.batch_size
        if batch == 1:
            return [int(bias_grad.abs().argmax())]
        agree = torch.cdist(estimates, estimates) <= AGREEMENT * estimates.norm(dim=1, keepdim=True)
        support = agree.sum(dim=1)
        picked: list[int] = []
        for unit in support.argsort(descending=True).tolist():
            if support[unit] < 2 or len(picked) == batch:
                break
            if not agree[unit, picked].any():
                picked.append(unit)
        low, high = (b.to(estimates.device).expand(1, *problem.shape).flatten(1) for b in problem.bounds)
        margin = 0.05 * (high - low)
        inside = ((estimates >= low - margin) & (estimates <= high + margin)).all(dim=1)
        inside[picked] = True
        pool = inside.nonzero().flatten() if inside.sum() >= batch else torch.arange(len(estimates))
        pool = pool.to(estimates.device)
        start = [int((pool == unit).nonzero()) for unit in picked]
        return pool[farthest_points(estimates[pool], batch, start)].tolist()


def first_linear(model: nn.Module, shape: tuple[int, ...]) -> nn.Linear:
    """The model's first layer with parameters, checked to be ``nn.Linear`` with a bias on the flattened input."""
    first = next((m for m in model.modules() if next(m.parameters(recurse=False), None) is not None), None)
    inputs = math.prod(shape)
    if not isinstance(first, nn.Linear) or first.in_features != inputs or first.bias is None:
        found = "no parameters" if first is None else repr(first)
        model_name = getattr(model, "name", type(model).__name__)
        raise ConfigError([
            f"model={model_name}: attack=analytic needs a first layer that is nn.Linear with a bias on the flattened "
            f"{inputs}-value input, but the first layer is {found}; use model=mlp"
        ])
    return first


def layer_gradients(model: nn.Module, layer: nn.Linear, gradients: list[Tensor]) -> tuple[Tensor, Tensor]:
    """The shared gradients of ``layer``'s weight and bias (``gradients`` follows ``model.parameters()``)."""
    position = {id(p): i for i, p in enumerate(model.parameters())}
    return gradients[position[id(layer.weight)]].detach(), gradients[position[id(layer.bias)]].detach()


def farthest_points(points: Tensor, count: int, picked: list[int]) -> list[int]:
    """Extend ``picked`` to ``count`` points, each maximising its distance to the nearest point picked so far
    (from the point farthest from the centre when nothing is picked yet)."""
    picked = list(picked) or [int((points - points.mean(0)).pow(2).sum(1).argmax())]
    nearest = torch.cdist(points, points[picked]).min(dim=1).values
    while len(picked) < count:
        picked.append(int(nearest.argmax()))
        nearest = torch.minimum(nearest, (points - points[picked[-1]]).norm(dim=1))
    return picked[:count]


def label_costs(model: nn.Module, bias: nn.Parameter, images: Tensor, probes: Tensor, observed: Tensor) -> Tensor:
    """How badly each label explains each recovered image's bias gradient: ``(len(images), num_classes)``.

    For one image with logits ``z`` and label ``y``, the cross-entropy gradient w.r.t. a bias, projected on a probe
    direction ``v``, is ``u . softmax(z) - u[y]`` with ``u = dz/db . v`` (one forward-mode pass). ``observed`` is
    what the shared gradient shows along the same probe, scaled to one image (batch size x the batch mean). The
    model runs in eval mode so that BatchNorm's running statistics stay untouched; in train mode the result is
    then approximate.
    """
    name = next(n for n, p in model.named_parameters() if p is bias)
    params = {n: p.detach() for n, p in model.named_parameters()}
    buffers = {n: b.detach() for n, b in model.named_buffers()}
    was_training = model.training
    model.eval()
    costs = []
    try:
        for image, probe, seen in zip(images, probes, observed):
            def logits(b, image=image):
                return functional_call(model, ({**params, name: b}, buffers), (image[None],))[0]

            z, u = jvp(logits, (params[name],), (probe,))
            predicted = (u * z.softmax(-1)).sum() - u
            costs.append((predicted - seen).abs() / (seen.abs() + 1e-12))
    finally:
        model.train(was_training)
    return torch.stack(costs)


def assign_labels(costs: Tensor, given: Tensor | None) -> Tensor:
    """A label per recovered image: the given labels paired one-to-one with the images that explain them best
    (images left over take the best of the given classes), or the cheapest class when no labels are given."""
    if given is None:
        return costs.argmin(dim=1)
    given = given.to(costs.device)
    rows, cols = linear_sum_assignment(costs[:, given].cpu().numpy())
    present = given.unique()
    labels = present[costs[:, present].argmin(dim=1)]
    labels[torch.as_tensor(rows, device=costs.device)] = given[torch.as_tensor(cols, device=costs.device)]
    return labels


def fallback_labels(problem: AttackProblem) -> Tensor:
    """The given labels, or -1 (unknown) for every image when the threat model grants none."""
    if problem.labels is not None:
        return problem.labels
    return torch.full((problem.batch_size,), -1, dtype=torch.long)
