"""What the server receives from the target client, and the user-side protocols that produce it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call, grad, vmap


@dataclass
class SharedUpdate:
    """The target client's contribution as the server sees it.

    ``gradients`` holds one tensor per parameter of the model, in ``model.parameters()`` order. For FedSGD it
    is the gradient of the mean loss over the client's batch; protocols that share weight differences state so
    in ``kind`` and describe their local training in ``info`` (local steps, learning rate, client count).
    """

    gradients: list[Tensor]
    batch_size: int
    kind: str = "gradient"
    info: dict[str, Any] = field(default_factory=dict)


def batch_gradients(model: nn.Module, x: Tensor, labels: Tensor) -> list[Tensor]:
    loss = F.cross_entropy(model(x), labels)
    return list(torch.autograd.grad(loss, [p for p in model.parameters()]))


def per_sample_gradients(model: nn.Module, x: Tensor, labels: Tensor) -> list[Tensor]:
    """Per-example gradients ``(B, *param.shape)`` via ``torch.func`` (needs a model without BatchNorm)."""
    params = {k: v.detach() for k, v in model.named_parameters()}
    buffers = {k: v.detach() for k, v in model.named_buffers()}

    def loss_one(p, b, xi, yi):
        out = functional_call(model, (p, b), (xi.unsqueeze(0),))
        return F.cross_entropy(out, yi.unsqueeze(0))

    grads = vmap(grad(loss_one), in_dims=(None, None, 0, 0))(params, buffers, x, labels)
    return [grads[name] for name, _ in model.named_parameters()]


Population = Callable[[int, torch.Generator], tuple[Tensor, Tensor]]
"""Draws ``n`` images (model space) and labels of other clients, for protocols that mix several clients."""


def functional_loss(model: nn.Module, params: dict[str, Tensor], buffers: dict[str, Tensor], x: Tensor,
                    labels: Tensor) -> Tensor:
    """Cross-entropy of ``model`` with the given weights; ``labels`` are class indices or class probabilities."""
    return F.cross_entropy(functional_call(model, (params, buffers), (x,)), labels)


class Protocol:
    """A user-side FL protocol: how the target client turns its batch into the update the server sees.

    ``shared_update`` is what the client really computes (and its defense transforms). ``simulate`` is the
    attacker's differentiable replica of the same computation for candidate inputs, written with ``torch.func``
    so attacks can run it under ``vmap`` for many problems at once. ``population`` gives the protocol other
    clients' data when it aggregates several clients; protocols that see only the target client ignore it.
    """

    name: ClassVar[str] = "protocol"
    batch_size: int = 1
    # Images the attacker must reconstruct per shared update (more than batch_size when clients are aggregated).
    @property
    def reconstruct_size(self) -> int:
        return self.batch_size

    def simulate(self, model: nn.Module, params: dict[str, Tensor], buffers: dict[str, Tensor], x: Tensor,
                 labels: Tensor) -> list[Tensor]:
        """The update this protocol shares for inputs ``x``, differentiable with respect to ``x``.

        The default is one gradient of the mean loss (FedSGD), in ``model.named_parameters()`` order.
        """
        gradients = grad(lambda p: functional_loss(model, p, buffers, x, labels))(params)
        return [gradients[name] for name in params]

    def shared_update(self, model: nn.Module, x: Tensor, labels: Tensor, *,
                      defend_update: Callable[..., list[Tensor]], population: Population | None = None,
                      generator: torch.Generator | None = None) -> SharedUpdate:
        raise NotImplementedError
