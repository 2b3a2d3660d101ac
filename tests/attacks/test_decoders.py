"""The Mixup decoder (Carlini et al.'s attack) on real CIFAR-10 encodings collected over several epochs: with the
decoder, the private images come back far better than the encodings show their largest component (seed 003: the
decoder breaks Mixup). Encodings carry a little noise, standing in for the error of gradient inversion."""

from __future__ import annotations

import pytest
import torch

from fedpriv.attacks.decoders import MixupDecoder, build_decoder, decode_mixup, mixing_knowledge, paired_with
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
    assert gained > baseline + 5, (float(baseline), float(gained))  # measured: 16 -> 34 dB (k=4), 15 -> 33 (k=6)


def test_decoder_estimating_the_mixing_still_breaks_mixup(private):
    images, labels = private
    encoded, noisy, baseline = collected(Mixup(k=4), images, labels)
    decoder = MixupDecoder(starts=2)
    decoded = decoder(noisy, mixing_knowledge(Mixup(k=4).knowledge([]), encoded.info, mapping=False))
    assert decoded.groups is not None  # the mixing was estimated, not read from the knowledge
    # the estimates come as an unordered set: pair them with the private images as the trial does
    gained = psnr(paired_with(decoded, images), images).mean()
    assert gained > baseline + 5, (float(baseline), float(gained))  # measured: about 16 dB -> 33 dB


def test_decoder_with_the_mixing_granted_recovers_instahide_up_to_one_sign(private):
    images, labels = private
    small = images[:, :, 8:24, 8:24]  # a 16x16 crop keeps the per-pixel solver quick
    encoded, noisy, baseline = collected(InstaHide(k=4), small, labels)
    decoder = build_decoder("mixup", seed=0)
    decoded = decoder(noisy, mixing_knowledge(InstaHide(k=4).knowledge([]), encoded.info, mapping=True))
    assert decoded.sign_ambiguous
    gained = psnr(paired_with(decoded, small), small).mean()
    assert gained > baseline + 5, (float(baseline), float(gained))  # measured: about 11 dB -> 32 dB


def test_decode_none_builds_nothing_and_unknown_names_are_refused():
    assert build_decoder("none") is None
    assert isinstance(build_decoder("mixup"), MixupDecoder)
    with pytest.raises(ValueError, match="attack.decode"):
        build_decoder("loda")


@pytest.mark.slow
def test_gradient_inversion_then_decoder_recovers_mixed_digits():
    """End to end: Inverting Gradients recovers each encoding from its FedSGD update (soft labels optimised), then
    the decoder turns six epochs of reconstructions into the private digits."""
    from fedpriv.attacks import AttackProblem, InvertingGradients
    from fedpriv.data import Digits
    from fedpriv.fl import FedSGD
    from fedpriv.models import MLP

    data = Digits(train_per_class=1, test_per_class=1).load()
    images, labels = data.test.images.float() / 255, data.test.labels.long()
    encoded = encode_epochs(Mixup(k=4), images, labels, epochs=6, num_classes=10,
                            generator=torch.Generator().manual_seed(0))
    torch.manual_seed(0)
    model = MLP(in_shape=data.shape, num_classes=10, hidden=64).eval()
    problems = []
    for i in range(len(encoded)):
        update = FedSGD().shared_update(model, data.normalize(encoded.images[i : i + 1]), encoded.targets[i : i + 1])
        problems.append(AttackProblem(model=model, update=update, shape=data.shape, num_classes=10,
                                      bounds=data.bounds(), seed=i))
    attack = InvertingGradients(iterations=400, tv_weight=1e-4, labels="optimize", parallel=len(problems))
    reconstructions = torch.cat([data.denormalize(r.images.detach()) for r in attack.reconstruct_many(problems)])
    reconstructions = reconstructions.clamp(0, 1)
    baseline = psnr(reconstructions, largest_component(encoded.info)).mean()
    known = decode_mixup(reconstructions, mix_index=encoded.info["mix_index"], mix_weight=encoded.info["mix_weight"])
    estimated = decode_mixup(reconstructions, k=4, epoch=encoded.info["epoch"]).images
    estimated = estimated[match_reconstructions(estimated, images)]
    # measured: 17.8 dB without the decoder, 45.5 dB with the mixing granted, 36.2 dB estimating it
    assert psnr(known.images, images).mean() > baseline + 5
    assert psnr(estimated, images).mean() > baseline + 5
