"""Datasets a trial can use, each a component built from ``conf/dataset/*.yaml``.

Every loader returns a :class:`DatasetBundle` of uint8 tensors. The torchvision datasets download when
``download`` is true and the machine is online; CIFAR-10/100 also accept an ImageFolder tree (``train/`` and
``test/`` class folders) as their root, and MNIST/Fashion-MNIST accept a folder holding the raw idx(.gz) files.
``Digits`` (scikit-learn's bundled handwritten digits) needs no download at all and is the default.
"""

from __future__ import annotations

import gzip
import os
from pathlib import Path
from typing import Annotated, ClassVar, Optional

import numpy as np
import torch
import torchvision.transforms.v2.functional as TF
from torch import Tensor

from fedpriv.config.constraints import OneOf, Range
from fedpriv.data.bundle import DatasetBundle, ImageSet, channel_stats
from fedpriv.data.imagefolder import is_imagefolder, read_imagefolder
from fedpriv.errors import DatasetNotFound

Size = Annotated[Optional[int], Range(16, 1024)]
PerClass = Annotated[Optional[int], Range(1)]


def expand(path: str | os.PathLike) -> Path:
    return Path(os.path.expandvars(os.path.expanduser(str(path))))


class ImageDataset:
    """Common options: where the data lives, an optional resize, and seeded per-class subsets.

    Args:
        root: folder holding the data (downloaded into when ``download`` is true).
        download: fetch the files when they are missing and the machine is online.
        image_size: resize images to this square size (null keeps the native size).
        train_per_class / test_per_class: keep at most this many images of each class (a seeded choice that
            does not depend on the trial seed, so every trial of a sweep sees the same data).
        subset_seed: seed of that choice.
    """

    name: ClassVar[str] = "dataset"
    mean: ClassVar[tuple[float, ...] | None] = None
    std: ClassVar[tuple[float, ...] | None] = None

    def __init__(
        self,
        *,
        root: Optional[str] = None,
        download: bool = True,
        image_size: Size = None,
        train_per_class: PerClass = None,
        test_per_class: PerClass = None,
        subset_seed: int = 0,
    ):
        self.root = expand(root) if root else None
        self.download = download
        self.image_size = image_size
        self.train_per_class = train_per_class
        self.test_per_class = test_per_class
        self.subset_seed = subset_seed

    def load(self) -> DatasetBundle:
        train, test, classes = self.read()
        train = self._limit(train, self.train_per_class, salt=0)
        test = self._limit(test, self.test_per_class, salt=1)
        if self.image_size and tuple(train.images.shape[-2:]) != (self.image_size, self.image_size):
            train = ImageSet(_resize(train.images, self.image_size), train.labels)
            test = ImageSet(_resize(test.images, self.image_size), test.labels)
        if self.mean is not None and self.std is not None and train.images.shape[1] == len(self.mean):
            mean, std = self.mean, self.std
        else:
            mean, std = channel_stats(train.images)
        return DatasetBundle(self.name, train, test, list(classes), tuple(mean), tuple(std))

    def read(self) -> tuple[ImageSet, ImageSet, list[str]]:
        raise NotImplementedError

    def _limit(self, images: ImageSet, per_class: int | None, salt: int) -> ImageSet:
        if per_class is None:
            return images
        return images.subset(per_class_subset(images.labels, per_class, seed=self.subset_seed * 2 + salt))


def per_class_subset(labels: Tensor, per_class: int, seed: int) -> Tensor:
    """Indices of at most ``per_class`` images of each class, chosen by a seeded shuffle, in ascending order."""
    generator = torch.Generator().manual_seed(seed)
    keep = []
    for c in labels.unique(sorted=True).tolist():
        idx = (labels == c).nonzero().flatten()
        keep.append(idx[torch.randperm(len(idx), generator=generator)[:per_class]])
    return torch.cat(keep).sort().values


def _resize(images: Tensor, size: int) -> Tensor:
    return TF.center_crop(TF.resize(images, size, antialias=True), [size, size])


class Digits(ImageDataset):
    """scikit-learn's bundled handwritten digits: 1,797 real 8x8 grey images of 0-9, shipped offline.

    The native 8x8 images are upsampled (bilinear) to ``image_size`` so that convolutional models and SSIM's
    11-pixel window have room; a seeded, stratified split gives the test set.
    """

    name = "digits"
    channels = 1

    def __init__(self, *, image_size: Size = 16, test_fraction: Annotated[float, Range(0.05, 0.5)] = 0.25, **common):
        super().__init__(image_size=image_size, **common)
        self.test_fraction = test_fraction

    def read(self):
        from sklearn.datasets import load_digits
        from sklearn.model_selection import train_test_split

        digits = load_digits()
        images = torch.from_numpy(np.round(digits.images * (255.0 / 16.0)).astype(np.uint8)).unsqueeze(1)
        labels = torch.from_numpy(digits.target.astype(np.int64))
        train_idx, test_idx = train_test_split(
            np.arange(len(labels)), test_size=self.test_fraction, stratify=labels.numpy(), random_state=0
        )
        train_idx, test_idx = torch.from_numpy(np.sort(train_idx)), torch.from_numpy(np.sort(test_idx))
        classes = [str(d) for d in range(10)]
        return ImageSet(images[train_idx], labels[train_idx]), ImageSet(images[test_idx], labels[test_idx]), classes


