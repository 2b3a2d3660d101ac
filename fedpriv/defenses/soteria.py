"""Soteria (Sun et al., CVPR 2021, "Provable defense against privacy leakage in federated learning from
representation perspective"): prune the representation layer's gradient where it reveals the input most.

The representation r is the input of the model's last linear layer; the gradient of that layer's weight is
``dL/dlogits * r^T``, so column i of it is proportional to unit r_i. The paper perturbs r so that the input
reconstructed from it moves as far as possible while r itself moves little, and approximates the best single
unit to remove by the largest ``|r_i| / ||dr_i/dx||``. The authors' code (``jeremy313/Soteria``) scores each
unit by the reciprocal, ``||dr_i/dx|| / (r_i + 0.1)`` summed over the batch (the 0.1 keeps units that a ReLU
switched off finite), and zeroes the weight-gradient columns of the units scoring below the p-th percentile:
the p% of units with the largest ``|r_i| / ||dr_i/dx||``. This module follows that code, with ``|r_i|`` so that
representations of either sign are scored alike (identical for ReLU and sigmoid features).
"""

from __future__ import annotations


import torch
from torch import Tensor, nn
from torch.func import functional_call

from fedpriv.defenses.client import ClientStep
from fedpriv.defenses.prune import FractionDefense

# Units whose input-gradients are computed in one batched backward pass (memory: chunk x batch x input size).
CHUNK = 64
OFFSET = 0.1  # the authors' code: score = ||dr/dx|| / (r + 0.1)


def last_linear(model: nn.Module) -> nn.Linear:
    """The model's last ``nn.Linear`` in registration order: the classifier head of every fedpriv model."""
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not linears:
        raise ValueError(f"Soteria needs a model with a linear layer; {type(model).__name__} has none")
    return linears[-1]


def representation(model: nn.Module, inputs: Tensor) -> tuple[Tensor, Tensor]:
    """``(x, r)``: a differentiable copy of ``inputs`` and the input of the last linear layer on it, flattened.

    Buffers are cloned so that a train-mode forward leaves the client's BatchNorm statistics untouched.
    """
    layer = last_linear(model)
    captured: list[Tensor] = []
    handle = layer.register_forward_hook(lambda module, args, output: captured.append(args[0]))
    x = inputs.detach().clone().requires_grad_(True)
    try:
        state = {**dict(model.named_parameters()), **{k: v.clone() for k, v in model.named_buffers()}}
        functional_call(model, state, (x,))
    finally:
        handle.remove()
    return x, captured[-1].flatten(1)


def soteria_scores(model: nn.Module, inputs: Tensor) -> Tensor:
    """Per representation unit i: ``sum_n ||d r_i(x_n) / d x_n|| / (|r_i(x_n)| + 0.1)``, shape ``(D,)``.

    One backward pass per unit (batched with ``is_grads_batched``); each sample's gradient stays its own as long
    as samples do not interact (an eval-mode model; train-mode BatchNorm couples them slightly, as in the
    authors' code).
    """
    x, r = representation(model, inputs)
    n, units = r.shape
    norms = torch.empty(units, n, device=r.device)
    for start in range(0, units, CHUNK):
        index = torch.arange(start, min(start + CHUNK, units), device=r.device)
        seeds = torch.zeros(len(index), n, units, device=r.device, dtype=r.dtype)
        seeds[torch.arange(len(index)), :, index] = 1
        try:
            (grads,) = torch.autograd.grad(r, x, seeds, retain_graph=True, is_grads_batched=True)
        except RuntimeError:  # an op without a batched backward rule: one unit at a time
            grads = torch.stack([torch.autograd.grad(r, x, s, retain_graph=True)[0] for s in seeds])
        norms[index] = grads.flatten(2).norm(dim=2)
    return (norms / (r.detach().abs().T + OFFSET)).sum(1)


class Soteria(FractionDefense):
    """Zero the last linear layer's weight-gradient columns of the fraction ``p`` of representation units that
    Soteria's score ranks as most revealing.

    Args:
        p: fraction of representation units pruned (seed 002: 0.05 or 0.01 on MNIST, 0.9 on CIFAR-10; the
            authors' code takes it as a percentage).

    The representation layer is found automatically: the input of the last ``nn.Linear`` of the client's model.
    Units are ranked by the authors' score (see the module docstring) and the ``floor(p * D)`` lowest are pruned.
    Only that weight gradient changes; the bias and every other layer are shared as computed, so an attack that
    puts its own layer in front of the model (Imprint) is unaffected, as seed 002 found.
    """

    name = "soteria"
    title = "Soteria"
    def pruned_units(self, model: nn.Module, inputs: Tensor) -> Tensor:
        """Indices of the representation units whose gradient columns are zeroed for ``inputs``."""
        scores = soteria_scores(model, inputs)
        count = min(len(scores), int(self.p * len(scores) + 1e-6))
        return torch.argsort(scores, stable=True)[:count]

    def defend_update(self, gradients: list[Tensor], step: ClientStep) -> list[Tensor]:
        model = step.model
        weight = last_linear(model).weight
        position = next((i for i, p in enumerate(model.parameters()) if p is weight), None)
        if position is None or position >= len(gradients):
            raise ValueError("Soteria: the last linear layer's weight is not among the shared gradients")
        units = self.pruned_units(model, step.inputs)
        out = list(gradients)
        out[position] = gradients[position].clone()
        out[position][:, units.to(out[position].device)] = 0
        return out
