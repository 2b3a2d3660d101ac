"""The interface every defense implements; each hook defaults to "change nothing".

A defense can act at four places of a trial, each called from exactly one place in :mod:`fedpriv.trial`:

- data side: :meth:`Defense.defend_inputs` transforms the client's images before its update is computed;
- model side: :meth:`Defense.adapt_model` changes the architecture (DP-SGD swaps BatchNorm for GroupNorm);
- training side: :meth:`Defense.private_training` wraps how classifiers are trained (DP-SGD via Opacus);
- update side: :meth:`Defense.defend_update` transforms the gradients the client shares.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Optional

import torch
from torch import Tensor, nn


@dataclass
class TrainingSetup:
    """What the training loop runs with; ``epsilon`` reports the privacy spent so far, when defined."""

    module: nn.Module
    optimizer: torch.optim.Optimizer
    loader: torch.utils.data.DataLoader
    epsilon: Optional[Callable[[], float]] = None
    info: dict = field(default_factory=dict)


class Defense:
    name: ClassVar[str] = "none"
    # Whether classifiers are trained on defended inputs; MA then measures a model that saw such inputs.
    train_on_defended: bool = False

    def bind(self, classes: list[str]) -> None:
        """Called once with the dataset's class names before any other hook."""

    @classmethod
    def input_problems(cls, *, channels: int, **values) -> list[str]:
        """Settings (``values``, this defense's config keys) that would leave images of ``channels`` channels
        unchanged; checked with the dataset's channel count before any data is loaded."""
        return []

    def describe(self, class_id: int | None = None) -> dict[str, Any]:
        """Columns for the results table (``op``, ``magnitude``, noise settings...), for one class if it matters."""
        return {"op": "", "magnitude": ""}

    def training_signature(self) -> dict[str, Any]:
        """Everything about this defense that changes trained weights; part of the model cache key."""
        return {}

    def adapt_model(self, model: nn.Module) -> nn.Module:
        return model

    def defend_inputs(self, images: Tensor, labels: Tensor, *, generator: torch.Generator) -> Tensor:
        """uint8 ``(N, C, H, W)`` images in, defended uint8 images of the same shape out."""
        return images

    def private_training(self, module: nn.Module, optimizer, loader, *, epochs: int) -> TrainingSetup:
        return TrainingSetup(module, optimizer, loader)

    def defend_update(self, gradients: list[Tensor], *, per_sample: Callable[[], list[Tensor]],
                      generator: Optional[torch.Generator] = None) -> list[Tensor]:
        """Transform the shared gradients; ``per_sample()`` computes per-example gradients on demand.
        ``generator`` (seeded by the trial) is the only source of randomness a defense may draw from."""
        return gradients


class NoDefense(Defense):
    """The undefended baseline."""

    name = "none"
