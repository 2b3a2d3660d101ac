"""LPIPS (Zhang et al. 2018) with the AlexNet backbone, from the ``lpips`` package.

The package's linear heads ship with it; the AlexNet backbone is torchvision's ImageNet model. Offline machines
(laptops on a plane, cluster compute nodes) point ``metrics.lpips.backbone`` at a saved ``alexnet().features``
state_dict; a backbone given that way must load, which validation checks before any compute. Without one,
torchvision's cache or a download is tried once per process; when that fails :class:`LpipsScorer` says why once and
scores nothing, so a sweep carries on with an empty ``lpips`` column.
"""

from __future__ import annotations

import functools
import logging
import os
import warnings
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from fedpriv.utils.network import online

log = logging.getLogger(__name__)
_WARNED: set[str] = set()
# lpips' AlexNet slices hold these indices of torchvision's alexnet().features.
_SLICES = {0: 1, 1: 1, 2: 2, 3: 2, 4: 2, 5: 3, 6: 3, 7: 3, 8: 4, 9: 4, 10: 5, 11: 5}
# The convolutions of torchvision's alexnet().features: what a backbone file must hold.
ALEXNET_FEATURES = {
    "0.weight": (64, 3, 11, 11), "0.bias": (64,), "3.weight": (192, 64, 5, 5), "3.bias": (192,),
    "6.weight": (384, 192, 3, 3), "6.bias": (384,), "8.weight": (256, 384, 3, 3), "8.bias": (256,),
    "10.weight": (256, 256, 3, 3), "10.bias": (256,),
}
ALEXNET_HOST = "download.pytorch.org"
MIN_SIZE = 32
_HOW = "a saved torchvision.models.alexnet(weights='IMAGENET1K_V1').features.state_dict()"


def read_backbone(path: str | os.PathLike) -> tuple[dict | None, str]:
    """The AlexNet features state_dict saved at ``path``, or None and why it cannot be used."""
    path = Path(os.path.expanduser(str(path)))
    if not path.is_file():
        what = "is a folder" if path.is_dir() else "does not exist"
        return None, f"backbone={str(path)!r} {what}; set it to {_HOW}, or to null to use torchvision's"
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        return None, f"backbone={str(path)!r} is not a loadable state_dict ({type(err).__name__}); expected {_HOW}"
    state = state.get("state_dict", state) if isinstance(state, dict) else state
    if not isinstance(state, dict):
        return None, f"backbone={str(path)!r} holds a {type(state).__name__}, not a state_dict; expected {_HOW}"
    state = {str(k).removeprefix("features."): v for k, v in state.items()}
    wrong = [f"{k} {tuple(getattr(state.get(k), 'shape', ())) or 'missing'} (expected {shape})"
             for k, shape in ALEXNET_FEATURES.items() if tuple(getattr(state.get(k), "shape", ())) != shape]
    if wrong:
        return None, f"backbone={str(path)!r} is not AlexNet's features: {'; '.join(wrong[:3])}; expected {_HOW}"
    return state, ""


def backbone_problems(backbone: str | None) -> list[str]:
    """Configuration problems of an explicitly given ``metrics.lpips.backbone`` (relative to ``metrics.lpips``)."""
    return [] if not backbone else [reason for state, reason in [read_backbone(backbone)] if state is None]


@functools.cache
def _torchvision_backbone() -> tuple[dict | None, str]:
    """torchvision's ImageNet AlexNet features, from its cache or downloaded: tried once per process, so the trials
    of an offline sweep neither retry nor wait for the network one by one."""
    import torchvision

    weights = torchvision.models.AlexNet_Weights.IMAGENET1K_V1
    cached = Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(weights.url)
    if not cached.is_file() and not online(ALEXNET_HOST):
        return None, (f"torchvision's AlexNet is not in {cached.parent} and {ALEXNET_HOST} cannot be reached "
                      f"(offline); set metrics.lpips.backbone to {_HOW}")
    try:
        return torchvision.models.alexnet(weights=weights).features.state_dict(), ""
    except Exception as err:
        return None, (f"the AlexNet backbone could not be downloaded ({type(err).__name__}); set "
                      f"metrics.lpips.backbone to {_HOW}")


def _load_backbone(path: str | None, download: bool) -> tuple[dict | None, str]:
    if path:
        state, reason = read_backbone(path)
        return state, f"metrics.lpips.{reason}" if reason else ""
    if not download:
        return None, "no metrics.lpips.backbone is set and metrics.lpips.download=false"
    return _torchvision_backbone()


class LpipsScorer:
    """Callable scoring ``(N, C, H, W)`` [0, 1] image pairs; ``available`` is False (with ``reason``) without a backbone."""

    def __init__(self, *, backbone: str | None = None, download: bool = True, enabled: bool = True,
                 device: torch.device | str = "cpu"):
        self.device = torch.device(device)
        self.model = None
        self.reason = "" if enabled else "metrics.lpips.enabled=false"
        if not enabled:
            return
        state, self.reason = _load_backbone(backbone, download)
        if state is None:
            if self.reason not in _WARNED:
                _WARNED.add(self.reason)
                log.warning("LPIPS is left empty: %s", self.reason)
            return
        import lpips

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            model = lpips.LPIPS(net="alex", pretrained=True, pnet_rand=True, verbose=False)
        mapped = {f"net.slice{_SLICES[int(k.split('.')[0])]}.{k}": v for k, v in state.items() if k in ALEXNET_FEATURES}
        missing = model.load_state_dict(mapped, strict=False)
        backbone_missing = [k for k in missing.missing_keys if k.startswith("net.")]
        if backbone_missing or missing.unexpected_keys:
            self.reason = f"metrics.lpips.backbone does not fit AlexNet's features (missing {backbone_missing[:2]})"
            log.warning("LPIPS is left empty: %s", self.reason)
            return
        self.model = model.eval().to(self.device)

    @property
    def available(self) -> bool:
        return self.model is not None

    @torch.no_grad()
    def __call__(self, pred: Tensor, target: Tensor) -> Tensor | None:
        if self.model is None:
            return None
        pred, target = (self._prepare(t) for t in (pred, target))
        return self.model(pred, target, normalize=True).flatten().cpu()

    def _prepare(self, x: Tensor) -> Tensor:
        x = x.float().to(self.device)
        if x.shape[1] == 1:
            x = x.repeat(1, 3, 1, 1)
        # AlexNet's pooling needs at least 32 pixels; smaller images (16x16 digits) are upsampled first.
        if min(x.shape[-2:]) < MIN_SIZE:
            x = F.interpolate(x, size=(MIN_SIZE, MIN_SIZE), mode="bilinear", align_corners=False)
        return x
