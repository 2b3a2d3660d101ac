"""LeNet as used by Deep Leakage from Gradients: three stride-2/2/1 convolutions with sigmoid and one linear layer."""

from __future__ import annotations

from typing import Annotated

from torch import nn

from fedpriv.config.constraints import OneOf, Range
from fedpriv.models.common import Activation, InShape, NumClasses, output_numel
from fedpriv.models.common import activation as make_activation


class LeNet(nn.Module):
    """DLG's LeNet (12 channels, 5x5 kernels); ``init="uniform"`` draws weights from U(-0.5, 0.5) as DLG did,
    which keeps sigmoid units out of saturation and makes the gradients informative.

    Args:
        in_shape / num_classes: set by the trial from the dataset.
        activation: non-linearity (DLG: sigmoid; must be twice differentiable for gradient matching).
        channels: width of every convolution.
        init: ``uniform`` (DLG) or ``default`` (PyTorch's initialisation).
    """

    name = "lenet"

    def __init__(
        self,
        *,
        in_shape: InShape,
        num_classes: NumClasses,
        activation: Activation = "sigmoid",
        channels: Annotated[int, Range(1, 1024)] = 12,
        init: Annotated[str, OneOf(("uniform", "default"))] = "uniform",
    ):
        super().__init__()
        c = channels
        self.body = nn.Sequential(
            nn.Conv2d(in_shape[0], c, 5, padding=2, stride=2),
            make_activation(activation),
            nn.Conv2d(c, c, 5, padding=2, stride=2),
            make_activation(activation),
            nn.Conv2d(c, c, 5, padding=2, stride=1),
            make_activation(activation),
            nn.Flatten(),
        )
        self.fc = nn.Linear(output_numel(self.body, in_shape), num_classes)
        if init == "uniform":
            for p in self.parameters():
                nn.init.uniform_(p, -0.5, 0.5)

    def forward(self, x):
        return self.fc(self.body(x))
