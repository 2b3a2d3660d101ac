"""The ConvNet of "Inverting Gradients" (Geiping et al. 2020): eight 3x3 convolutions of width w..4w, two poolings."""

from __future__ import annotations

from collections import OrderedDict
from typing import Annotated

from torch import nn

from fedpriv.config.constraints import OneOf, Range
from fedpriv.models.common import Activation, InShape, NumClasses, output_numel
from fedpriv.models.common import activation as make_activation

NORMS = ("batch", "group", "none")


def _norm(kind: str, channels: int) -> nn.Module:
    if kind == "batch":
        return nn.BatchNorm2d(channels)
    if kind == "group":
        return nn.GroupNorm(min(32, channels), channels)
    return nn.Identity()


class ConvNet(nn.Module):
    """Width-configurable ConvNet; width 64 is the setting of the Inverting Gradients paper (about 2.9M weights).

    Args:
        width: channels of the first convolution (later ones use 2x and 4x).
        activation: non-linearity after each convolution.
        norm: ``batch`` (as the paper), ``group`` or ``none``.
        pooling: ``max`` or ``avg`` for the two 3x3 poolings.
    """

    name = "convnet"

    def __init__(
        self,
        *,
        in_shape: InShape,
        num_classes: NumClasses,
        width: Annotated[int, Range(1, 1024)] = 64,
        activation: Activation = "relu",
        norm: Annotated[str, OneOf(NORMS)] = "batch",
        pooling: Annotated[str, OneOf(("max", "avg"))] = "max",
    ):
        super().__init__()
        w = width
        plan = [(in_shape[0], w), (w, 2 * w), (2 * w, 2 * w), (2 * w, 4 * w), (4 * w, 4 * w), (4 * w, 4 * w), "pool",
                (4 * w, 4 * w), (4 * w, 4 * w), "pool"]
        layers, conv_i, pool_i, size = OrderedDict(), 0, 0, min(in_shape[1:])
        for step in plan:
            if step == "pool":
                # A 3x3 pooling would empty maps smaller than 3 pixels (small inputs such as 16x16 digits).
                if size >= 3:
                    layers[f"pool{pool_i}"] = nn.MaxPool2d(3) if pooling == "max" else nn.AvgPool2d(3)
                    size //= 3
                pool_i += 1
                continue
            cin, cout = step
            layers[f"conv{conv_i}"] = nn.Conv2d(cin, cout, 3, padding=1)
            layers[f"norm{conv_i}"] = _norm(norm, cout)
            layers[f"act{conv_i}"] = make_activation(activation)
            conv_i += 1
        layers["flatten"] = nn.Flatten()
        self.features = nn.Sequential(layers)
        self.classifier = nn.Linear(output_numel(self.features, in_shape), num_classes)

    def forward(self, x):
        return self.classifier(self.features(x))
