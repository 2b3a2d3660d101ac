"""The generative-decoder attack's two ingredients: the attacker's prior images and a decoder mirroring the encoder.

The server of split learning knows the client part's weights but not the client's data. It draws images from a
distribution it does hold (its *prior*: Fashion-MNIST for an MNIST federation, another CIFAR split for CIFAR-10),
passes them through the encoder to get (activation, image) pairs and fits a decoder to invert the encoder on them
(He et al. 2019's inverse network, the setting of seed 004). How close the prior is to the clients' data and how
much the encoder's layers discard decide how well the decoder transfers to the victims' activations.
"""

from __future__ import annotations

import os
from typing import Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from fedpriv.fl.split import POOLS

# Dataset configs the prior may name; ``same`` is the target task's own training split (the server's public sample,
# disjoint from the attacked clients' test images).
PRIORS = ("same", "mnist", "fashion_mnist", "cifar10", "cifar100", "digits")


def load_prior(name: str, *, root: Optional[str], count: int, seed: int) -> Tensor:
    """``count`` uint8 training images of dataset ``name`` (a seeded draw), from ``root`` or the default data dir."""
    from fedpriv.data import sources

    classes = {"mnist": sources.MNIST, "fashion_mnist": sources.FashionMNIST, "cifar10": sources.CIFAR10,
               "cifar100": sources.CIFAR100, "digits": sources.Digits}
    data_dir = os.environ.get("FEDPRIV_DATA_DIR", "~/.cache/fedpriv/data")
    dataset = classes[name](root=root or os.path.join(data_dir, name), download=True)
    images = dataset.load().train.images
    pick = torch.randperm(len(images), generator=torch.Generator().manual_seed(seed))[:count]
    return images[pick]


def conform(images: Tensor, shape: tuple[int, int, int]) -> Tensor:
    """[0, 1] float images in the target's ``(C, H, W)``: grey repeated to colour or colour averaged to grey, then
    resized; a prior of another modality still has to enter the encoder the clients use."""
    x = images.float() / 255 if images.dtype == torch.uint8 else images.float()
    channels, height, width = shape
    if x.shape[1] != channels:
        x = x.mean(1, keepdim=True).expand(-1, channels, -1, -1) if channels != 1 else x.mean(1, keepdim=True)
    if tuple(x.shape[-2:]) != (height, width):
        x = F.interpolate(x, size=(height, width), mode="bilinear", align_corners=False)
    return x.clamp(0, 1).contiguous()


def _layers_in_order(encoder: nn.Module, x: Tensor) -> list[tuple[nn.Module, tuple, tuple]]:
    """The encoder's convolutions and poolings in the order they run, with their input and output shapes."""
    seen = []
    hooks = [m.register_forward_hook(lambda m, i, o: seen.append((m, tuple(i[0].shape[1:]), tuple(o.shape[1:]))))
             for m in encoder.modules() if isinstance(m, (nn.Conv2d, *POOLS))]
    try:
        with torch.no_grad():
            encoder(x)
    finally:
        for h in hooks:
            h.remove()
    return seen


class _Resize(nn.Module):
    def __init__(self, size: tuple[int, int]):
        super().__init__()
        self.size = size

    def forward(self, x: Tensor) -> Tensor:
        return F.interpolate(x, size=self.size, mode="nearest")


class MirrorDecoder(nn.Module):
    """One transposed convolution per encoder convolution (channels, kernel, stride and padding mirrored, output
    size matched exactly) and an upsampling per pooling, in reverse order, ReLU between them and a sigmoid at the
    end: images in [0, 1]. The decoder's capacity thus follows the encoder's, as in seed 004's attack."""

    def __init__(self, encoder: nn.Module, shape: tuple[int, int, int]):
        super().__init__()
        steps = _layers_in_order(encoder, torch.zeros(1, *shape))
        if not steps:
            raise ValueError("the client part has no convolution or pooling to mirror")
        layers: list[nn.Module] = []
        for module, in_shape, out_shape in reversed(steps):
            if isinstance(module, nn.Conv2d):
                conv = nn.ConvTranspose2d(module.out_channels, module.in_channels, module.kernel_size,
                                          stride=module.stride, padding=module.padding)
                got = conv(torch.zeros(1, *out_shape)).shape[-2:]
                extra = tuple(want - have for want, have in zip(in_shape[-2:], got))
                if any(e != 0 for e in extra):
                    if all(0 < e < s for e, s in zip(extra, module.stride)):
                        conv.output_padding = extra
                    else:
                        layers += [conv, nn.ReLU(), _Resize(in_shape[-2:])]
                        continue
                layers += [conv, nn.ReLU()]
            else:
                layers.append(_Resize(in_shape[-2:]))
        if isinstance(layers[-1], nn.ReLU):
            layers.pop()
        self.net = nn.Sequential(*layers)

    def forward(self, activations: Tensor) -> Tensor:
        return torch.sigmoid(self.net(activations))


def fit_decoder(decoder: MirrorDecoder, activations: Tensor, images: Tensor, *, epochs: int, lr: float,
                batch_size: int, seed: int) -> list[float]:
    """Fit ``decoder`` to map ``activations`` to ``images`` ([0, 1]) by pixel MSE with Adam; returns the mean
    loss of each epoch."""
    optimizer = torch.optim.Adam(decoder.parameters(), lr=lr)
    generator = torch.Generator().manual_seed(seed)
    losses = []
    decoder.train()
    for _ in range(epochs):
        order, total = torch.randperm(len(images), generator=generator), 0.0
        for index in order.split(batch_size):
            optimizer.zero_grad()
            loss = F.mse_loss(decoder(activations[index]), images[index])
            loss.backward()
            optimizer.step()
            total += float(loss.detach()) * len(index)
        losses.append(total / len(images))
    decoder.eval()
    return losses
