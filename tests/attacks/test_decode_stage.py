"""The trial's decode stage on real CIFAR-10 images: a client trains with Mixup, the attacker inverts the shared
updates of its encodings over several epochs and decodes them (``attack.decode=mixup``), and the private images
come back far better than gradient inversion alone shows them (scored against each mixture's largest
component). Also: the decoder is a config error without a mixing defense."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import torch

from fedpriv.attacks import InvertingGradients
from fedpriv.attacks.decode_stage import decode_targets, score_largest_component
from fedpriv.config.validate import ConfigError, validate
from fedpriv.data.targets import defended_batches
from fedpriv.defenses import Mixup
from fedpriv.fl import FedSGD
from fedpriv.metrics.image import psnr
from fedpriv.models import MLP
from fedpriv.trial import _attack_targets


@pytest.fixture(scope="module")
def client(cifar10_root):
    from fedpriv.data import CIFAR10

    torch.manual_seed(0)
    data = CIFAR10(root=str(cifar10_root), train_per_class=1, test_per_class=4, image_size=16).load()
    defense = Mixup(k=4)
    targets = SimpleNamespace(per_class=1, fraction=None, batching="by_class")
    batches = defended_batches(data, list(range(5)), targets, batch_size=1, defense=defense, seed=0)
    victim = MLP(in_shape=tuple(data.shape), num_classes=10, hidden=32).eval()
    return data, defense, batches, victim


@pytest.mark.slow  # about a minute on 2 busy cores: 30 inversions of 400 iterations, and 5 more
def test_decoding_recovers_the_private_images_far_better_than_inversion_alone(client):
    data, defense, batches, victim = client
    # Decoding amplifies the inversion's error (measured: encodings recovered at 22 dB after 100 iterations decode
    # to 20 dB, at 32 dB after 400 iterations to 28 dB), so the inversion must be good for the decoder to pay.
    attack = InvertingGradients(iterations=400, tv_weight=0.01, labels="given", parallel=64, decode="mixup",
                                decode_epochs=6)
    common = (SimpleNamespace(progress=False), data, batches, FedSGD(batch_size=1), defense, attack, victim,
              torch.device("cpu"), 0)
    inverted = score_largest_component(_attack_targets(*common), batches)
    decoded = decode_targets(*common)
    assert torch.equal(decoded["original"], torch.cat([b.originals for b in batches]).float() / 255)
    alone = psnr(inverted["reconstruction"], inverted["original"]).mean()
    gained = psnr(decoded["reconstruction"], decoded["original"]).mean()
    assert gained > alone + 5, (float(alone), float(gained))  # measured (10 images, 8 epochs): 17 -> 28 dB


@pytest.mark.parametrize("defense", ["none", "prune"])
def test_decoder_without_a_mixing_defense_is_a_config_error(compose_cfg, defense):
    cfg = compose_cfg(f"defense={defense}", "attack.decode=mixup")
    with pytest.raises(ConfigError, match=r"attack.decode=mixup.*allowed: attack.decode=none, or defense=mixup"):
        validate(cfg)


def test_decoder_needs_single_image_updates(compose_cfg):
    cfg = compose_cfg("defense=instahide", "attack.decode=mixup", "fl.batch_size=4")
    with pytest.raises(ConfigError, match="fl.batch_size=1"):
        validate(cfg)
    validate(compose_cfg("defense=instahide", "attack.decode=mixup"))
