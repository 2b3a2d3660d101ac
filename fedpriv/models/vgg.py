"""VGG-11 without its fully connected block: torchvision's VGG-11 convolutions and one linear classifier."""

from __future__ import annotations

from typing import Annotated

from torch import nn
from torchvision.models.vgg import cfgs, make_layers

from fedpriv.config.constraints import OneOf
from fedpriv.models.common import InShape, NumClasses, output_numel

NORMS = ("batch", "group", "none")


class VGG11(nn.Module):
    """The model of seed 000 (about 9.23M weights at 32x32): VGG-11's eight convolutions (configuration "A"),
    then a single linear layer in place of the three fully connected layers.

    Args:
        norm: after each convolution, ``batch`` (BatchNorm, which Opacus replaces with GroupNorm under DP-SGD),
            ``group`` (that GroupNorm from the start: the same network in every arm of a comparison with DP-SGD)
            or ``none``.
    """

    name = "vgg11"

    def __init__(self, *, in_shape: InShape, num_classes: NumClasses,
                 norm: Annotated[str, OneOf(NORMS)] = "batch"):
        super().__init__()
        plan = list(cfgs["A"])
        # Keep only as many 2x2 poolings as the input can take, so small inputs (16x16) still end at 1x1.
        size, kept = min(in_shape[1:]), []
        for item in plan:
            if item == "M":
                if size < 2:
                    continue
                size //= 2
            kept.append(item)
        features = make_layers(kept, batch_norm=norm != "none")
        if norm == "group":
            # The GroupNorm Opacus' ModuleValidator.fix would put in place of each BatchNorm.
            for i, layer in enumerate(features):
                if isinstance(layer, nn.BatchNorm2d):
                    features[i] = nn.GroupNorm(min(32, layer.num_features), layer.num_features)
        if in_shape[0] != 3:
            features[0] = nn.Conv2d(in_shape[0], plan[0], kernel_size=3, padding=1)
        self.features = nn.Sequential(*features, nn.Flatten())
        self.classifier = nn.Linear(output_numel(self.features, in_shape), num_classes)

    def forward(self, x):
        return self.classifier(self.features(x))
