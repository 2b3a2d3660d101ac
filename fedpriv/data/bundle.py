"""In-memory image sets: uint8 tensors, so that data-side defenses (posterize, equalize...) act on real pixels."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor


@dataclass
class ImageSet:
    """Images as uint8 ``(N, C, H, W)`` and integer labels ``(N,)``."""

    images: Tensor
    labels: Tensor

    def __post_init__(self):
        if self.images.dtype != torch.uint8 or self.images.ndim != 4:
            raise ValueError(f"images must be uint8 (N, C, H, W), got {self.images.dtype} {tuple(self.images.shape)}")
        if len(self.images) != len(self.labels):
            raise ValueError(f"{len(self.images)} images but {len(self.labels)} labels")
        self.labels = self.labels.long()

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, index: Tensor) -> "ImageSet":
        return ImageSet(self.images[index], self.labels[index])


@dataclass
class DatasetBundle:
    """A dataset ready for a trial: train and test images, class names and the normalisation models see."""

    name: str
    train: ImageSet
    test: ImageSet
    classes: list[str]
    mean: tuple[float, ...]
    std: tuple[float, ...]

    @property
    def shape(self) -> tuple[int, int, int]:
        return tuple(self.test.images.shape[1:])

    @property
    def num_classes(self) -> int:
        return len(self.classes)

    def _stats(self, like: Tensor) -> tuple[Tensor, Tensor]:
        mean = torch.tensor(self.mean, dtype=torch.float32, device=like.device).view(1, -1, 1, 1)
        std = torch.tensor(self.std, dtype=torch.float32, device=like.device).view(1, -1, 1, 1)
        return mean, std

    def normalize(self, images: Tensor) -> Tensor:
        """uint8 images (or floats in [0, 1]) to the normalised floats the models take."""
        x = images.float() / 255.0 if images.dtype == torch.uint8 else images
        mean, std = self._stats(x)
        return (x - mean) / std

    def denormalize(self, x: Tensor) -> Tensor:
        """Model-space floats back to [0, 1] images (clamped), for metrics and pictures."""
        mean, std = self._stats(x)
        return (x * std + mean).clamp(0, 1)

    def bounds(self, device=None) -> tuple[Tensor, Tensor]:
        """Per-channel model-space values of pixel 0 and pixel 1: the box reconstructions are kept in."""
        mean, std = self._stats(torch.empty(0, device=device))
        return (0 - mean) / std, (1 - mean) / std


    def population(self, device=None):
        """Other clients' data for aggregating protocols: ``draw(n, generator)`` returns ``n`` training images
        (normalised, on ``device``) and their labels, picked with ``generator``."""

        def draw(n: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
            pick = torch.randint(len(self.train), (n,), generator=generator)
            return self.normalize(self.train.images[pick]).to(device), self.train.labels[pick].to(device)

        return draw


def channel_stats(images: Tensor) -> tuple[tuple[float, ...], tuple[float, ...]]:
    x = images.float() / 255.0
    mean = x.mean(dim=(0, 2, 3))
    std = x.std(dim=(0, 2, 3)).clamp_min(1e-3)
    return tuple(round(v, 4) for v in mean.tolist()), tuple(round(v, 4) for v in std.tolist())
