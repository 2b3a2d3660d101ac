"""Recover the labels of a shared batch from the gradient of the last linear layer.

With softmax cross-entropy averaged over a batch of B images, the last layer's bias gradient is
``g_c = mean_i p_ic - n_c / B``: the model's mean predicted probability of class c minus the share of class c
in the batch. At B = 1 only the true class is negative (iDLG). For larger batches the counts are
``n_c = B (mean_i p_ic - g_c)``; the attacker estimates the mean prediction from the model's output on
inputs of its own, which is accurate for untrained and weakly trained models (the FL rounds where attacks are
strongest) and degrades as predictions grow confident. Without a bias, the weight rows carry the same signal
scaled by the mean feature activity, which is estimated the same way.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

PROBE_IMAGES = 64


def last_linear(model: nn.Module) -> tuple[nn.Linear, int, int | None]:
    """The last linear layer and the positions (in ``model.parameters()`` order) of its weight and bias."""
    linear = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not linear:
        raise ValueError(f"{type(model).__name__} has no linear layer to read labels from")
    layer = linear[-1]
    ids = {id(p): i for i, p in enumerate(model.parameters())}
    return layer, ids[id(layer.weight)], (ids[id(layer.bias)] if layer.bias is not None else None)


def idlg_label(model: nn.Module, gradients: list[Tensor]) -> Tensor:
    """The iDLG rule (Zhao et al. 2020) for one image: the only class with a negative last-layer gradient.

    Without a bias the weight rows carry the same sign, ``(p_c - y_c) * h``, for non-negative features ``h``.
    """
    _, weight_pos, bias_pos = last_linear(model)
    if bias_pos is not None:
        return gradients[bias_pos].argmin().view(1)
    return gradients[weight_pos].sum(dim=1).argmin().view(1)


@torch.no_grad()
def batch_labels(model: nn.Module, gradients: list[Tensor], batch_size: int, shape: tuple[int, ...],
                 bounds: tuple[Tensor, Tensor], generator: torch.Generator) -> Tensor:
    """Labels of a batch (sorted by class; the order of a batch is not recoverable) from class counts."""
    layer, weight_pos, bias_pos = last_linear(model)
    device = gradients[weight_pos].device
    low, high = (b.to(device) for b in bounds)
    probe = low + torch.rand((PROBE_IMAGES, *shape), generator=generator).to(device) * (high - low)
    features = []
    hook = layer.register_forward_hook(lambda module, inputs, output: features.append(inputs[0].detach()))
    try:
        mean_prediction = F.softmax(model(probe), dim=-1).mean(0)
    finally:
        hook.remove()
    if bias_pos is not None:
        signal = gradients[bias_pos]
    else:
        # Row sums of the weight gradient are g_c times the mean total feature activity of the batch.
        activity = features[0].flatten(1).sum(1).mean().clamp_min(1e-8)
        signal = gradients[weight_pos].sum(dim=1) / activity
    estimate = batch_size * (mean_prediction - signal)
    counts = estimate.floor().clamp_min(0).long()
    present = signal < 0  # a negative entry means the class is in the batch
    counts = torch.where(present & (counts == 0), torch.ones_like(counts), counts)
    while counts.sum() > batch_size:  # drop from the classes whose estimate was rounded up the most
        over = torch.where(counts > 0, counts.float() - estimate, torch.full_like(estimate, -1e9))
        counts[over.argmax()] -= 1
    while counts.sum() < batch_size:  # add to the classes whose estimate was rounded down the most
        counts[(estimate - counts.float()).argmax()] += 1
    return torch.repeat_interleave(torch.arange(len(counts), device=device), counts)


def infer_labels(problem) -> Tensor:
    """Labels for ``problem``'s update: iDLG at one image per update, the counting rule above that.

    Both rules read gradients of the mean loss; a protocol that shares something else (a FedAvg weight
    difference) converts its update with ``gradient_equivalent`` first.
    """
    size = problem.reconstruct_size
    gradients = problem.gradients
    if size == 1:
        return idlg_label(problem.model, gradients)
    return batch_labels(problem.model, gradients, size, problem.shape, problem.bounds,
                        torch.Generator().manual_seed(problem.seed))
