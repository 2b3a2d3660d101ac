"""The 14 operations on real images: level 0 is the identity, level 9 the seed's maximum, scales grow with level;
the default (pil) convention gives the pixels of the seed's code base (ATSPrivacy's PIL policy)."""

from __future__ import annotations

import pytest
import torch

from fedpriv.config import ConfigError
from fedpriv.data import Digits
from fedpriv.defenses import Augment, AugmentPerClass, ClientBatch, ClientContext
from fedpriv.defenses.augment_ops import CONVENTIONS, OP_NAMES, SIGNED_OPS, apply_op

MAGNITUDE_FREE = {"autocontrast", "equalize", "invert"}


@pytest.fixture(scope="module")
def images(cifar10_root):
    from fedpriv.data import CIFAR10

    return CIFAR10(root=str(cifar10_root), train_per_class=1, test_per_class=2).load().test.images


def test_fourteen_ops():
    assert len(OP_NAMES) == 14


@pytest.mark.parametrize("convention", CONVENTIONS)
@pytest.mark.parametrize("op", OP_NAMES)
def test_level_zero_is_identity_and_level_nine_changes_the_image(images, op, convention):
    assert torch.equal(apply_op(images, op, 0, convention=convention), images)
    strongest = apply_op(images, op, 9, convention=convention)
    assert strongest.dtype == torch.uint8 and strongest.shape == images.shape
    assert (strongest.float() - images.float()).abs().mean() > 1.0


@pytest.mark.parametrize("convention", CONVENTIONS)
@pytest.mark.parametrize("op", sorted(MAGNITUDE_FREE))
def test_magnitude_free_ops_ignore_levels_one_to_nine(images, op, convention):
    first = apply_op(images, op, 1, convention=convention)
    assert all(torch.equal(apply_op(images, op, level, convention=convention), first) for level in range(2, 10))


@pytest.mark.parametrize("convention", CONVENTIONS)
@pytest.mark.parametrize("op", sorted(set(OP_NAMES) - MAGNITUDE_FREE))
def test_distortion_grows_with_magnitude(images, op, convention):
    change = [(apply_op(images, op, level, convention=convention).float() - images.float()).abs().mean().item()
              for level in (1, 5, 9)]
    assert change[0] < change[1] < change[2], change


@pytest.mark.parametrize("convention", CONVENTIONS)
def test_posterize_and_solarize_extremes(images, convention):
    apply = lambda op, level: apply_op(images, op, level, convention=convention)
    assert set(apply("posterize", 9).unique().tolist()) <= {0, 128}  # 7 bits removed, 1 kept
    assert torch.equal(apply("solarize", 9), 255 - images)  # threshold 0: every pixel inverted
    inverted = (apply("solarize", 7) != images).float().mean()
    assert 0.5 < inverted < 0.95  # seed 000: level 7 inverts "approximately 78%" of CIFAR pixels


def _defend(defense, images, labels, *, seed):
    """The defended uint8 images, through the data side as a client batch of floats in [0, 1]."""
    context = ClientContext(generator=torch.Generator().manual_seed(seed), num_classes=10)
    out = defense.defend_batch(ClientBatch.from_uint8(images, labels), context)
    assert out.images.dtype == torch.float32 and torch.equal(out.labels, labels)
    return out.to_uint8()


def test_the_float_batch_round_trip_is_exact(images):
    # The ops work on uint8 images: a client batch of floats goes there and back without a rounding step.
    labels = torch.zeros(len(images), dtype=torch.long)
    context = ClientContext(generator=torch.Generator().manual_seed(0), num_classes=10)
    batch = ClientBatch.from_uint8(images, labels)
    out = Augment(op="rotate", magnitude=0).defend_batch(batch, context)
    assert torch.equal(out.images, batch.images)
    rotated = Augment(op="rotate", magnitude=7, random_sign=False).defend_batch(batch, context)
    assert torch.equal(rotated.images, apply_op(images, "rotate", 7, None, convention="pil").float() / 255)


def test_random_sign_is_seeded_per_image(images):
    defense = Augment(op="brightness", magnitude=9)
    labels = torch.zeros(len(images), dtype=torch.long)
    a = _defend(defense, images, labels, seed=0)
    b = _defend(defense, images, labels, seed=0)
    assert torch.equal(a, b)
    brighter = a.float().mean((1, 2, 3)) > images.float().mean((1, 2, 3))
    assert brighter.any() and (~brighter).any()  # both directions occur over 20 images
    fixed = _defend(Augment(op="brightness", magnitude=9, random_sign=False), images, labels, seed=1)
    assert (fixed.float().mean((1, 2, 3)) >= images.float().mean((1, 2, 3))).all()
    assert "brightness" in SIGNED_OPS["pil"] and "rotate" not in SIGNED_OPS["pil"]


@pytest.mark.parametrize("convention", CONVENTIONS)
def test_ops_change_grey_images_and_color_refuses_them(convention):
    grey = Digits().load().test.images[:8]
    for op in set(OP_NAMES) - {"color"}:
        out = apply_op(grey, op, 9, convention=convention)
        assert out.shape == grey.shape and not torch.equal(out, grey), op
    with pytest.raises(ValueError, match="1-channel"):
        apply_op(grey, "color", 9, convention=convention)


def test_per_class_policy_touches_only_listed_classes(images):
    labels = torch.arange(len(images)) % 10
    defense = AugmentPerClass(policy={"airplane": {"op": "invert", "magnitude": 1}, "3": {"op": "posterize", "magnitude": 9}})
    defense.bind(["airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck"])
    out = _defend(defense, images, labels, seed=0)
    assert torch.equal(out[labels == 0], 255 - images[labels == 0])
    assert set(out[labels == 3].unique().tolist()) <= {0, 128}
    untouched = (labels != 0) & (labels != 3)
    assert torch.equal(out[untouched], images[untouched])
    assert defense.describe(3) == {"op": "posterize", "magnitude": 9}
    with pytest.raises(ConfigError) as err:
        AugmentPerClass(policy={"zebra": {"op": "invert", "magnitude": 1}}).bind(["cat", "dog"])
    assert "zebra" in str(err.value)


def test_table3_preset_holds_the_papers_policy(compose_cfg):
    cfg = compose_cfg("experiment=seed000_cifar10_table3")
    policy = cfg.defense.policy
    assert len(policy) == 10
    assert (policy.airplane.op, policy.airplane.magnitude) == ("solarize", 7)
    assert (policy.cat.op, policy.cat.magnitude) == ("posterize", 9)
    assert (policy.deer.op, policy.deer.magnitude) == ("brightness", 9)
    assert (policy.truck.op, policy.truck.magnitude) == ("solarize", 3)
