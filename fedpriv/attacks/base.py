"""The attack interface: an attack turns an :class:`AttackProblem` into a :class:`Reconstruction`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Optional

import torch
from torch import Tensor, nn

from fedpriv.fl.base import SharedUpdate


@dataclass
class AttackProblem:
    """Everything the server knows when it attacks one shared update.

    Attributes:
        model: the model as the server sent it, in the mode the client used (``model.training``).
        update: what the client shared.
        shape: ``(C, H, W)`` of one input.
        num_classes: classes of the task.
        bounds: model-space values of pixel 0 and pixel 1 per channel, ``(1, C, 1, 1)`` each.
        labels: the batch's labels when the threat model grants them, else None (the attack infers them).
        seed: seeds the attack's randomness (initialisation, restarts).
    """

    model: nn.Module
    update: SharedUpdate
    shape: tuple[int, int, int]
    num_classes: int
    bounds: tuple[Tensor, Tensor]
    labels: Optional[Tensor] = None
    seed: int = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    progress: bool = False

    @property
    def batch_size(self) -> int:
        return self.update.batch_size


@dataclass
class Reconstruction:
    """An attack's output: model-space images ``(B, C, H, W)`` and the labels it used or inferred."""

    images: Tensor
    labels: Tensor
    loss: float = float("nan")
    initial: Optional[Tensor] = None
    info: dict[str, Any] = field(default_factory=dict)


class Attack:
    name: ClassVar[str] = "attack"

    def reconstruct(self, problem: AttackProblem) -> Reconstruction:
        raise NotImplementedError
