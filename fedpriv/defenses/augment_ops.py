"""The 14 image operations of the augmentation defense (seed 000, after RandAugment/ATSPrivacy), on uint8 tensors.

Magnitude levels run 0..9 and map linearly onto each operation's range (ATSPrivacy's 10-level linspace); level 0 is
the identity for every operation and level 9 is the strongest. With ``t = level / 9``:

=============  ==============================================================================================
operation      effect at level ``t`` (``s`` = +1 or -1, drawn per image when ``random_sign``; else +1)
=============  ==============================================================================================
autocontrast   stretch each channel to the full 0..255 range (same for every level >= 1)
brightness     brightness factor ``1 + s * 0.9 t`` (0.1..1.9 at level 9)
color          saturation factor ``1 + s * 0.9 t``
contrast       contrast factor ``1 + s * 0.9 t``
equalize       histogram equalisation (same for every level >= 1)
invert         ``255 - x`` (same for every level >= 1)
posterize      drop ``round(7 t)`` low bits of each channel (level 9 keeps 1 bit; seed 000 extended 4 to 7 bits)
rotate         rotate by ``s * 30 t`` degrees
sharpness      sharpness factor ``1 + s * 0.9 t`` (below 1 blurs, above 1 sharpens)
shear_x        horizontal shear with factor ``s * 0.3 t`` (angle ``atan(0.3 t)``, 16.7 degrees at level 9)
shear_y        vertical shear, same scale
solarize       invert pixels ``>= 256 (1 - t)``: level 7 inverts pixels above 57, level 9 inverts every pixel
translate_x    shift by ``s * (150 / 331) t`` of the width (45% at level 9)
translate_y    shift by the same fraction of the height
=============  ==============================================================================================

Geometric operations fill uncovered pixels with mid-grey (128), as RandAugment does.
"""

from __future__ import annotations

import math
from typing import Callable

import torch
import torchvision.transforms.v2.functional as F
from torch import Tensor

MAX_LEVEL = 9
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
SIGNED_OPS = frozenset({"brightness", "color", "contrast", "rotate", "sharpness", "shear_x", "shear_y", "translate_x", "translate_y"})


def apply_op(images: Tensor, op: str, level: int, signs: Tensor | None = None) -> Tensor:
    """Apply ``op`` at ``level`` to uint8 ``(N, C, H, W)`` images; ``signs`` (N values of +-1) orient signed ops."""
    if op not in OPS:
        raise KeyError(f"unknown augmentation op {op!r}; allowed: {', '.join(OP_NAMES)}")
    if not 0 <= level <= MAX_LEVEL:
        raise ValueError(f"magnitude {level} out of range 0..{MAX_LEVEL}")
    if level == 0 or len(images) == 0:
        return images.clone()
    if op not in SIGNED_OPS or signs is None:
        return OPS[op](images, level, 1)
    out = torch.empty_like(images)
    for sign in (1, -1):
        mask = signs == sign
        if mask.any():
            out[mask] = OPS[op](images[mask], level, sign)
    return out


def random_signs(n: int, generator: torch.Generator) -> Tensor:
    return torch.randint(0, 2, (n,), generator=generator) * 2 - 1
