"""The Mixup decoder (Carlini et al.'s attack) on real CIFAR-10 encodings collected over several epochs: with the
decoder, the private images come back far better than the encodings show their largest component (seed 003: the
decoder breaks Mixup). Encodings carry a little noise, standing in for the error of gradient inversion."""

from __future__ import annotations

import pytest
import torch

from fedpriv.attacks.decoders import MixupDecoder, build_decoder, decode_mixup
from fedpriv.defenses import InstaHide, Mixup
from fedpriv.defenses.mixing import encode_epochs, largest_component
from fedpriv.metrics.image import psnr
from fedpriv.metrics.matching import match_reconstructions

EPOCHS = 20
NOISE = 0.05  # pixel std of the reconstruction error stand-in


@pytest.fixture(scope="module")
def private(cifar10_root):
    from fedpriv.data import CIFAR10

    test = CIFAR10(root=str(cifar10_root), train_per_class=1, test_per_class=1).load().test  # one image per class
    return test.images.float() / 255, test.labels.long()


def collected(defense, images, labels, seed=0):
    """Encodings of the client's dataset over ``EPOCHS`` epochs as an attacker recovers them (with noise), and the
    PSNR of scoring them without a decoder (against their largest-weight component)."""
    generator = torch.Generator().manual_seed(seed)
    encoded = encode_epochs(defense, images, labels, epochs=EPOCHS, num_classes=10, generator=generator)
    noisy = (encoded.images + NOISE * torch.randn(encoded.images.shape, generator=generator)).clamp(0, 1)
    return encoded, noisy, psnr(noisy, largest_component(encoded.info)).mean()


@pytest.mark.parametrize("k", [4, 6])
def test_decoder_with_the_mixing_granted_breaks_mixup(private, k):
    images, labels = private
    encoded, noisy, baseline = collected(Mixup(k=k), images, labels)
    decoded = decode_mixup(noisy, mix_index=encoded.info["mix_index"], mix_weight=encoded.info["mix_weight"])
    gained = psnr(decoded.images, images).mean()
    assert gained > baseline + 5, (float(baseline), float(gained))  # measured: about 15 dB -> 34 dB


def test_decoder_estimating_the_mixing_still_breaks_mixup(private):
    images, labels = private
    encoded, noisy, baseline = collected(Mixup(k=4), images, labels)
    decoded = decode_mixup(noisy, k=4, epoch=encoded.info["epoch"], starts=2)
    # the estimates come as an unordered set: pair them with the private images as the trial does
    order = match_reconstructions(decoded.images, images)
    gained = psnr(decoded.images[order], images).mean()
    assert gained > baseline + 5, (float(baseline), float(gained))  # measured: about 15 dB -> 30 dB


def test_decoder_with_the_mixing_granted_recovers_instahide_up_to_one_sign(private):
    images, labels = private
    small = images[:, :, 8:24, 8:24]  # a 16x16 crop keeps the per-pixel solver quick
    encoded, noisy, baseline = collected(InstaHide(k=4), small, labels)
    decoder = build_decoder("mixup", seed=0)
    knowledge = InstaHide(k=4).knowledge([])
    knowledge.extra.update(mix_index=encoded.info["mix_index"], mix_weight=encoded.info["mix_weight"])
    decoded = decoder(noisy, knowledge)
    assert decoded.sign_ambiguous
    gained = torch.maximum(psnr(decoded.images, small).mean(), psnr(1 - decoded.images, small).mean())
    assert gained > baseline + 5, (float(baseline), float(gained))


def test_decode_none_builds_nothing_and_unknown_names_are_refused():
    assert build_decoder("none") is None
    assert isinstance(build_decoder("mixup"), MixupDecoder)
    with pytest.raises(ValueError, match="attack.decode"):
        build_decoder("loda")
