"""PRECODE (Scheliga et al., WACV 2022, "PRECODE - A generic model extension to prevent deep gradient leakage").

A variational bottleneck goes in front of the model's last linear layer: the features are encoded into the mean
and standard deviation of a Gaussian of ``bottleneck`` dimensions, a sample of it is decoded back to the feature
size, and training adds ``beta`` times the KL divergence to a standard normal. Every gradient the client computes
then passes through a random sample the server never sees, which is what defeats gradient matching.

Following the authors' code (``VariationalBottleneck``): one linear encoder to 2K values (mean, then
``softplus`` of the rest as the standard deviation), a reparameterised sample in train and eval mode alike, one
linear decoder, and the KL divergence in bits, averaged over the batch, with beta = 1e-3.

Reproducible sampling: the bottleneck draws its noise on the CPU from its own ``torch.Generator``, never from the
global RNG. Its seed is a digest of the model's initial weights, which the trial builds from its seed, so a
seeded trial gets the same bottleneck weights and noise, and different seeds get different ones; the bottleneck's
own weights are initialised under that seed too (without touching the global RNG). The noise stream restarts
from (seed, mode) whenever the module switches between train and eval mode, so a model trained now and a model
loaded from the cache draw the same noise from the moment they are put into the mode they are used in.
"""

from __future__ import annotations

import hashlib
import math
from typing import Annotated, ClassVar, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from fedpriv.config.constraints import Range
from fedpriv.defenses.base import Defense
from fedpriv.defenses.soteria import last_linear


class VariationalBottleneck(nn.Module):
    """Features ``(N, D)`` in, a decoded sample of their Gaussian encoding ``(N, D)`` out.

    ``kl`` holds the KL divergence (bits, mean over the batch) of the last forward pass, for the training loss.
    """

    def __init__(self, features: int, size: int, *, seed: int):
        super().__init__()
        self.size = size
        self.seed = int(seed)
        self.encoder = nn.Linear(features, 2 * size)
        self.decoder = nn.Linear(size, features)
        self.kl: Optional[Tensor] = None
        self._generator: Optional[torch.Generator] = None

    def __getstate__(self):
        # The last KL term belongs to one forward pass (and its graph, which cannot be deep-copied).
        return {**self.__dict__, "kl": None}

    def extra_repr(self) -> str:
        return f"size={self.size}, seed={self.seed}"

    def train(self, mode: bool = True):
        if mode != self.training:
            self._generator = None  # restart the noise stream: see the module docstring
        return super().train(mode)

    def _noise(self, like: Tensor) -> Tensor:
        if self._generator is None:
            self._generator = torch.Generator().manual_seed((self.seed * 2 + int(self.training)) % (2**63))
        # Drawn on the CPU so that the noise is the same on every device.
        return torch.randn(like.shape, generator=self._generator).to(like.device, like.dtype)

    def forward(self, x: Tensor) -> Tensor:
        statistics = self.encoder(x)
        mu, raw = statistics[..., : self.size], statistics[..., self.size :]
        std = F.softplus(raw).clamp_min(1e-8)
        sample = mu + self._noise(std) * std
        self.kl = (-0.5 * (1 + 2 * std.log() - mu.pow(2) - std.pow(2))).sum(-1).mean() / math.log(2)
        return self.decoder(sample)


def weights_digest(model: nn.Module) -> int:
    """A 63-bit digest of the model's first and last parameter tensors (enough to tell seeded inits apart)."""
    params = list(model.parameters())
    digest = hashlib.sha256()
    for p in {id(params[0]): params[0], id(params[-1]): params[-1]}.values():
        digest.update(p.detach().float().cpu().contiguous().numpy().tobytes())
    return int.from_bytes(digest.digest()[:8], "little") >> 1


def _parent(model: nn.Module, target: nn.Module) -> tuple[nn.Module, str]:
    for name, module in model.named_modules():
        for child_name, child in module.named_children():
            if child is target:
                return module, child_name
    raise ValueError("PRECODE: the last linear layer is the model itself; wrap it in a module first")


class Precode(Defense):
    """Insert a variational bottleneck before the last linear layer and train with a KL penalty.

    Args:
        bottleneck: K, the dimension of the Gaussian encoding (the authors: 256).
        beta: weight of the KL term in the training loss (the authors: 1e-3).

    The bottleneck and the classifier become ``nn.Sequential(bottleneck, classifier)`` in the classifier's
    place, so the classifier's weight and bias stay the last two parameters (label inference reads them).
    """

    name = "precode"
    title = "PRECODE"
    columns: ClassVar[tuple[str, ...]] = ("bottleneck", "beta")

    def __init__(self, *, bottleneck: Annotated[int, Range(1, 65536)] = 256,
                 beta: Annotated[float, Range(0)] = 1e-3):
        self.bottleneck = int(bottleneck)
        self.beta = float(beta)

    def describe(self, class_id=None):
        return {"bottleneck": self.bottleneck, "beta": self.beta}

    def training_signature(self):
        return {"precode": [self.bottleneck, self.beta]}

    def adapt_model(self, model: nn.Module) -> nn.Module:
        if any(isinstance(m, VariationalBottleneck) for m in model.modules()):
            return model
        head = last_linear(model)
        parent, name = _parent(model, head)
        seed = weights_digest(model)
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)
            vb = VariationalBottleneck(head.in_features, self.bottleneck, seed=seed)
        vb.to(head.weight.device)
        vb.train(model.training)
        setattr(parent, name, nn.Sequential(vb, head))
        return model

    def training_loss(self, model: nn.Module, outputs: Tensor, targets: Tensor) -> Optional[Tensor]:
        terms = [m.kl for m in model.modules() if isinstance(m, VariationalBottleneck) and m.kl is not None]
        if not terms:
            return None
        return self.beta * sum(terms)
