"""The pil convention reproduces the seed's code base pixel for pixel, on real CIFAR-10 JPEGs.

ATSPrivacy (seed 000's code base) augments PIL images with the AutoAugment-style calls written out below as the
reference; fedpriv runs on uint8 tensors. Every operation is compared at several levels and both signs, with no
tolerance: fedpriv hands the same uint8 pixels to the same PIL routines, so no rounding step differs.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image, ImageEnhance, ImageOps

from fedpriv.config import ConfigError
from fedpriv.config.combinations import defense_input_problems
from fedpriv.config.validate import validate
from fedpriv.defenses.augment_ops import OP_NAMES, apply_op


def _rotate_over_grey(img, degrees):
    # ATSPrivacy's rotation: rotate an RGBA copy, then paste it over mid-grey through its own alpha.
    rotated = img.convert("RGBA").rotate(degrees)
    return Image.composite(rotated, Image.new("RGBA", rotated.size, (128,) * 4), rotated).convert(img.mode)


def reference(img: Image.Image, op: str, level: int, sign: int) -> Image.Image:
    """ATSPrivacy's SubPolicy at magnitude index ``level`` (its linspace ranges), posterize as seed 000 extended it."""
    v = lambda high: np.linspace(0, high, 10)[level]
    black = (0, 0, 0)
    return {
        "shear_x": lambda: img.transform(img.size, Image.AFFINE, (1, v(0.3) * sign, 0, 0, 1, 0), Image.BICUBIC,
                                         fillcolor=black),
        "shear_y": lambda: img.transform(img.size, Image.AFFINE, (1, 0, 0, v(0.3) * sign, 1, 0), Image.BICUBIC,
                                         fillcolor=black),
        "translate_x": lambda: img.transform(img.size, Image.AFFINE, (1, 0, v(150 / 331) * img.size[0] * sign, 0, 1, 0),
                                             fillcolor=black),
        "translate_y": lambda: img.transform(img.size, Image.AFFINE, (1, 0, 0, 0, 1, v(150 / 331) * img.size[1] * sign),
                                             fillcolor=black),
        "rotate": lambda: _rotate_over_grey(img, v(30)),
        "color": lambda: ImageEnhance.Color(img).enhance(1 + v(0.5) * sign),
        "posterize": lambda: ImageOps.posterize(img, int(np.round(np.linspace(8, 1, 10), 0).astype(int)[level])),
        "solarize": lambda: ImageOps.solarize(img, np.linspace(256, 0, 10)[level]),
        "contrast": lambda: ImageEnhance.Contrast(img).enhance(1 + v(0.5) * sign),
        "sharpness": lambda: ImageEnhance.Sharpness(img).enhance(1 + v(0.5) * sign),
        "brightness": lambda: ImageEnhance.Brightness(img).enhance(1 + v(0.5) * sign),
        "autocontrast": lambda: ImageOps.autocontrast(img),
        "equalize": lambda: ImageOps.equalize(img),
        "invert": lambda: ImageOps.invert(img),
    }[op]()


@pytest.fixture(scope="module")
def jpegs(cifar10_root):
    paths = [sorted((cifar10_root / "test" / name).glob("*.jpg"))[i] for name in ("airplane", "cat", "ship") for i in (0, 1)]
    return [Image.open(p).convert("RGB") for p in paths]


def _tensor(imgs) -> torch.Tensor:
    return torch.stack([torch.from_numpy(np.asarray(i).copy()).permute(2, 0, 1) for i in imgs])


@pytest.mark.parametrize("op", OP_NAMES)
def test_pil_convention_matches_the_seed_code_base_pixel_for_pixel(jpegs, op):
    images = _tensor(jpegs)
    for level in (1, 4, 9):
        for sign in (1, -1):
            signs = torch.full((len(jpegs),), sign)
            ours = apply_op(images, op, level, signs)
            rotate_sign = 1 if op == "rotate" else sign  # ATSPrivacy rotates by the positive angle only
            expected = _tensor([reference(img, op, level, rotate_sign) for img in jpegs])
            assert torch.equal(ours, expected), (op, level, sign, (ours.int() - expected.int()).abs().max().item())


def test_pil_shear_is_anchored_at_the_top_left_and_torchvision_shear_at_the_centre(jpegs):
    images = _tensor(jpegs)
    moved = lambda out, rows: (out[..., rows, :].float() - images[..., rows, :].float()).abs().mean().item()
    pil, tv = apply_op(images, "shear_x", 9), apply_op(images, "shear_x", 9, convention="torchvision")
    assert moved(pil, slice(0, 4)) < 0.2 * moved(pil, slice(28, 32))  # the top rows barely move, the bottom ones do
    assert 0.5 < moved(tv, slice(0, 4)) / moved(tv, slice(28, 32)) < 2  # about the centre: both ends move alike


def test_pil_rotation_ignores_the_drawn_sign(jpegs):
    images = _tensor(jpegs)
    mixed = torch.tensor([1, -1] * (len(jpegs) // 2))
    assert torch.equal(apply_op(images, "rotate", 6, mixed), apply_op(images, "rotate", 6))
    tv = apply_op(images, "rotate", 6, mixed, convention="torchvision")
    assert not torch.equal(tv, apply_op(images, "rotate", 6, convention="torchvision"))


@pytest.mark.parametrize("dataset", ["digits", "mnist", "fashion_mnist"])
def test_color_on_grey_data_is_a_configuration_error_before_any_loading(compose_cfg, dataset, tmp_path):
    # The MNIST roots do not exist: the problem is found from the dataset's known channel count, without data.
    cfg = compose_cfg(f"dataset={dataset}", f"++dataset.root={tmp_path}/none", "defense=augment", "defense.op=color")
    with pytest.raises(ConfigError) as err:
        validate(cfg)
    assert len(err.value.problems) == 1 and err.value.problems[0].startswith("defense.op='color'")
    assert "1-channel" in err.value.problems[0] and "solarize" in err.value.problems[0]


def test_color_on_rgb_data_and_other_ops_on_grey_data_validate(compose_cfg, cifar10_root):
    validate(compose_cfg("dataset=cifar10", f"dataset.root={cifar10_root}", "defense=augment", "defense.op=color"))
    validate(compose_cfg("defense=augment", "defense.op=brightness"))
    with pytest.raises(ConfigError, match="defense.policy.3.op='color'"):
        validate(compose_cfg("defense=augment_per_class", "+defense.policy={3: {op: color, magnitude: 2}}"))


def test_the_loaded_channel_count_is_checked_for_datasets_that_declare_none():
    node = {"_target_": "fedpriv.defenses.Augment", "op": "color", "magnitude": 3}
    assert [p[:18] for p in defense_input_problems(node, channels=1)] == ["defense.op='color'"]
    assert defense_input_problems(node, channels=3) == []
    assert defense_input_problems({"_target_": "fedpriv.defenses.DPSGD"}, channels=1) == []
