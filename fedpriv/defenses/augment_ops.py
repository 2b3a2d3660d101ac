"""The 14 image operations of the augmentation defense (seed 000, after RandAugment/ATSPrivacy), on uint8 tensors.

Magnitude levels run 0..9 and map linearly onto each operation's range (ATSPrivacy's 10-level linspace); level 0 is
the identity for every operation and level 9 is the strongest. Two conventions implement them:

- ``pil`` (the default): the seed's code base, ATSPrivacy's PIL policy, run through PIL itself; its anchors,
  sampling, fills and ranges are listed in :mod:`fedpriv.defenses.augment_pil`;
- ``torchvision``: torchvision's functional ops with AutoAugment/RandAugment's ranges, tabled below.

With ``t = level / 9`` (``s`` = +1 or -1, drawn per image when ``random_sign``; else +1):

=============  ==================================================  ===============================================
operation      ``pil`` (ATSPrivacy)                                ``torchvision``
=============  ==================================================  ===============================================
autocontrast   stretch each channel to 0..255 (every level >= 1)   same
brightness     factor ``1 + s * 0.5 t``                            factor ``1 + s * 0.9 t`` (0.1..1.9 at level 9)
color          saturation factor ``1 + s * 0.5 t`` (RGB only)      saturation factor ``1 + s * 0.9 t`` (RGB only)
contrast       factor ``1 + s * 0.5 t``                            factor ``1 + s * 0.9 t``
equalize       histogram equalisation (every level >= 1)           same
invert         ``255 - x`` (every level >= 1)                      same
posterize      keep ``8 - round(7 t)`` bits (seed 000: 0..7)       same
rotate         ``+30 t`` degrees (never negative), nearest,        ``s * 30 t`` degrees, nearest, grey fill
               grey (128) fill
sharpness      factor ``1 + s * 0.5 t`` (below 1 blurs)            factor ``1 + s * 0.9 t``
shear_x        ``x_in = x + s 0.3 t y``: about the top-left        shear angle ``atan(s 0.3 t)`` about the centre,
               corner, bicubic, black fill                         nearest, grey fill
shear_y        same along y                                        same along y
solarize       invert pixels ``>= 256 (1 - t)``                    same
translate_x    shift by ``s * (150 / 331) t`` of the width,        same shift, grey fill
               nearest, black fill
translate_y    the same fraction of the height                     same
=============  ==================================================  ===============================================

Solarize at level 7 inverts pixels above 57, at level 9 every pixel. ``color`` changes nothing on 1-channel
images, so the configuration check refuses it there (:data:`CHANNEL_NEEDS`).
"""

from __future__ import annotations

import math
from typing import Callable

import torch
import torchvision.transforms.v2.functional as F
from torch import Tensor

from fedpriv.defenses.augment_pil import PIL_SIGNED_OPS, apply_pil

MAX_LEVEL = 9
CONVENTIONS = ("pil", "torchvision")
FILL = 128.0
TRANSLATE_FRACTION = 150.0 / 331.0


def _t(level: int) -> float:
    return level / MAX_LEVEL


def _factor(level: int, sign: int) -> float:
    return 1.0 + sign * 0.9 * _t(level)


def _fill(x: Tensor) -> list[float]:
    return [FILL] * x.shape[-3]


def _affine(x: Tensor, *, translate=(0.0, 0.0), shear=(0.0, 0.0)) -> Tensor:
    return F.affine(x, angle=0.0, translate=list(translate), scale=1.0, shear=list(shear), fill=_fill(x))


def _shear_degrees(level: int, sign: int) -> float:
    return math.degrees(math.atan(sign * 0.3 * _t(level)))


def _solarize(x: Tensor, level: int, sign: int) -> Tensor:
    threshold = 256.0 * (1.0 - _t(level))
    return x if threshold > 255 else F.solarize(x, threshold)


