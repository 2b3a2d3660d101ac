"""The adaptive attack on LODA (``attack.decode=loda_inverse``; seed 003): after gradient inversion recovers an
obscured image x̂', look for the private image x at which x̂' is a stationary point of LODA's objective.

LODA's descent stops where the gradient of ``F(x') = sum_l ||g_l(x') - g_l(x)||^2 - c ||x' - x||^2`` vanishes,

    r(x) = J_g(x̂')^T (g(x̂') - g(x)) - c (x̂' - x) = 0,

a condition on x that the attacker, who knows ``g``, can solve for: minimise ``||r(x)||^2`` over the image box.
``J_g(x̂')^T v`` is one vector-Jacobian product, ``autograd.grad(g(x̂'), x̂', grad_outputs=v, create_graph=True)``;
x gets its gradient through ``v = g(x̂') - g(x)`` and the linear term.

Where LODA's box projection saturated a pixel of x̂' the gradient need not vanish, only point outwards (KKT): at
0 a minimiser has ``r >= 0``, at 1 ``r <= 0``. With ``kkt`` (the default) those pixels are penalised only when they
violate that sign, instead of being pulled towards an equality LODA never reached.

The attacker's ``c`` is a tuned hyperparameter (the paper picks 1 from {0, 1, 5, 10, 20}); ``attack.decode_c`` can
be swept like any key.
"""

from __future__ import annotations

import torch
from torch import Tensor

from fedpriv.defenses.loda_encode import Features

SATURATED = 0.5 / 255  # a pixel this close to 0 or 1 counts as held by the box


def stationarity_residual(g: Features, x_hat: Tensor, features_hat: list[Tensor], x: Tensor, c: float) -> Tensor:
    """``r(x)`` for every image (same shape as ``x``), differentiable in ``x``; ``features_hat`` is ``g(x_hat)``
    computed with ``x_hat`` requiring grad (its graph is reused for every product)."""
    v = [fh.detach() - fx for fh, fx in zip(features_hat, g(x))]
    (vjp,) = torch.autograd.grad(features_hat, x_hat, grad_outputs=v, create_graph=True, retain_graph=True)
    return vjp - c * (x_hat.detach() - x)


def residual_loss(r: Tensor, x_hat: Tensor, kkt: bool) -> Tensor:
    """Per image, the squared violation of stationarity (KKT-aware at saturated pixels when ``kkt``)."""
    if not kkt:
        return (r ** 2).flatten(1).sum(1)
    low, high = x_hat <= SATURATED, x_hat >= 1 - SATURATED
    violation = torch.where(low, torch.relu(-r), torch.where(high, torch.relu(r), r))
    return (violation ** 2).flatten(1).sum(1)


def loda_inverse(g: Features, x_hat: Tensor, *, c: float = 1.0, steps: int = 100, lr: float = 0.05,
                 kkt: bool = True) -> Tensor:
    """Estimates of the private images behind obscured images ``x_hat`` (``(N, C, H, W)`` in [0, 1]): Adam on
    ``x`` from a uniform grey image, clamped to the box after every step.

    Not from ``x_hat`` itself: ``x = x_hat`` zeroes both terms of the residual, a trivial solution (every image
    is a stationary point of LODA's objective for itself) that a descent started there never leaves."""
    x_hat = x_hat.detach().float().clone().requires_grad_(True)
    features_hat = g(x_hat)
    x = torch.full_like(x_hat.detach(), 0.5).requires_grad_(True)
    optimizer = torch.optim.Adam([x], lr=lr)
    for _ in range(steps):
        optimizer.zero_grad()
        loss = residual_loss(stationarity_residual(g, x_hat, features_hat, x, c), x_hat.detach(), kkt).sum()
        loss.backward(inputs=[x])
        optimizer.step()
        with torch.no_grad():
            x.clamp_(0, 1)
    return x.detach()


def loda_decode_targets(cfg, data, batches, protocol, defense, attack, victim, device, seed) -> dict[str, Tensor]:
    """The trial's images with each gradient-inverted reconstruction replaced by its LODA inverse (``initial``
    and ``defended`` kept: the inversion's start and the obscured image)."""
    from fedpriv.trial import _attack_targets

    images = _attack_targets(cfg, data, batches, protocol, defense, attack, victim, device, seed)
    g = loda_defense(defense).features()
    decoded = loda_inverse(g, images["reconstruction"].float(), c=attack.decode_c, steps=attack.decode_steps,
                           lr=attack.decode_lr)
    return {**images, "reconstruction": decoded}


def loda_defense(defense):
    """The LODA member of a built defense (itself, or a member of a stack), or None."""
    from fedpriv.defenses.loda import Loda

    for member in [defense, *getattr(defense, "members", [])]:
        if isinstance(member, Loda):
            return member
    return None
