"""Datasets load real images as uint8 tensors, subsets are seeded, and missing data says how to fix it."""

from __future__ import annotations

import gzip

import numpy as np
import pytest
import torch

from fedpriv.data import CIFAR10, Digits, FashionMNIST, ImageFolder, MNIST
from fedpriv.errors import DatasetNotFound


def test_digits_are_real_offline_images_split_by_class():
    data = Digits().load()
    assert data.shape == (1, 16, 16) and data.num_classes == 10
    assert len(data.train) + len(data.test) == 1797
    assert data.train.images.dtype == torch.uint8 and data.train.images.max() > 200
    counts = torch.bincount(data.test.labels, minlength=10)
    assert counts.min() >= 40  # stratified: every digit appears in the test split
    again = Digits().load()
    assert torch.equal(data.test.images, again.test.images)  # the split does not depend on any trial seed


def test_normalisation_round_trip():
    data = Digits().load()
    x = data.normalize(data.test.images[:4])
    assert torch.allclose(data.denormalize(x), data.test.images[:4].float() / 255, atol=1e-6)
    low, high = data.bounds()
    assert torch.allclose(x.min(), low.min(), atol=1e-5) or x.min() >= low.min() - 1e-5
    assert x.max() <= high.max() + 1e-5


def test_cifar10_from_imagefolder_with_seeded_subsets(cifar10_root):
    data = CIFAR10(root=str(cifar10_root), train_per_class=20, test_per_class=5).load()
    assert data.shape == (3, 32, 32)
    assert data.classes[:3] == ["airplane", "automobile", "bird"]
    assert torch.bincount(data.train.labels).tolist() == [20] * 10
    assert torch.bincount(data.test.labels).tolist() == [5] * 10
    same = CIFAR10(root=str(cifar10_root), train_per_class=20, test_per_class=5).load()
    other = CIFAR10(root=str(cifar10_root), train_per_class=20, test_per_class=5, subset_seed=1).load()
    assert torch.equal(data.train.images, same.train.images)
    assert not torch.equal(data.train.images, other.train.images)


def test_generic_imagefolder_with_resize_and_grey(cifar10_root):
    data = ImageFolder(root=str(cifar10_root), name="cifar10-grey", channels=1, image_size=24,
                       train_per_class=2, test_per_class=2).load()
    assert data.name == "cifar10-grey" and data.shape == (1, 24, 24)


def test_missing_torchvision_dataset_names_root(tmp_path):
    with pytest.raises(DatasetNotFound) as err:
        CIFAR10(root=str(tmp_path / "empty"), download=False).load()
    assert "dataset.root" in str(err.value) and "empty" in str(err.value)


def _write_idx(path, array):
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    with gzip.open(path, "wb") as f:
        f.write(header + array.astype(np.uint8).tobytes())


def test_idx_files_are_read_from_a_plain_folder(tmp_path):
    digits = Digits(image_size=28).load()  # real images, written in MNIST's container format
    for prefix, split in (("train", digits.train), ("t10k", digits.test)):
        _write_idx(tmp_path / f"{prefix}-images-idx3-ubyte.gz", split.images[:, 0].numpy())
        _write_idx(tmp_path / f"{prefix}-labels-idx1-ubyte.gz", split.labels.numpy())
    data = FashionMNIST(root=str(tmp_path), download=False).load()
    assert data.shape == (1, 28, 28)
    assert torch.equal(data.test.images, digits.test.images)
    assert data.classes[0] == "t-shirt/top"


def test_partial_mnist_folder_says_what_is_missing(mnist_test_dir):
    with pytest.raises(DatasetNotFound) as err:
        MNIST(root=str(mnist_test_dir), download=False).load()
    assert "train-images-idx3-ubyte" in str(err.value)
