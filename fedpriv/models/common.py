"""Pieces shared by the model definitions: activation choice and shape inference."""

from __future__ import annotations

from typing import Annotated

import torch
from torch import nn

from fedpriv.config.constraints import Injected, OneOf

ACTIVATIONS = {
    "relu": nn.ReLU,
    "leaky_relu": nn.LeakyReLU,
    "sigmoid": nn.Sigmoid,
    "tanh": nn.Tanh,
    "elu": nn.ELU,
    "gelu": nn.GELU,
    "silu": nn.SiLU,
}
Activation = Annotated[str, OneOf(ACTIVATIONS)]
InShape = Annotated[tuple, Injected()]
NumClasses = Annotated[int, Injected()]


def activation(name: str) -> nn.Module:
    return ACTIVATIONS[name]()


@torch.no_grad()
def output_numel(module: nn.Module, in_shape: tuple[int, ...]) -> int:
    """Features per sample that ``module`` produces for one input of ``in_shape`` (probed in eval mode)."""
    was_training = module.training
    module.eval()
    out = module(torch.zeros(1, *in_shape))
    module.train(was_training)
    return out[0].numel()
