"""The computations behind concealing samples (Wu, Hayat, Zhou, Harandi): crafting, loss mixup, projection.

A batch holds ``m`` sensitive images (its last rows). For each of them, ``k`` other rows of the batch are
replaced by concealing samples: images optimised so that their per-sample gradient points where the sensitive
image's does (cosine over every parameter), while staying far from it in pixel space and close to it in logit
space. An attacker inverting the batch gradient then finds images that explain the sensitive image's gradient
without looking like it. Every concealing sample of a batch is optimised in one vectorised computation
(``vmap`` of per-sample gradients, differentiated once more with respect to the images), not one image at a time.

The shared gradient mixes the concealing samples' losses between their own label and the sensitive label, then
is projected so it does not fight the gradient of the batch's ordinary images (GEM's quadratic programme with a
single constraint, which has the closed form in :func:`project_gradient`).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call, grad, vmap

TRIGGERS = ("any_coordinate", "inner_product", "never")
STARTS = ("batch", "noise", "public")
CRAFT_LABELS = ("own", "mixed")


@dataclass(frozen=True)
class CraftSettings:
    """The crafting objective and its optimiser (see :class:`fedpriv.defenses.concealing.Concealing`)."""

    alpha: float = 0.1
    beta: float = 1e-3
    tv_weight: float = 1e-4
    iterations: int = 1000
    lr: float = 0.1
    distance_eps: float = 1e-8
    label: str = "own"
    lam: float = 0.3


def concealing_slots(n: int, m: int, k: int) -> tuple[Tensor, Tensor, Tensor]:
    """Where a batch of ``n`` rows puts its sensitive images and their concealing samples.

    Returns ``(sensitive, slots, owner)``: the last ``m`` rows are sensitive; the ``k * m`` rows just before them
    are replaced by concealing samples, row ``slots[j]`` concealing sensitive row ``sensitive[owner[j]]``.
    Raises when the batch is too small to hold them (``n < m * (k + 1)``)."""
    if n < m * (k + 1):
        raise ValueError(f"a batch of {n} images cannot hold {m} sensitive images with {k} concealing samples each "
                         f"(needs at least m * (k + 1) = {m * (k + 1)})")
    sensitive = torch.arange(n - m, n)
    slots = torch.arange(n - m - k * m, n - m)
    owner = torch.arange(m).repeat_interleave(k)
    return sensitive, slots, owner


def _functional(model: nn.Module):
    params = {name: p.detach() for name, p in model.named_parameters()}
    buffers = {name: b.detach() for name, b in model.named_buffers()}

    def loss_one(p, x, y):
        return F.cross_entropy(functional_call(model, (p, buffers), (x.unsqueeze(0),)), y.unsqueeze(0))

    def per_sample(x, y) -> Tensor:
        """``(N, P)``: each example's gradient over every parameter, flattened; ``y`` holds class indices
        ``(N,)`` or class probabilities ``(N, classes)`` (a mixed label)."""
        grads = vmap(grad(loss_one), in_dims=(None, 0, 0))(params, x, y)
        return torch.cat([grads[name].flatten(1) for name in params], 1)

    def logits(x):
        return functional_call(model, (params, buffers), (x,))

    return per_sample, logits


def total_variation(x: Tensor) -> Tensor:
    """Mean absolute difference of neighbouring pixels, summed over both directions."""
    return (x[..., 1:, :] - x[..., :-1, :]).abs().mean() + (x[..., :, 1:] - x[..., :, :-1]).abs().mean()


def mixed_labels(labels: Tensor, sensitive_labels: Tensor, lam: float, classes: int) -> Tensor:
    """Class probabilities ``lam`` on each concealing sample's own label and ``1 - lam`` on the label of the
    image it conceals: the label its loss carries in the shared gradient (loss mixup)."""
    return lam * F.one_hot(labels, classes).float() + (1 - lam) * F.one_hot(sensitive_labels, classes).float()


def craft(model: nn.Module, start: Tensor, labels: Tensor, sensitive: Tensor, sensitive_labels: Tensor,
          owner: Tensor, settings: CraftSettings) -> tuple[Tensor, dict]:
    """Optimise the concealing samples ``start`` (model space, one row per sample, labels ``labels``) so each
    mimics the gradient of ``sensitive[owner[j]]``; the model's weights stay fixed.

    Objective, averaged over samples: ``1 - cos(g(x~), g(x_s)) + alpha / (||x~ - x_s|| + eps) + beta *
    ||f(x~) - f(x_s)||`` plus ``tv_weight * TV(x~)``, minimised by Adam with the learning rate cut tenfold at
    3/8, 5/8 and 7/8 of the iterations. ``g(x~)`` is the gradient of the concealing sample's loss on its own
    label (``settings.label="own"``, the authors' code) or on the mixed label it carries in the shared gradient
    (``"mixed"``: ``lam`` own, ``1 - lam`` sensitive). With its own label, a sample of another class cannot
    align the last layer's gradient with the sensitive one's (that layer's gradient is the outer product of
    the logit error ``softmax - onehot(y)`` and the features, and the two errors point to different classes),
    so its cosine stays well below 1 when that layer dominates the gradient. Runs in eval mode (BatchNorm on
    its running statistics) so that per-sample gradients are defined. Returns the crafted images and, per
    sample, ``cosine_start`` / ``cosine`` (the objective's cosine before and after) and ``shared_cosine_start``
    / ``shared_cosine`` (the cosine of the sample's contribution to the shared gradient, its mixed-label
    gradient, to the sensitive image's gradient).
    """
    if settings.label not in CRAFT_LABELS:
        raise ValueError(f"label={settings.label!r}; allowed: {', '.join(CRAFT_LABELS)}")
    was_training = model.training
    model.eval()
    try:
        per_sample, logits = _functional(model)
        with torch.no_grad():
            target_grad = per_sample(sensitive, sensitive_labels)[owner]
            target_logits = logits(sensitive)[owner]
        anchor = sensitive[owner]
        mixed = mixed_labels(labels, sensitive_labels[owner], settings.lam, target_logits.shape[1])
        objective_labels = mixed if settings.label == "mixed" else labels

        def shared_cosine(x):
            with torch.no_grad():
                return F.cosine_similarity(per_sample(x, mixed), target_grad, dim=1)

        shared_start = shared_cosine(start.detach())

        def objective(x):
            cosine = F.cosine_similarity(per_sample(x, objective_labels), target_grad, dim=1)
            distance = (x - anchor).flatten(1).norm(dim=1)
            logit_gap = (logits(x) - target_logits).norm(dim=1)
            terms = 1 - cosine + settings.alpha / (distance + settings.distance_eps) + settings.beta * logit_gap
            return terms.mean() + settings.tv_weight * total_variation(x), cosine.detach()

        step = grad(objective, has_aux=True)
        x = start.detach().clone().requires_grad_(True)
        optimizer = torch.optim.Adam([x], lr=settings.lr)
        t = settings.iterations
        schedule = torch.optim.lr_scheduler.MultiStepLR(optimizer, [3 * t // 8, 5 * t // 8, 7 * t // 8], gamma=0.1)
        cosine_start = None
        for _ in range(t):
            gradient, cosine = step(x.detach())
            if cosine_start is None:
                cosine_start = cosine
            x.grad = gradient
            optimizer.step()
            schedule.step()
        with torch.no_grad():
            final = F.cosine_similarity(per_sample(x.detach(), objective_labels), target_grad, dim=1)
        shared = shared_cosine(x.detach())
    finally:
        model.train(was_training)
    return x.detach(), {"cosine_start": cosine_start, "cosine": final, "shared_cosine_start": shared_start,
                        "shared_cosine": shared}


def mixup_gradient(model: nn.Module, inputs: Tensor, targets: Tensor, slots: Tensor, mixed_labels: Tensor,
                   lam: float) -> list[Tensor]:
    """Gradient of the batch loss where each concealing row's cross entropy is ``lam`` on its own label plus
    ``1 - lam`` on the label of the image it conceals; every other row (the sensitive ones too) as usual; the
    sum divided by the batch size."""
    params = [p for p in model.parameters()]
    outputs = model(inputs)
    losses = F.cross_entropy(outputs, targets, reduction="none")
    mixed = lam * losses[slots] + (1 - lam) * F.cross_entropy(outputs[slots], mixed_labels, reduction="none")
    keep = torch.ones(len(inputs), dtype=torch.bool, device=inputs.device)
    keep[slots] = False
    loss = (losses[keep].sum() + mixed.sum()) / len(inputs)
    return list(torch.autograd.grad(loss, params, allow_unused=True))


def mean_gradient(model: nn.Module, inputs: Tensor, targets: Tensor) -> list[Tensor]:
    params = [p for p in model.parameters()]
    return list(torch.autograd.grad(F.cross_entropy(model(inputs), targets), params, allow_unused=True))


def project_gradient(gradients: list[Tensor], reference: list[Tensor], *, margin: float = 0.5, eps: float = 1e-3,
                     trigger: str = "any_coordinate") -> tuple[list[Tensor], bool]:
    """``g + max(margin, -<g, r> / (||r||^2 + eps)) * r`` over all parameters at once, when ``trigger`` fires.

    This is the solution of GEM's dual with one constraint (the reference gradient ``r`` of the batch's ordinary
    images): with ``margin = eps = 0`` it is the plain projection ``g - <g, r> / ||r||^2 * r`` whenever
    ``<g, r> < 0``, which leaves no negative inner product. ``trigger``: ``any_coordinate`` fires when any entry
    of ``g * r`` is negative (almost always, as the authors' code), ``inner_product`` when ``<g, r> < 0`` (the
    paper's rule), ``never`` shares ``g`` unprojected. Returns the gradients and whether they were changed."""
    if trigger not in TRIGGERS:
        raise ValueError(f"trigger={trigger!r}; allowed: {', '.join(TRIGGERS)}")
    g = torch.cat([t.flatten() for t in gradients])
    r = torch.cat([t.flatten() for t in reference]).to(g)
    dot = torch.dot(g, r)
    fire = {"any_coordinate": bool(((g * r) < 0).any()), "inner_product": bool(dot < 0), "never": False}[trigger]
    if not fire:
        return list(gradients), False
    coefficient = torch.clamp(-dot / (torch.dot(r, r) + eps), min=margin)
    out = g + coefficient * r
    shaped, start = [], 0
    for t in gradients:
        shaped.append(out[start:start + t.numel()].view_as(t))
        start += t.numel()
    return shaped, True
