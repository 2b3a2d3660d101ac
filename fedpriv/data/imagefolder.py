"""Read ImageFolder trees (``train/<class>/*``, ``test/<class>/*``) into uint8 tensors, decoding only what is kept."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import torch
import torchvision.transforms.v2.functional as TF
from PIL import Image
from torchvision.datasets.folder import IMG_EXTENSIONS, find_classes, make_dataset

from fedpriv.data.bundle import ImageSet
from fedpriv.errors import DatasetNotFound


def is_imagefolder(root: Path) -> bool:
    root = Path(root)
    return (root / "train").is_dir() and (root / "test").is_dir() and any(p.is_dir() for p in (root / "train").iterdir())


def read_imagefolder(root, train_per_class, test_per_class, subset_seed, channels=3, image_size=None):
    from fedpriv.data.sources import per_class_subset

    root = Path(root)
    if not is_imagefolder(root):
        raise DatasetNotFound(f"dataset.root={str(root)!r} has no train/ and test/ class folders")
    classes, class_to_idx = find_classes(str(root / "train"))
    sets = []
    for salt, (split, limit) in enumerate((("train", train_per_class), ("test", test_per_class))):
        samples = make_dataset(str(root / split), class_to_idx, extensions=IMG_EXTENSIONS)
        if not samples:
            raise DatasetNotFound(f"dataset.root={str(root)!r}: {split}/ holds no images")
        labels = torch.tensor([label for _, label in samples])
        keep = torch.arange(len(samples)) if limit is None else per_class_subset(labels, limit, seed=subset_seed * 2 + salt)
        paths = [samples[i][0] for i in keep.tolist()]
        sets.append(ImageSet(_decode_all(paths, channels, image_size), labels[keep]))
    return sets[0], sets[1], classes


def _decode_all(paths: list[str], channels: int, image_size: int | None) -> torch.Tensor:
    mode = "RGB" if channels == 3 else "L"

    def decode(path: str) -> torch.Tensor:
        with Image.open(path) as img:
            image = TF.pil_to_tensor(img.convert(mode))
        if image_size is not None and tuple(image.shape[-2:]) != (image_size, image_size):
            image = TF.center_crop(TF.resize(image, image_size, antialias=True), [image_size, image_size])
        return image

    with ThreadPoolExecutor(max_workers=4) as pool:
        images = list(pool.map(decode, paths, chunksize=256))
    shapes = {tuple(i.shape) for i in images}
    if len(shapes) > 1:
        raise DatasetNotFound(
            f"images under {Path(paths[0]).parents[1]} have different sizes {sorted(shapes)[:3]}...; "
            "set dataset.image_size to resize them to one size"
        )
    return torch.stack(images)
