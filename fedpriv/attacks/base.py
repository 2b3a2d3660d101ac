"""The attack interface: an attack turns an :class:`AttackProblem` into a :class:`Reconstruction`."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, ClassVar, Optional

import torch
from torch import Tensor, nn

from fedpriv.defenses.client import DefenseKnowledge
from fedpriv.fl.base import Protocol, SharedUpdate


@dataclass
class ServerKnowledge:
    """What the server knows before any client computes an update.

    Attributes:
        shape / num_classes / bounds: the task's input shape, class count and model-space pixel box.
        public_images: model-space images from the task's distribution that the server holds (the training
            split, which the attacked clients' test images are disjoint from); a malicious server uses them to
            calibrate its modified model, e.g. Imprint's bin thresholds.
    """

    shape: tuple[int, int, int]
    num_classes: int
    bounds: tuple[Tensor, Tensor]
    public_images: Tensor
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    seed: int = 0


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
        protocol: the client's FL protocol, whose ``simulate`` replays the client's computation.
        defense: what the threat model grants about the client's defense (its name and public parameters, the
            mask of a pruned update...), for adaptive attacks; ``DefenseKnowledge()`` (``none``) by default.
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
    protocol: Optional[Protocol] = None
    defense: DefenseKnowledge = field(default_factory=DefenseKnowledge)

    @property
    def batch_size(self) -> int:
        return self.update.batch_size

    @property
    def gradients(self) -> list[Tensor]:
        """The shared update in the units of one gradient of the mean loss (a FedAvg weight difference is
        rescaled by its protocol), for attacks that read quantities off gradients directly."""
        if self.protocol is None:
            return self.update.gradients
        return self.protocol.gradient_equivalent(self.update)

    @property
    def reconstruct_size(self) -> int:
        """Images behind the update: the batch, or all clients' images when several are aggregated."""
        return self.protocol.reconstruct_size if self.protocol is not None else self.batch_size


@dataclass
class Reconstruction:
    """An attack's output: model-space images ``(N, C, H, W)`` and one label per image (used or inferred).

    ``N`` may differ from the batch size (an attack may return more candidates than images); the trial pairs
    each private image with one reconstruction, and its label with it.
    """

    images: Tensor
    labels: Tensor
    loss: float = float("nan")
    initial: Optional[Tensor] = None
    info: dict[str, Any] = field(default_factory=dict)


class Attack:
    """An attack is a server: it may first change the model it sends (a malicious server), then it turns each
    shared update into a reconstruction. Reconstructions of a batch may come in any order and in any number; the
    trial matches them to the private images before scoring."""

    name: ClassVar[str] = "attack"

    def model_problems(self, model: nn.Module, shape: tuple[int, ...]) -> list[str]:
        """Reasons this attack cannot run against ``model`` (e.g. it needs a linear first layer); checked on an
        untrained copy before any training, so the trial fails early with these messages."""
        return []

    def prepare_model(self, model: nn.Module, knowledge: ServerKnowledge) -> nn.Module:
        """The model the server sends to the clients; an honest-but-curious server sends it unchanged."""
        return model

    def reconstruct(self, problem: AttackProblem) -> Reconstruction:
        raise NotImplementedError

    def estimate_seconds(self, problem: AttackProblem, *, updates: int, budget: float = 0.5) -> Optional[float]:
        """Rough seconds to attack ``updates`` shared updates like ``problem``, measured in at most about ``budget``
        seconds; None for attacks too quick to be worth estimating (closed-form ones)."""
        return None

    def reconstruct_many(self, problems: list[AttackProblem]) -> list[Reconstruction]:
        """All of a trial's problems; attacks that batch problems together override this."""
        return [self.reconstruct(p) for p in problems]
