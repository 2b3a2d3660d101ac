"""LODA's encoder: hidden features of a frozen extractor kept, pixels pushed away, by normalised gradient descent.

For a private image ``x`` the obscured image ``x'`` minimises, inside the image box [0, 1],

    F(x') = sum_l ||g_l(x') - g_l(x)||^2  -  c ||x' - x||^2

(squared L2, summed over every element of each feature map and every pixel), starting from a public image and
stepping ``x' <- clamp(x' - tau * grad / ||grad||, 0, 1)`` for ``steps`` steps, the gradient normalised per image.
Many images are encoded at once (their losses summed, each gradient normalised on its own), so the cost of a
dataset is a few hundred batched forward and backward passes of the truncated extractor.

Encodings are kept on disk under a hash of everything that defines them (extractor weights, layers, ``c``,
``tau``, ``steps``, seed and public pool) and, inside it, of each image's pixels: an image's encoding is a pure
function of the image and that setting (its starting public image is picked from a hash of its pixels), so a
sweep that varies anything else (the attack, the decoder's ``c``) encodes a dataset once, and two jobs that need
the same encodings wait on a lock for the first one instead of both computing them.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Callable

import torch
from torch import Tensor, nn

from fedpriv.config.validate import ConfigError
from fedpriv.utils.io import atomic_path, file_lock, stable_hash

LAYER_SETS = ("loda1", "loda2")
Features = Callable[[Tensor], list[Tensor]]


def conv_layers(model: nn.Module, layers: str) -> list[str]:
    """Names of the convolutions whose outputs LODA matches: ``loda1`` the first five (a ResNet-18's stem and its
    first stage), ``loda2`` all of them. 1x1 shortcut convolutions are left out: they only re-project a block's
    input, which the block's own convolutions already carry."""
    convs = [name for name, m in model.named_modules() if isinstance(m, nn.Conv2d) and m.kernel_size != (1, 1)]
    if layers == "loda1":
        return convs[:5]
    if layers == "loda2":
        return convs
    raise ConfigError([f"defense.layers={layers}; allowed: {', '.join(LAYER_SETS)}"])


def feature_function(model: nn.Module, names: list[str], normalize: Callable[[Tensor], Tensor]) -> Features:
    """``g``: [0, 1] images to the listed convolutions' outputs, through torchvision's feature extraction (which
    keeps only the part of the network those outputs need, so LODA1 never runs the deeper layers)."""
    from torchvision.models.feature_extraction import create_feature_extractor

    extractor = create_feature_extractor(model, return_nodes={name: name for name in names}).eval()

    def g(x: Tensor) -> list[Tensor]:
        out = extractor(normalize(x))
        return [out[name] for name in names]

    return g


def feature_distance(g: Features, a: Tensor, b: Tensor) -> Tensor:
    """Per image, ``sum_l ||g_l(a) - g_l(b)||^2``."""
    return sum(((fa - fb) ** 2).flatten(1).sum(1) for fa, fb in zip(g(a), g(b)))


def obscure(g: Features, x: Tensor, start: Tensor, *, c: float, tau: float, steps: int) -> Tensor:
    """The obscured images of ``x`` (``(N, C, H, W)`` in [0, 1]) from the starting images ``start`` (see the
    module for the objective and the update)."""
    with torch.no_grad():
        target = [f.detach() for f in g(x)]
    xp = start.clone().float()
    for _ in range(steps):
        xp.requires_grad_(True)
        features = g(xp)
        loss = sum(((f - t) ** 2).flatten(1).sum(1) for f, t in zip(features, target))
        loss = loss - c * ((xp - x) ** 2).flatten(1).sum(1)
        (grad,) = torch.autograd.grad(loss.sum(), xp)
        norm = grad.flatten(1).norm(dim=1).clamp_min(1e-12).view(-1, *([1] * (x.ndim - 1)))
        xp = (xp.detach() - tau * grad / norm).clamp(0, 1)
    return xp.detach()


def image_keys(images: Tensor) -> list[str]:
    """One hash per image of its uint8 pixels (the identity under which its encoding is stored)."""
    pixels = (images.clamp(0, 1) * 255).round().to(torch.uint8).contiguous()
    return [hashlib.sha1(p.numpy().tobytes()).hexdigest()[:20] for p in pixels]


def weights_hash(model: nn.Module) -> str:
    digest = hashlib.sha1()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


class EncodingStore:
    """Obscured images by image hash, in memory and under ``root/<setting hash>/`` on disk (one file per batch
    of new encodings, written atomically; a lock per setting serialises the jobs that compute them).

    Args:
        root: the cache folder (``None``: memory only).
        setting: everything that defines an encoding besides the image (hashed into the folder name).
        encode: ``(images, keys) -> obscured images`` for the images not stored yet.
    """

    def __init__(self, root: str | Path | None, setting: dict, encode: Callable[[Tensor, list[str]], Tensor]):
        self.setting, self.encode = setting, encode
        self.folder = None if root is None else Path(root).expanduser() / "loda" / stable_hash(setting)
        self.memory: dict[str, Tensor] = {}
        self.encoded = 0  # images this object encoded itself (the rest came from memory or disk)

    def _load_disk(self) -> None:
        if self.folder is None or not self.folder.is_dir():
            return
        for path in sorted(self.folder.glob("part-*.pt")):
            part = torch.load(path, map_location="cpu", weights_only=True)
            for key, image in zip(part["keys"], part["images"]):
                self.memory.setdefault(key, image)

    def __call__(self, images: Tensor) -> Tensor:
        """The obscured versions of ``images`` (float [0, 1]), encoding only those never encoded before."""
        keys = image_keys(images)
        if any(k not in self.memory for k in keys):
            self._fill(images, keys)
        return torch.stack([self.memory[k] for k in keys]).float() / 255

    def _fill(self, images: Tensor, keys: list[str]) -> None:
        lock = file_lock(self.folder / "lock") if self.folder is not None else _nullcontext()
        with lock:
            self._load_disk()
            todo = [i for i, k in enumerate(keys) if k not in self.memory]
            todo = [i for n, i in enumerate(todo) if keys[i] not in {keys[j] for j in todo[:n]}]  # duplicates once
            if not todo:
                return
            new_keys = [keys[i] for i in todo]
            encoded = self.encode(images[todo].float(), new_keys)
            pixels = (encoded.clamp(0, 1) * 255).round().to(torch.uint8).cpu()
            self.encoded += len(todo)
            for key, image in zip(new_keys, pixels):
                self.memory[key] = image
            if self.folder is not None:
                with atomic_path(self.folder / f"part-{stable_hash(new_keys)}.pt") as tmp:
                    torch.save({"keys": new_keys, "images": pixels, "setting": repr(self.setting)}, tmp)


class _nullcontext:
    def __enter__(self):
        return None

    def __exit__(self, *exc):
        return False
