"""LeNet-5 with separate knobs for the convolutions, the hidden linear layers, the pooling and the activation.

Seed 004 measures how each of these choices changes what gradient inversion recovers, so each is its own key:
two 5x5 convolutions of ``conv_width`` channels, each followed by the activation and a 2x2 pooling, then two
hidden linear layers of ``fc_width`` units and the classifier (LeNet-5's 6/16 channels and 120/84 units are
``conv_width=6 fc_width=120`` up to the second layer's widths).
"""

from __future__ import annotations

from typing import Annotated

from torch import nn

from fedpriv.config.constraints import OneOf, Range
from fedpriv.models.common import Activation, InShape, NumClasses, output_numel
from fedpriv.models.common import activation as make_activation

POOLINGS = ("max", "avg")
Pooling = Annotated[str, OneOf(POOLINGS)]
Init = Annotated[str, OneOf(("uniform", "default"))]


def pool(kind: str) -> nn.Module:
    return nn.MaxPool2d(2) if kind == "max" else nn.AvgPool2d(2)


def dlg_init(model: nn.Module) -> None:
    """DLG's U(-0.5, 0.5) draw of every weight: the original implementation's, which the seed used."""
    for p in model.parameters():
        nn.init.uniform_(p, -0.5, 0.5)


def hidden_head(in_features: int, fc_width: int, num_classes: int, activation: str) -> nn.Sequential:
    """Seed 004's classifier head: two hidden linear layers of ``fc_width`` units, then the class scores."""
    return nn.Sequential(
        nn.Linear(in_features, fc_width), make_activation(activation),
        nn.Linear(fc_width, fc_width), make_activation(activation),
        nn.Linear(fc_width, num_classes),
    )


class LeNet5(nn.Module):
    """Two conv + pool stages and two hidden linear layers.

    Args:
        in_shape / num_classes: set by the trial from the dataset (28x28 and 32x32 inputs end at 5x5 or 6x6 maps;
            16x16 digits at 2x2).
        conv_width: channels of both convolutions (seed 004 sweeps 16/64/128/256).
        fc_width: units of both hidden linear layers (16/64/128/256).
        activation: non-linearity after every convolution and hidden layer (relu, tanh, sigmoid...).
        pooling: ``max`` or ``avg`` 2x2 pooling after each convolution.
        init: ``uniform`` (DLG's U(-0.5, 0.5), as the seed's DLG runs) or ``default`` (PyTorch's).
    """

    name = "lenet5"

    def __init__(
        self,
        *,
        in_shape: InShape,
        num_classes: NumClasses,
        conv_width: Annotated[int, Range(1, 1024)] = 64,
        fc_width: Annotated[int, Range(1, 8192)] = 64,
        activation: Activation = "relu",
        pooling: Pooling = "max",
        init: Init = "uniform",
    ):
        super().__init__()
        c = conv_width
        self.features = nn.Sequential(
            nn.Conv2d(in_shape[0], c, 5, padding=2), make_activation(activation), pool(pooling),
            nn.Conv2d(c, c, 5, padding=0 if min(in_shape[1:]) >= 16 else 2), make_activation(activation),
            pool(pooling), nn.Flatten(),
        )
        self.classifier = hidden_head(output_numel(self.features, in_shape), fc_width, num_classes, activation)
        if init == "uniform":
            dlg_init(self)

    def forward(self, x):
        return self.classifier(self.features(x))
