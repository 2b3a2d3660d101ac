"""LODA's public side: the public image pool and the frozen feature extractor ``g`` trained on it.

LODA needs data the defender may use freely: ``g`` is trained on it and every obscured image starts from one of
its images. The paper uses CIFAR-100 for CIFAR-10. ``defense.public.source`` picks it:

- ``disjoint_train``: training images of the private dataset's own ImageFolder tree that the private subset
  (``dataset.train_per_class`` with ``dataset.subset_seed``) does not hold, so public and private never share an
  image; the attacked images come from the test split and are never public either. This is the offline
  substitute for CIFAR-100 (same image statistics, same classes, which favours ``g`` somewhat).
- ``cifar100``: torchvision's CIFAR-100 training set under ``public.root`` (downloaded when online), as the paper.

The extractor is a classifier trained on the pool through the trial's model cache (role ``loda_extractor``), so
every trial and sweep job that names the same pool and architecture trains it once.
"""

from __future__ import annotations

from pathlib import Path

import torch
from omegaconf import OmegaConf
from torch import nn

from fedpriv.config.validate import ConfigError
from fedpriv.data.bundle import DatasetBundle, ImageSet

PUBLIC_SOURCES = ("disjoint_train", "cifar100")
EXTRACTORS = {"convnet": "fedpriv.models.ConvNet", "resnet18": "fedpriv.models.ResNet18"}
HELD_OUT = 0.1  # fraction of the pool kept aside to report the extractor's accuracy


def public_problems(public: dict) -> list[str]:
    """Config errors of ``defense.public`` (a mapping), found before anything is loaded."""
    source = public.get("source")
    if source not in PUBLIC_SOURCES:
        return [f"defense.public.source={source}; allowed: {', '.join(PUBLIC_SOURCES)}"]
    if source == "disjoint_train" and public.get("exclude_per_class") is None:
        return ["defense.public.source=disjoint_train needs the private subset to leave training images over, but "
                "dataset.train_per_class is null (all training images are private); allowed: a "
                "dataset.train_per_class below the class size, or defense.public.source=cifar100"]
    if not public.get("per_class") or int(public["per_class"]) < 2:
        return [f"defense.public.per_class={public.get('per_class')}; allowed: an integer >= 2"]
    return []


def public_images(public: dict) -> ImageSet:
    """The public pool as uint8 images with their labels (``per_class`` images of each class, seeded)."""
    from fedpriv.data.sources import expand, per_class_subset

    root, per_class, seed = expand(public["root"]), int(public["per_class"]), int(public.get("seed", 0))
    if public["source"] == "cifar100":
        from torchvision.datasets import CIFAR100

        ds = CIFAR100(str(root), train=True, download=bool(public.get("download", True)))
        images = torch.from_numpy(ds.data).permute(0, 3, 1, 2).contiguous()
        labels = torch.tensor(ds.targets)
        keep = per_class_subset(labels, per_class, seed=seed)
        return ImageSet(images[keep], labels[keep])
    return _disjoint_train(Path(root), per_class, seed, int(public["exclude_per_class"]),
                           int(public.get("exclude_seed", 0)))


def _disjoint_train(root: Path, per_class: int, seed: int, exclude_per_class: int, exclude_seed: int) -> ImageSet:
    """``per_class`` training images per class of an ImageFolder tree, none of them in the private subset that
    ``read_imagefolder`` keeps for ``train_per_class=exclude_per_class`` and ``subset_seed=exclude_seed``."""
    from torchvision.datasets.folder import IMG_EXTENSIONS, find_classes, make_dataset

    from fedpriv.data.imagefolder import _decode_all, is_imagefolder
    from fedpriv.data.sources import per_class_subset

    if not is_imagefolder(root):
        raise ConfigError([f"defense.public.root={str(root)!r} has no train/ and test/ class folders; allowed: the "
                           f"private dataset's ImageFolder root (source=disjoint_train)"])
    _, class_to_idx = find_classes(str(root / "train"))
    samples = make_dataset(str(root / "train"), class_to_idx, extensions=IMG_EXTENSIONS)
    labels = torch.tensor([label for _, label in samples])
    private = torch.zeros(len(samples), dtype=torch.bool)
    private[per_class_subset(labels, exclude_per_class, seed=exclude_seed * 2)] = True  # as read_imagefolder
    rest = (~private).nonzero().flatten()
    keep = rest[per_class_subset(labels[rest], per_class, seed=1000 + seed)]
    return ImageSet(_decode_all([samples[i][0] for i in keep.tolist()], 3, None), labels[keep])


def public_bundle(pool: ImageSet) -> DatasetBundle:
    """The pool as a dataset the trial's training code takes: a held-out tenth as its test split, normalised by
    the pool's own statistics (the defender knows nothing else)."""
    generator = torch.Generator().manual_seed(0)
    order = torch.randperm(len(pool), generator=generator)
    cut = max(1, int(len(pool) * HELD_OUT))
    x = pool.images.float() / 255
    mean = tuple(x.mean((0, 2, 3)).tolist())
    std = tuple(x.std((0, 2, 3)).tolist())
    classes = [str(c) for c in range(int(pool.labels.max()) + 1)]
    return DatasetBundle("loda_public", pool.subset(order[cut:]), pool.subset(order[:cut]), classes, mean, std)


def extractor_model(*, public: dict, extractor: str, width: int, epochs: int, seed: int, cache_dir: str,
                    pool: ImageSet, device: torch.device) -> tuple[nn.Module, DatasetBundle, dict]:
    """The frozen extractor: trained (or loaded from the model cache) on ``pool``; returns it in eval mode with
    its parameters frozen, the pool's bundle (for its normalisation) and the training meta."""
    from fedpriv.defenses.base import NoDefense
    from fedpriv.training.builders import trained_model
    from fedpriv.training.cache import ModelCache

    if extractor not in EXTRACTORS:
        raise ConfigError([f"defense.extractor={extractor}; allowed: {', '.join(EXTRACTORS)}"])
    bundle = public_bundle(pool)
    model_cfg = {"_target_": EXTRACTORS[extractor]}
    if extractor == "convnet":
        model_cfg["width"] = width
    identity = {k: public[k] for k in sorted(public) if k not in ("root", "download")}
    training = {"batch_size": 64, "optimizer": "adam", "lr": 1e-3, "weight_decay": 5e-4, "momentum": 0.9}
    net, meta = trained_model("loda_extractor", model_cfg=OmegaConf.create(model_cfg),
                              dataset_cfg=OmegaConf.create({"public": identity}),
                              training_cfg=OmegaConf.create(training), data=bundle, defense=NoDefense(),
                              epochs=epochs, seed=seed, cache=ModelCache(cache_dir), device=device, progress=False)
    net.eval()
    for p in net.parameters():
        p.requires_grad_(False)
    return net, bundle, meta
