"""What client-side defenses see: the client's batch, where it is being used, and one local step.

Every defense acts through two hooks (see :class:`fedpriv.defenses.base.Defense`):

- data side, ``defend_batch(batch: ClientBatch, context: ClientContext) -> ClientBatch``: images in [0, 1]
  with hard or soft targets in, the batch the client really trains on out (augmented, mixed, concealed...);
- update side, ``defend_update(gradients, step: ClientStep) -> list[Tensor]``: the update of one local step in,
  what leaves the client out (clipped and noised, pruned...), with the model, the defended inputs and targets
  and a seeded generator at hand.

The same defense object runs at three places with the same hooks: training the classifier whose accuracy is the
utility (``ClientContext.purpose == "training"``), the attacked client's shared update (``"update"``), and every
client step of the FedAvg rounds before the attack (``"round"``).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any, Callable, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn

PURPOSES = ("training", "update", "round")

OtherData = Callable[[int, torch.Generator], tuple[Tensor, Tensor]]
"""Draws ``n`` more of the client's own images (float in [0, 1]) and their hard labels."""


@dataclass
class ClientBatch:
    """A client's batch as data-side defenses pass it on.

    Attributes:
        images: float ``(N, C, H, W)`` in pixel space, [0, 1] for images (a defense may leave that range, as
            InstaHide's sign flips do; the model then sees them normalised as they are).
        targets: ``(N,)`` int64 class indices, or ``(N, K)`` float class probabilities (Mixup, InstaHide).
        labels: ``(N,)`` the hard label each row is scored under (its private image's class).
        info: what a data-side defense records about how it changed the batch, for scoring and for adaptive
            attacks granted it (e.g. ``mix_index``/``mix_weight`` of Mixup, ``sensitive`` of concealing samples).
    """

    images: Tensor
    targets: Tensor
    labels: Tensor
    info: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_uint8(cls, images: Tensor, labels: Tensor) -> "ClientBatch":
        return cls(images=images.float() / 255, targets=labels.clone(), labels=labels.clone())

    def __len__(self) -> int:
        return len(self.images)

    @property
    def soft(self) -> bool:
        return self.targets.ndim == 2

    def probabilities(self, num_classes: int) -> Tensor:
        """Targets as ``(N, K)`` class probabilities, whatever form they are in."""
        if self.soft:
            return self.targets.float()
        return F.one_hot(self.targets.long(), num_classes).float()

    def with_(self, **changes) -> "ClientBatch":
        """A copy with some fields replaced (``info`` is merged, not replaced)."""
        info = {**self.info, **changes.pop("info", {})}
        return replace(self, info=info, **changes)

    def to_uint8(self) -> Tensor:
        """Images rounded back to uint8 (exact for images that came from uint8 and were not changed)."""
        return (self.images.clamp(0, 1) * 255).round().to(torch.uint8)


@dataclass
class ClientContext:
    """Where a data-side defense runs and what else the client has.

    Attributes:
        generator: the only source of randomness the defense may draw from (seeded by the trial).
        num_classes: classes of the task (soft targets have this many columns).
        purpose: ``training`` (the utility classifier), ``update`` (the attacked shared update) or ``round``
            (a client step of the FedAvg rounds before the attack).
        other_data: more of the client's own data (mixing partners, concealing starts), or None when the
            client has nothing else.
        epoch: the training epoch (defenses that draw fresh encodings every epoch use it), 0 otherwise.
    """

    generator: torch.Generator
    num_classes: int
    purpose: str = "update"
    other_data: Optional[OtherData] = None
    epoch: int = 0

    def __post_init__(self):
        if self.purpose not in PURPOSES:
            raise ValueError(f"ClientContext.purpose={self.purpose!r}; allowed: {', '.join(PURPOSES)}")


@dataclass
class ClientStep:
    """One local step of a client, as update-side defenses see it.

    Attributes:
        model: the client's model at this step (the server's model for a FedSGD update).
        inputs: the defended inputs in model space (normalised), as the model consumed them.
        targets: hard ``(N,)`` or soft ``(N, K)`` targets of those inputs.
        generator: the only source of randomness the defense may draw from (seeded by the trial).
        purpose: as :attr:`ClientContext.purpose`.
        per_sample_fn: computes per-example gradients on demand (one ``(N, *param.shape)`` tensor per parameter).
    """

    model: nn.Module
    inputs: Tensor
    targets: Tensor
    generator: torch.Generator
    purpose: str = "update"
    per_sample_fn: Optional[Callable[[], list[Tensor]]] = None
    _per_sample: Optional[list[Tensor]] = field(default=None, repr=False)

    def per_sample(self) -> list[Tensor]:
        """Per-example gradients, computed once (needs a model without BatchNorm)."""
        if self._per_sample is None:
            if self.per_sample_fn is None:
                from fedpriv.fl.base import per_sample_gradients

                self._per_sample = per_sample_gradients(self.model, self.inputs, self.targets)
            else:
                self._per_sample = self.per_sample_fn()
        return self._per_sample


@dataclass
class DefenseKnowledge:
    """What the threat model grants an adaptive attacker about the client's defense.

    Attributes:
        name: the defense's name (``prune``, ``mixup``, ``none``; members joined by ``+`` for a stack).
        params: its public parameters (the columns it describes itself with: ``p``, ``scale``, ``k``...).
        mask: per parameter, the entries the update reveals as kept (True) where the defense zeroes others
            (pruning: the zeros of the shared update are visible), else None.
        extra: anything else a defense makes public (e.g. the encodings of a client's dataset over several
            epochs for the Mixup/InstaHide decoder).
    """

    name: str = "none"
    params: dict[str, Any] = field(default_factory=dict)
    mask: Optional[list[Tensor]] = None
    extra: dict[str, Any] = field(default_factory=dict)
