"""A multilayer perceptron whose first layer is fully connected on the flattened image.

That first layer is what the analytic attack reads: the gradient of a fully connected layer with a bias holds
its input exactly (Geiping et al. 2020; Phong et al. 2017), so an MLP is the textbook leaking victim.
"""

from __future__ import annotations

import math
from typing import Annotated

from torch import nn

from fedpriv.config.constraints import OneOf, Range
from fedpriv.models.common import Activation, InShape, NumClasses
from fedpriv.models.common import activation as make_activation


NORMS = ("none", "batch", "group", "layer")


def _norm(kind: str, units: int) -> list[nn.Module]:
    if kind == "batch":
        return [nn.BatchNorm1d(units)]
    if kind == "group":
        return [nn.GroupNorm(min(32, units), units)]
    if kind == "layer":
        return [nn.LayerNorm(units)]
    return []


class MLP(nn.Module):
    """``depth`` hidden fully connected layers of ``hidden`` units, then a linear classifier.

    Args:
        in_shape / num_classes: set by the trial from the dataset; the first layer takes ``C*H*W`` inputs.
        hidden: units of every hidden layer.
        depth: number of hidden layers.
        activation: non-linearity after each hidden layer.
        norm: normalisation after each hidden linear layer: ``none`` (the textbook victim), ``batch``
            (BatchNorm1d), ``group`` (GroupNorm over the hidden units, which DP-SGD can train) or ``layer``.
    """

    name = "mlp"

    def __init__(
        self,
        *,
        in_shape: InShape,
        num_classes: NumClasses,
        hidden: Annotated[int, Range(1, 65536)] = 256,
        depth: Annotated[int, Range(1, 32)] = 2,
        activation: Activation = "relu",
        norm: Annotated[str, OneOf(NORMS)] = "none",
    ):
        super().__init__()
        layers: list[nn.Module] = [nn.Flatten()]
        width = math.prod(in_shape)
        for _ in range(depth):
            layers += [nn.Linear(width, hidden), *_norm(norm, hidden), make_activation(activation)]
            width = hidden
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Linear(width, num_classes)

    def forward(self, x):
        return self.classifier(self.features(x))