class _TorchvisionDataset(ImageDataset):
    """A torchvision dataset, or an ImageFolder tree at the same root."""

    tv_name: ClassVar[str] = ""
    title: ClassVar[str] = ""

    def read(self):
        root = self._root()
        if is_imagefolder(root):
            return read_imagefolder(root, self.train_per_class, self.test_per_class, self.subset_seed, channels=self.channels)
        raw = self._read_raw(root)
        if raw is not None:
            return raw
        import torchvision.datasets as tvd

        cls = getattr(tvd, self.tv_name)
        try:
            train = cls(str(root), train=True, download=self.download)
            test = cls(str(root), train=False, download=self.download)
        except Exception as err:  # torchvision raises RuntimeError/URLError; both mean "not here"
            raise DatasetNotFound(self._not_found(root, err)) from err
        return self._to_imageset(train), self._to_imageset(test), list(train.classes)

    channels: ClassVar[int] = 3

    def _root(self) -> Path:
        return self.root if self.root is not None else expand(f"~/.cache/fedpriv/data/{self.name}")

    def _read_raw(self, root: Path):
        return None

    @staticmethod
    def _to_imageset(ds) -> ImageSet:
        data = torch.as_tensor(np.asarray(ds.data))
        images = data.unsqueeze(1) if data.ndim == 3 else data.permute(0, 3, 1, 2)
        return ImageSet(images.contiguous(), torch.as_tensor(ds.targets))

    def _not_found(self, root: Path, err: Exception) -> str:
        how = "could not be downloaded" if self.download else "dataset.download=false"
        return (
            f"dataset.root={str(root)!r} holds no {self.title} ({how}: {err}). Set dataset.root to a folder with the "
            f"{self.title} files or an ImageFolder tree (train/ and test/ class folders), or run online with "
            "dataset.download=true."
        )

    @classmethod
    def config_problems(cls, root=None, download=True, **_):
        if root and not download and not expand(root).exists():
            return [f"root={root!r} does not exist and download=false; set dataset.root to the folder holding the data"]
        return []


class CIFAR10(_TorchvisionDataset):
    name, tv_name, title = "cifar10", "CIFAR10", "CIFAR-10"
    mean, std = (0.4914, 0.4822, 0.4465), (0.2470, 0.2435, 0.2616)


class CIFAR100(_TorchvisionDataset):
    name, tv_name, title = "cifar100", "CIFAR100", "CIFAR-100"
    mean, std = (0.5071, 0.4865, 0.4409), (0.2673, 0.2564, 0.2762)


class _IdxDataset(_TorchvisionDataset):
    """MNIST-style data: also reads the four raw idx(.gz) files from ``root`` or ``root/<Name>/raw``."""

    channels = 1
    class_names: ClassVar[list[str]] = []

    def _read_raw(self, root: Path):
        found = {}
        for split, prefix in (("train", "train"), ("test", "t10k")):
            for kind in ("images-idx3-ubyte", "labels-idx1-ubyte"):
                found[(split, kind)] = _find_idx(root, self.tv_name, f"{prefix}-{kind}")
        if not any(found.values()):
            return None
        missing = [f"{'t10k' if s == 'test' else s}-{k}" for (s, k), p in found.items() if p is None]
        if missing:
            raise DatasetNotFound(
                f"dataset.root={str(root)!r} holds only part of {self.title}: missing {', '.join(missing)}(.gz)"
            )
        sets = []
        for split in ("train", "test"):
            images = torch.from_numpy(_read_idx(found[(split, "images-idx3-ubyte")])).unsqueeze(1)
            labels = torch.from_numpy(_read_idx(found[(split, "labels-idx1-ubyte")]).astype(np.int64))
            sets.append(ImageSet(images, labels))
        return sets[0], sets[1], list(self.class_names)


class MNIST(_IdxDataset):
    name, tv_name, title = "mnist", "MNIST", "MNIST"
    mean, std = (0.1307,), (0.3081,)
    class_names = [str(d) for d in range(10)]


class FashionMNIST(_IdxDataset):
    name, tv_name, title = "fashion_mnist", "FashionMNIST", "Fashion-MNIST"
    mean, std = (0.2860,), (0.3530,)
    class_names = ["t-shirt/top", "trouser", "pullover", "dress", "coat", "sandal", "shirt", "sneaker", "bag", "ankle boot"]


def _find_idx(root: Path, tv_name: str, stem: str) -> Path | None:
    for folder in (root, root / tv_name / "raw", root / "raw"):
        for name in (stem, stem + ".gz"):
            if (folder / name).is_file():
                return folder / name
    return None


def _read_idx(path: Path) -> np.ndarray:
    """Read an idx file (the MNIST container: magic, dimension sizes, then uint8 data)."""
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as f:
        data = f.read()
    magic = int.from_bytes(data[0:4], "big")
    if magic >> 8 != 0x08:  # 0x08 = unsigned byte data
        raise DatasetNotFound(f"{path} is not an idx file of unsigned bytes (magic {magic:#x})")
    ndim = magic & 0xFF
    dims = [int.from_bytes(data[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims).copy()


class ImageFolder(ImageDataset):
    """Any folder with ``train/<class>/*`` and ``test/<class>/*`` images (HAM10000-style exports, CIFAR as JPEG).

    Args:
        root: the folder holding ``train/`` and ``test/``.
        name: the dataset name written into results.
        channels: 3 reads RGB, 1 reads grey.
    """

    def __init__(self, *, root: str, name: str = "imagefolder", channels: Annotated[int, OneOf((1, 3))] = 3, **common):
        super().__init__(root=root, download=False, **common)
        self.name = name
        self.channels = channels

    def read(self):
        return read_imagefolder(
            self.root, self.train_per_class, self.test_per_class, self.subset_seed, self.channels, self.image_size
        )

    @classmethod
    def config_problems(cls, root=None, **_):
        path = expand(root)
        if not path.is_dir():
            return [f"root={root!r} does not exist; set dataset.root to a folder with train/ and test/ class folders"]
        if not is_imagefolder(path):
            return [f"root={root!r} has no train/ and test/ class folders; set dataset.root to such a folder"]
        return []
