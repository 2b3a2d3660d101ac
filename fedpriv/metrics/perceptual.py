"""LPIPS (Zhang et al. 2018) with the AlexNet backbone, from the ``lpips`` package.

The package's linear heads ship with it; the AlexNet backbone is torchvision's ImageNet model. Offline machines
(laptops on a plane, cluster compute nodes) point ``metrics.lpips.backbone`` at a saved ``alexnet().features``
state_dict. When no backbone can be had, :class:`LpipsScorer` says why once and scores nothing, so a sweep
carries on with an empty ``lpips`` column.
"""

from __future__ import annotations

import logging
import os
import warnings
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

log = logging.getLogger(__name__)
_WARNED: set[str] = set()
_DOWNLOAD_FAILED: list[str] = []  # one failed download per process is enough: offline sweeps do not retry
# lpips' AlexNet slices hold these indices of torchvision's alexnet().features.
_SLICES = {0: 1, 1: 1, 2: 2, 3: 2, 4: 2, 5: 3, 6: 3, 7: 3, 8: 4, 9: 4, 10: 5, 11: 5}
MIN_SIZE = 32


def _load_backbone(path: str | None, download: bool) -> tuple[dict | None, str]:
    if path:
        path = Path(os.path.expanduser(path))
        if not path.is_file():
            return None, f"metrics.lpips.backbone={str(path)!r} does not exist"
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as err:
            return None, f"metrics.lpips.backbone={str(path)!r} is unreadable ({type(err).__name__})"
        state = state.get("state_dict", state) if isinstance(state, dict) else state
        return {k.removeprefix("features."): v for k, v in state.items()}, ""
    if not download:
        return None, "no metrics.lpips.backbone is set and metrics.lpips.download=false"
    if _DOWNLOAD_FAILED:
        return None, _DOWNLOAD_FAILED[0]
    try:
        import torchvision

        net = torchvision.models.alexnet(weights=torchvision.models.AlexNet_Weights.IMAGENET1K_V1)
        return net.features.state_dict(), ""
    except Exception as err:
        _DOWNLOAD_FAILED.append(f"the AlexNet backbone could not be downloaded ({type(err).__name__}); set "
                                "metrics.lpips.backbone to a local alexnet().features state_dict")
        return None, _DOWNLOAD_FAILED[0]


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
        mapped = {f"net.slice{_SLICES[int(k.split('.')[0])]}.{k}": v for k, v in state.items() if int(k.split(".")[0]) in _SLICES}
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
