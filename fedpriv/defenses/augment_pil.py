"""The 14 operations as the seed's code base runs them: ATSPrivacy's PIL policy (after AutoAugment), image by image.

Seed 000 builds on ATSPrivacy, whose ``SubPolicy`` applies PIL's ``ImageOps``, ``ImageEnhance`` and
``Image.transform`` to uint8 images. Running PIL itself is the surest way to get the same pixels, so this module
converts each uint8 tensor image to a PIL image (``L`` or ``RGB``), applies the operation and converts it back.
The conventions that differ from torchvision's functional ops (see :mod:`fedpriv.defenses.augment_ops`):

- shear: ``Image.transform(AFFINE, (1, v, 0, 0, 1, 0))`` maps output ``(x, y)`` to input ``(x + v y, y)``, a shear
  about the top-left corner (torchvision shears about the centre), sampled bicubically, uncovered pixels black;
- translate: the same affine map with an offset of ``v`` times the image size, nearest sampling, black fill;
- rotate: always by the positive angle (counter-clockwise; ATSPrivacy draws no sign), nearest sampling, uncovered
  pixels mid-grey (ATSPrivacy composites the rotated image over grey 128);
- brightness, color, contrast, sharpness: factor ``1 +- 0.5 t`` (ATSPrivacy's range, narrower than AutoAugment's
  0.9), the sign drawn per image as ATSPrivacy draws it per call; shears and translations draw a sign likewise.

Posterize keeps ``8 - round(7 t)`` bits (seed 000 extended ATSPrivacy's 0..4 removed bits to 0..7) and solarize
inverts pixels at or above ``256 (1 - t)``, as ATSPrivacy's ``linspace(256, 0, 10)``.
"""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch
from PIL import Image, ImageEnhance, ImageOps
from torch import Tensor

ENHANCE_RANGE = 0.5
SHEAR_RANGE = 0.3
TRANSLATE_FRACTION = 150.0 / 331.0
ROTATE_DEGREES = 30.0
ROTATE_FILL = 128
AFFINE_FILL = 0

PilOp = Callable[[Image.Image, float, int], Image.Image]


def _fill(img: Image.Image, value: int):
    return value if img.mode == "L" else (value,) * len(img.getbands())


def _affine(img: Image.Image, coefficients: tuple, resample) -> Image.Image:
    return img.transform(img.size, Image.AFFINE, coefficients, resample, fillcolor=_fill(img, AFFINE_FILL))


def _enhance(kind) -> PilOp:
    return lambda img, t, s: kind(img).enhance(1.0 + s * ENHANCE_RANGE * t)


PIL_OPS: dict[str, PilOp] = {
    "autocontrast": lambda img, t, s: ImageOps.autocontrast(img),
    "brightness": _enhance(ImageEnhance.Brightness),
    "color": _enhance(ImageEnhance.Color),
    "contrast": _enhance(ImageEnhance.Contrast),
    "equalize": lambda img, t, s: ImageOps.equalize(img),
    "invert": lambda img, t, s: ImageOps.invert(img),
    "posterize": lambda img, t, s: ImageOps.posterize(img, 8 - round(7 * t)),
    "rotate": lambda img, t, s: img.rotate(ROTATE_DEGREES * t, Image.NEAREST, fillcolor=_fill(img, ROTATE_FILL)),
    "sharpness": _enhance(ImageEnhance.Sharpness),
    "shear_x": lambda img, t, s: _affine(img, (1, s * SHEAR_RANGE * t, 0, 0, 1, 0), Image.BICUBIC),
    "shear_y": lambda img, t, s: _affine(img, (1, 0, 0, s * SHEAR_RANGE * t, 1, 0), Image.BICUBIC),
    "solarize": lambda img, t, s: ImageOps.solarize(img, 256.0 * (1.0 - t)),
    "translate_x": lambda img, t, s: _affine(img, (1, 0, s * TRANSLATE_FRACTION * t * img.size[0], 0, 1, 0),
                                             Image.NEAREST),
    "translate_y": lambda img, t, s: _affine(img, (1, 0, 0, 0, 1, s * TRANSLATE_FRACTION * t * img.size[1]),
                                             Image.NEAREST),
}
# Operations whose direction ATSPrivacy draws at random; it rotates by the positive angle only.
PIL_SIGNED_OPS = frozenset({"brightness", "color", "contrast", "sharpness", "shear_x", "shear_y", "translate_x",
                            "translate_y"})


def to_pil(image: Tensor) -> Image.Image:
    """A uint8 ``(C, H, W)`` tensor (C = 1 or 3) as a PIL ``L`` or ``RGB`` image."""
    array = image.permute(1, 2, 0).numpy()
    return Image.fromarray(array[..., 0] if array.shape[-1] == 1 else array)


def from_pil(img: Image.Image, channels: int) -> Tensor:
    array = np.asarray(img, dtype=np.uint8)
    array = array[..., None] if array.ndim == 2 else array
    return torch.from_numpy(array[..., :channels].copy()).permute(2, 0, 1)


def apply_pil(images: Tensor, op: str, t: float, signs: list[int]) -> Tensor:
    """``op`` at strength ``t`` in [0, 1] on each uint8 ``(N, C, H, W)`` image, oriented by its sign."""
    channels = images.shape[1]
    if channels not in (1, 3):
        raise ValueError(f"PIL operations take 1- or 3-channel images, not {channels}")
    fn = PIL_OPS[op]
    return torch.stack([from_pil(fn(to_pil(image), t, sign), channels) for image, sign in zip(images, signs)])
