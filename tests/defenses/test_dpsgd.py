"""DP-SGD is really on: a huge noise multiplier destroys accuracy, epsilon is reported, updates are clipped."""

from __future__ import annotations

import pytest
import torch
from omegaconf import OmegaConf

from fedpriv.data import Digits
from fedpriv.defenses import DPSGD, NoDefense, UpdateDefense
from fedpriv.fl import FedSGD
from fedpriv.models import ConvNet, LeNet
from fedpriv.training import train_classifier

TRAINING = OmegaConf.create({"batch_size": 64, "optimizer": "adam", "lr": 0.01, "momentum": 0.9, "weight_decay": 0.0})


def _train(defense, epochs=8):
    data = Digits().load()
    torch.manual_seed(0)
    net = defense.adapt_model(LeNet(in_shape=data.shape, num_classes=10, activation="relu", init="default"))
    return train_classifier(net, data, TRAINING, defense, epochs=epochs, seed=0, device=torch.device("cpu"), progress=False)


@pytest.mark.slow
def test_huge_noise_gives_chance_accuracy_and_no_defense_does_not():
    clean = _train(NoDefense())
    private = _train(DPSGD(noise_multiplier=1000.0, max_grad_norm=1.0))
    moderate = _train(DPSGD(noise_multiplier=0.8, max_grad_norm=1.0))
    assert clean.test_accuracy > 0.85 and clean.epsilon is None
    assert private.test_accuracy < 0.2  # ten classes: chance is 0.1
    assert 0 < private.epsilon < moderate.epsilon < float("inf")
    assert moderate.test_accuracy > private.test_accuracy


def test_batchnorm_is_replaced_for_private_training():
    model = DPSGD().adapt_model(ConvNet(in_shape=(3, 32, 32), num_classes=10, width=4))
    kinds = {type(m).__name__ for m in model.modules()}
    assert "BatchNorm2d" not in kinds and "GroupNorm" in kinds


@pytest.mark.slow
def test_resnet18_trains_privately():
    from fedpriv.models import ResNet18

    data = Digits(image_size=32).load()
    data.train = data.train.subset(torch.arange(64))
    data.test = data.test.subset(torch.arange(32))
    net = DPSGD(noise_multiplier=1.0).adapt_model(ResNet18(in_shape=data.shape, num_classes=10, stem="imagenet"))
    assert not any(getattr(m, "inplace", False) for m in net.modules())
    result = train_classifier(net, data, TRAINING, DPSGD(noise_multiplier=1.0), epochs=1, seed=0,
                              device=torch.device("cpu"), progress=False)
    assert result.epsilon > 0


def test_shared_update_is_clipped_and_noised():
    torch.manual_seed(0)
    model = LeNet(in_shape=(1, 16, 16), num_classes=10)
    x, y = torch.randn(4, 1, 16, 16), torch.tensor([0, 1, 2, 3])
    plain = FedSGD(batch_size=4).shared_update(model, x, y)
    seeded = lambda defense, seed=0: UpdateDefense(defense, torch.Generator().manual_seed(seed))
    clipped = FedSGD(batch_size=4).shared_update(
        model, x, y, defense=seeded(DPSGD(noise_multiplier=0.0, max_grad_norm=1e-3)))
    norm = lambda grads: torch.sqrt(sum(g.pow(2).sum() for g in grads))
    assert norm(clipped.gradients) <= 1e-3 + 1e-6 < norm(plain.gradients)
    noisy = FedSGD(batch_size=4).shared_update(
        model, x, y, defense=seeded(DPSGD(noise_multiplier=10.0, max_grad_norm=1.0)))
    assert norm(noisy.gradients) > 10 * norm(plain.gradients)


def test_update_noise_comes_from_the_given_generator_only():
    model = LeNet(in_shape=(1, 16, 16), num_classes=10)
    x, y = torch.randn(4, 1, 16, 16), torch.tensor([0, 1, 2, 3])
    defense = DPSGD(noise_multiplier=1.0)

    def update(seed, global_seed):
        torch.manual_seed(global_seed)  # the global RNG must not matter
        generator = torch.Generator().manual_seed(seed)
        return FedSGD(batch_size=4).shared_update(model, x, y, defense=UpdateDefense(defense, generator)).gradients

    assert all(torch.equal(a, b) for a, b in zip(update(0, 1), update(0, 2)))
    assert not torch.equal(update(0, 1)[0], update(1, 1)[0])
