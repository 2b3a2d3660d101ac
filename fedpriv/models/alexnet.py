"""A small AlexNet for 28x28 and 32x32 inputs: seed 004's deeper victim next to LeNet-5.

AlexNet's five convolutions keep their channel ratios (64/192/384/256/256 at ``conv_width=64``) but use 3x3
kernels with stride 1 and three 2x2 poolings, the usual small-image variant; dropout is left out because a
stochastic forward pass would make the shared gradient something no attacker can simulate.
"""

from __future__ import annotations

from typing import Annotated

from torch import nn

from fedpriv.config.constraints import Range
from fedpriv.models.common import Activation, InShape, NumClasses, output_numel
from fedpriv.models.common import activation as make_activation
from fedpriv.models.lenet5 import Init, Pooling, dlg_init, hidden_head, pool


class AlexNetSmall(nn.Module):
    """Five 3x3 convolutions (widths 1, 3, 6, 4 and 4 times ``conv_width``), poolings after the first, second
    and fifth, then two hidden linear layers of ``fc_width`` units and the classifier.

    Args:
        conv_width: channels of the first convolution (64 is AlexNet's).
        fc_width: units of both hidden linear layers.
        activation / pooling / init: as for :class:`~fedpriv.models.lenet5.LeNet5`.
    """

    name = "alexnet_small"

    def __init__(
        self,
        *,
        in_shape: InShape,
        num_classes: NumClasses,
        conv_width: Annotated[int, Range(1, 512)] = 64,
        fc_width: Annotated[int, Range(1, 8192)] = 512,
        activation: Activation = "relu",
        pooling: Pooling = "max",
        init: Init = "uniform",
    ):
        super().__init__()
        w = conv_width
        widths = [in_shape[0], w, 3 * w, 6 * w, 4 * w, 4 * w]
        layers, size = [], min(in_shape[1:])
        for i in range(5):
            layers += [nn.Conv2d(widths[i], widths[i + 1], 3, padding=1), make_activation(activation)]
            if i in (0, 1, 4) and size >= 2:  # small inputs (16x16 digits) keep at least a 2x2 map
                layers.append(pool(pooling))
                size //= 2
        self.features = nn.Sequential(*layers, nn.Flatten())
        self.classifier = hidden_head(output_numel(self.features, in_shape), fc_width, num_classes, activation)
        if init == "uniform":
            dlg_init(self)

    def forward(self, x):
        return self.classifier(self.features(x))
