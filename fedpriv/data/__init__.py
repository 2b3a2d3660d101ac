from fedpriv.data.bundle import DatasetBundle, ImageSet
from fedpriv.data.sources import CIFAR10, CIFAR100, MNIST, Digits, FashionMNIST, ImageDataset, ImageFolder
from fedpriv.data.targets import make_batches, resolve_classes, select_targets

__all__ = [
    "CIFAR10", "CIFAR100", "MNIST", "DatasetBundle", "Digits", "FashionMNIST", "ImageDataset", "ImageFolder",
    "ImageSet", "make_batches", "resolve_classes", "select_targets",
]