# The torchvision convention; the pil convention's operations are augment_pil.PIL_OPS, under the same names.
OPS: dict[str, Callable[[Tensor, int, int], Tensor]] = {
    "autocontrast": lambda x, level, s: F.autocontrast(x),
    "brightness": lambda x, level, s: F.adjust_brightness(x, _factor(level, s)),
    "color": lambda x, level, s: F.adjust_saturation(x, _factor(level, s)),
    "contrast": lambda x, level, s: F.adjust_contrast(x, _factor(level, s)),
    "equalize": lambda x, level, s: F.equalize(x),
    "invert": lambda x, level, s: F.invert(x),
    "posterize": lambda x, level, s: F.posterize(x, 8 - round(7 * _t(level))),
    "rotate": lambda x, level, s: F.rotate(x, s * 30.0 * _t(level), fill=_fill(x)),
    "sharpness": lambda x, level, s: F.adjust_sharpness(x, _factor(level, s)),
    "shear_x": lambda x, level, s: _affine(x, shear=(_shear_degrees(level, s), 0.0)),
    "shear_y": lambda x, level, s: _affine(x, shear=(0.0, _shear_degrees(level, s))),
    "solarize": _solarize,
    "translate_x": lambda x, level, s: _affine(x, translate=(s * TRANSLATE_FRACTION * _t(level) * x.shape[-1], 0.0)),
    "translate_y": lambda x, level, s: _affine(x, translate=(0.0, s * TRANSLATE_FRACTION * _t(level) * x.shape[-2])),
}
OP_NAMES = tuple(sorted(OPS))
SIGNED_OPS = {
    "pil": PIL_SIGNED_OPS,
    "torchvision": frozenset({"brightness", "color", "contrast", "rotate", "sharpness", "shear_x", "shear_y",
                              "translate_x", "translate_y"}),
}
# Channels an operation needs to change anything: saturation is undefined on grey images.
CHANNEL_NEEDS = {"color": 3}


def channel_problem(op: str, channels: int) -> str | None:
    """Why ``op`` cannot be a defense on images of ``channels`` channels, or None when it can."""
    needed = CHANNEL_NEEDS.get(op)
    if needed is None or channels >= needed:
        return None
    usable = [name for name in OP_NAMES if CHANNEL_NEEDS.get(name, 0) <= channels]
    return (f"{op!r} changes nothing on {channels}-channel images (it needs {needed} channels), so the trial would "
            f"measure no defense; allowed on this dataset: {', '.join(usable)}")


def apply_op(images: Tensor, op: str, level: int, signs: Tensor | None = None, *, convention: str = "pil") -> Tensor:
    """Apply ``op`` at ``level`` to uint8 ``(N, C, H, W)`` images; ``signs`` (N values of +-1) orient signed ops."""
    if op not in OPS:
        raise KeyError(f"unknown augmentation op {op!r}; allowed: {', '.join(OP_NAMES)}")
    if convention not in CONVENTIONS:
        raise KeyError(f"unknown augmentation convention {convention!r}; allowed: {', '.join(CONVENTIONS)}")
    if not 0 <= level <= MAX_LEVEL:
        raise ValueError(f"magnitude {level} out of range 0..{MAX_LEVEL}")
    problem = channel_problem(op, images.shape[-3])
    if problem:
        raise ValueError(problem)
    if level == 0 or len(images) == 0:
        return images.clone()
    if op not in SIGNED_OPS[convention] or signs is None:
        signs = torch.ones(len(images), dtype=torch.long)
    if convention == "pil":
        return apply_pil(images, op, _t(level), signs.tolist())
    if op not in SIGNED_OPS[convention]:
        return OPS[op](images, level, 1)
    out = torch.empty_like(images)
    for sign in (1, -1):
        mask = signs == sign
        if mask.any():
            out[mask] = OPS[op](images[mask], level, sign)
    return out


def random_signs(n: int, generator: torch.Generator) -> Tensor:
    return torch.randint(0, 2, (n,), generator=generator) * 2 - 1
