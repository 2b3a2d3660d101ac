"""ResNet-18 and ResNet-50 from torchvision with the usual small-image stem (3x3 stride-1 first convolution, no
max-pool): the CIFAR variants of the seed papers' victims and judges."""

from __future__ import annotations

from typing import Annotated

from torch import nn
from torchvision.models.resnet import BasicBlock, Bottleneck, ResNet

from fedpriv.config.constraints import OneOf
from fedpriv.models.common import InShape, NumClasses

Stem = Annotated[str, OneOf(("small", "imagenet"))]
NORMS = ("batch", "group")
Norm = Annotated[str, OneOf(NORMS)]


def _group_norm(channels: int) -> nn.GroupNorm:
    # The GroupNorm Opacus' ModuleValidator.fix puts in place of BatchNorm, so a DP-SGD run changes nothing.
    return nn.GroupNorm(min(32, channels), channels)


class _BasicBlock(BasicBlock):
    """torchvision's block with an out-of-place residual sum: Opacus' per-example hooks (DP-SGD) reject the
    in-place ``out += identity`` on a hooked module's output. Same layers, same state_dict."""

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.bn2(self.conv2(out))
        return self.relu(out + identity)


class _Bottleneck(Bottleneck):
    """torchvision's bottleneck with the same out-of-place residual sum as :class:`_BasicBlock`."""

    def forward(self, x):
        identity = x if self.downsample is None else self.downsample(x)
        out = self.relu(self.bn1(self.conv1(x)))
        out = self.relu(self.bn2(self.conv2(out)))
        out = self.bn3(self.conv3(out))
        return self.relu(out + identity)


def _resnet(block, layers: list[int], in_shape, num_classes: int, stem: str, norm: str) -> ResNet:
    net = ResNet(block, layers, num_classes=num_classes, norm_layer=_group_norm if norm == "group" else None)
    if stem == "small":
        net.conv1 = nn.Conv2d(in_shape[0], 64, kernel_size=3, stride=1, padding=1, bias=False)
        net.maxpool = nn.Identity()
    elif in_shape[0] != 3:
        net.conv1 = nn.Conv2d(in_shape[0], 64, kernel_size=7, stride=2, padding=3, bias=False)
    return net


class ResNet18(nn.Module):
    """torchvision's ResNet-18, with the stem adapted to the dataset's channels.

    Args:
        stem: ``small`` (3x3 stride 1, no max-pool: the CIFAR variant) or ``imagenet`` (7x7 stride 2 + max-pool),
            for inputs of 64 pixels and more.
        norm: ``batch`` (torchvision's) or ``group`` (GroupNorm, what DP-SGD trains: one architecture for every
            arm of a comparison with a DP baseline).
    """

    name = "resnet18"

    def __init__(self, *, in_shape: InShape, num_classes: NumClasses, stem: Stem = "small", norm: Norm = "batch"):
        super().__init__()
        self.net = _resnet(_BasicBlock, [2, 2, 2, 2], in_shape, num_classes, stem, norm)

    def forward(self, x):
        return self.net(x)


class ResNet50(nn.Module):
    """torchvision's ResNet-50 (bottleneck blocks, 3-4-6-3), with the stem adapted as for :class:`ResNet18`.

    Seed 000 judged reconstructions with a ResNet-50 (``evaluator=resnet50``).

    Args:
        stem: ``small`` (the CIFAR variant) or ``imagenet``.
        norm: ``batch`` or ``group``, as for :class:`ResNet18`.
    """

    name = "resnet50"

    def __init__(self, *, in_shape: InShape, num_classes: NumClasses, stem: Stem = "small", norm: Norm = "batch"):
        super().__init__()
        self.net = _resnet(_Bottleneck, [3, 4, 6, 3], in_shape, num_classes, stem, norm)

    def forward(self, x):
        return self.net(x)
