"""DP-SGD (Abadi et al. 2016) through Opacus: private training of the classifiers and a clipped, noised update."""

from __future__ import annotations

import warnings
from typing import Annotated

import torch
from opacus import PrivacyEngine
from opacus.validators import ModuleValidator

from fedpriv.config.constraints import OneOf, Range
from fedpriv.defenses.base import Defense, TrainingSetup
from fedpriv.defenses.client import ClientStep


class DPSGD(Defense):
    """Train with per-example clipping and Gaussian noise (Opacus ``make_private``) and share a DP update.

    Args:
        noise_multiplier: sigma, the noise standard deviation in units of ``max_grad_norm`` (seed 000: 0.1, 0.5,
            1.0 on CIFAR-10; 0.1, 0.2, 0.3 on CIFAR-100).
        max_grad_norm: per-example clipping bound C (seed 000: 1).
        delta: the delta of the reported (epsilon, delta) guarantee (seed 000: 1e-5).
        accountant: Opacus accountant that reports epsilon (``rdp``, ``prv`` or ``gdp``).
        noisy_update: also clip each example's gradient and add N(0, (sigma C)^2) to the update the client
            shares, as a DP-SGD client would; false attacks the plain gradient of the DP-trained model.
        poisson_sampling: sample training batches as the accountant assumes (Opacus' default).
    """

    name = "dpsgd"
    title = "DP-SGD"
    columns = ("noise_multiplier", "max_grad_norm", "noisy_update")

    def __init__(
        self,
        *,
        noise_multiplier: Annotated[float, Range(0)] = 0.5,
        max_grad_norm: Annotated[float, Range(0, None, low_open=True)] = 1.0,
        delta: Annotated[float, Range(0, 1, low_open=True, high_open=True)] = 1e-5,
        accountant: Annotated[str, OneOf(("rdp", "prv", "gdp"))] = "rdp",
        noisy_update: bool = True,
        poisson_sampling: bool = True,
    ):
        self.noise_multiplier = noise_multiplier
        self.max_grad_norm = max_grad_norm
        self.delta = delta
        self.accountant = accountant
        self.noisy_update = noisy_update
        self.poisson_sampling = poisson_sampling

    def describe(self, class_id=None):
        # noisy_update tells a report whether the attacked update itself was defended (with an untrained victim
        # and a clean update, DP-SGD would change only MA).
        return {"noise_multiplier": self.noise_multiplier, "max_grad_norm": self.max_grad_norm,
                "noisy_update": self.noisy_update}

    def training_signature(self):
        return {
            "dpsgd": [self.noise_multiplier, self.max_grad_norm, self.delta, self.accountant, self.poisson_sampling]
        }

    def adapt_model(self, model):
        # Per-example gradients are undefined through BatchNorm; Opacus' fix swaps it for GroupNorm.
        if ModuleValidator.validate(model, strict=False):
            model = ModuleValidator.fix(model)
        # Opacus' backward hooks cannot follow activations that overwrite their input (torchvision's ResNets).
        for module in model.modules():
            if getattr(module, "inplace", False):
                module.inplace = False
        return model

    def private_training(self, module, optimizer, loader, *, epochs):
        # Opacus warns that its RNG is not cryptographically secure (secure_mode is for deployment, not study).
        warnings.filterwarnings("ignore", message=".*Secure RNG turned off.*")
        warnings.filterwarnings("ignore", message=".*Full backward hook is firing.*")
        warnings.filterwarnings("ignore", message=".*Optimal order is the (largest|smallest) alpha.*")
        engine = PrivacyEngine(accountant=self.accountant)
        module, optimizer, loader = engine.make_private(
            module=module,
            optimizer=optimizer,
            data_loader=loader,
            noise_multiplier=self.noise_multiplier,
            max_grad_norm=self.max_grad_norm,
            poisson_sampling=self.poisson_sampling,
        )
        return TrainingSetup(
            module, optimizer, loader, epsilon=lambda: float(engine.get_epsilon(self.delta)),
            info={"sample_rate": 1.0 / max(len(loader), 1)},
        )

    def defend_update(self, gradients, step: ClientStep):
        if not self.noisy_update:
            return gradients
        # Noise only from the step's seeded generator: the global RNG would make the update depend on what ran
        # before (a cold or a warm model cache).
        generator = step.generator
        samples = step.per_sample()  # one tensor per parameter, shape (B, *param.shape)
        batch = samples[0].shape[0]
        norms = torch.sqrt(sum(g.reshape(batch, -1).pow(2).sum(1) for g in samples))
        scale = (self.max_grad_norm / (norms + 1e-6)).clamp(max=1.0)
        noisy = []
        for g in samples:
            clipped_sum = (g * scale.view(-1, *[1] * (g.ndim - 1))).sum(0)
            noise = torch.randn(clipped_sum.shape, generator=generator, dtype=clipped_sum.dtype)
            noise = noise.to(clipped_sum.device) * (self.noise_multiplier * self.max_grad_norm)
            noisy.append((clipped_sum + noise) / batch)
        return noisy
