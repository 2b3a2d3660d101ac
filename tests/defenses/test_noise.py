"""Additive update noise: the requested distribution and scale, drawn only from the step's generator."""

from __future__ import annotations

import math

import pytest
import torch

from fedpriv.defenses import Noise
from fedpriv.defenses.client import ClientStep
from fedpriv.models import LeNet


def _step(seed: int) -> ClientStep:
    return ClientStep(model=LeNet(in_shape=(1, 16, 16), num_classes=10), inputs=torch.zeros(1, 1, 16, 16),
                      targets=torch.zeros(1, dtype=torch.long), generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize("distribution,std_per_scale", [("gaussian", 1.0), ("laplacian", math.sqrt(2))])
def test_noise_has_the_requested_distribution_and_scale(distribution, std_per_scale):
    update = [torch.ones(200, 200), torch.zeros(40_000)]
    noisy = Noise(distribution=distribution, scale=0.05).defend_update(update, _step(0))
    for before, after in zip(update, noisy):
        noise = (after - before).flatten()
        assert abs(noise.mean().item()) < 1e-3
        assert noise.std().item() == pytest.approx(0.05 * std_per_scale, rel=0.03)
    kurtosis = ((noise - noise.mean()) ** 4).mean() / noise.var() ** 2
    assert kurtosis.item() == pytest.approx(3.0 if distribution == "gaussian" else 6.0, rel=0.15)


def test_noise_is_reproducible_from_the_step_generator_only():
    update = [torch.zeros(5, 5)]
    torch.manual_seed(0)
    first = Noise(scale=1.0).defend_update(update, _step(7))[0]
    torch.manual_seed(123)  # the global RNG plays no part
    again = Noise(scale=1.0).defend_update(update, _step(7))[0]
    other = Noise(scale=1.0).defend_update(update, _step(8))[0]
    assert torch.equal(first, again) and not torch.equal(first, other)


def test_zero_scale_shares_the_update_unchanged_and_describes_itself():
    update = [torch.randn(3, 3)]
    assert torch.equal(Noise(scale=0.0).defend_update(update, _step(0))[0], update[0])
    assert Noise(distribution="laplacian", scale=1e-3).describe() == {"distribution": "laplacian", "scale": 1e-3}
