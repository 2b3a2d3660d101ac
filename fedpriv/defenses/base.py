"""The interface every client-side defense implements; each hook defaults to "change nothing".

A defense acts on the client through two hooks, with the same object wherever a client computes something
(training the utility classifier, the attacked shared update, the FedAvg rounds before it; see
:mod:`fedpriv.defenses.client` for what each hook receives):

- data side: :meth:`Defense.defend_batch` turns the client's batch into the batch it really trains on
  (augmented, mixed, encoded), with hard or soft targets;
- update side: :meth:`Defense.defend_update` turns the gradients of one local step into what leaves the client
  (clipped and noised, pruned).

Three more hooks change how models are built and trained: :meth:`Defense.adapt_model` (DP-SGD swaps
BatchNorm for GroupNorm), :meth:`Defense.private_training` (DP-SGD via Opacus) and :meth:`Defense.training_loss`
(an extra loss term, e.g. PRECODE's KL). :meth:`Defense.knowledge` is what an adaptive attacker is told.

Defenses compose (``defense=[prune,noise]``): :class:`fedpriv.defenses.stack.DefenseStack` applies its members'
hooks in order, and :func:`fedpriv.defenses.stack.build_defense` builds one defense or a stack from the config.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, ClassVar, Optional

import torch
from torch import Tensor, nn

from fedpriv.defenses.client import ClientBatch, ClientContext, ClientStep, DefenseKnowledge


@dataclass
class TrainingSetup:
    """What the training loop runs with; ``epsilon`` reports the privacy spent so far, when defined."""

    module: nn.Module
    optimizer: torch.optim.Optimizer
    loader: torch.utils.data.DataLoader
    epsilon: Optional[Callable[[], float]] = None
    info: dict = field(default_factory=dict)


class Defense:
    """A client-side defense. Subclasses override the hooks they need and name their results columns.

    Attributes:
        name: the defense's name in results rows, folder names and logs.
        columns: the keys :meth:`describe` returns (the report builds its tables from them).
        train_on_defended: the utility classifier is trained on batches passed through :meth:`defend_batch`
            (``purpose="training"``); MA then measures a model that saw such inputs.
        update_in_training: each optimiser step of the utility classifier passes its gradients through
            :meth:`defend_update` (``purpose="training"``), as a client running the defense would train.
    """

    name: ClassVar[str] = "none"
    columns: ClassVar[tuple[str, ...]] = ()
    train_on_defended: bool = False
    update_in_training: bool = False

    def bind(self, classes: list[str]) -> None:
        """Called once with the dataset's class names before any other hook."""

    @classmethod
    def input_problems(cls, *, channels: int, **values) -> list[str]:
        """Settings (``values``, this defense's config keys) that would leave images of ``channels`` channels
        unchanged; checked with the dataset's channel count before any data is loaded."""
        return []

    def describe(self, class_id: int | None = None) -> dict[str, Any]:
        """The :attr:`columns` of a results row (``op``, ``magnitude``, noise settings...), for one class if it
        matters."""
        return {}

    def knowledge(self, update_gradients: list[Tensor]) -> DefenseKnowledge:
        """What an adaptive attacker is granted about this defense, given the update it observes; by default
        the defense's name and public parameters."""
        return DefenseKnowledge(name=self.name, params=dict(self.describe()))

    def training_signature(self) -> dict[str, Any]:
        """Everything about this defense that changes trained weights; part of the model cache key."""
        return {}

    def adapt_model(self, model: nn.Module) -> nn.Module:
        return model

    def defend_batch(self, batch: ClientBatch, context: ClientContext) -> ClientBatch:
        """The batch the client computes on: images in [0, 1] (float), hard or soft targets. Randomness only
        from ``context.generator``."""
        return batch

    def private_training(self, module: nn.Module, optimizer, loader, *, epochs: int) -> TrainingSetup:
        return TrainingSetup(module, optimizer, loader)

    def defend_update(self, gradients: list[Tensor], step: ClientStep) -> list[Tensor]:
        """What leaves the client for one local step's ``gradients`` (one tensor per parameter, in
        ``model.parameters()`` order). ``step.per_sample()`` computes per-example gradients on demand;
        ``step.generator`` is the only source of randomness a defense may draw from. Return ``gradients``
        itself to change nothing."""
        return gradients

    def prepare_updates(self, model: nn.Module, inputs: list[Tensor], targets: list[Tensor],
                        generator: torch.Generator) -> None:
        """Called once before a trial computes the shared updates of all its batches (model-space ``inputs``
        and their ``targets``, one entry per batch), so a defense that optimises something per batch can do it
        for every batch in one vectorised computation; :meth:`defend_update` then finds the result."""

    def training_loss(self, model: nn.Module, outputs: Tensor, targets: Tensor) -> Optional[Tensor]:
        """An extra term added to the training loss of every step where the client trains (None: nothing)."""
        return None


class NoDefense(Defense):
    """The undefended baseline."""

    name = "none"


@dataclass
class UpdateDefense:
    """A defense's update side as protocols and training loops apply it to each local step: the defense, the
    seeded generator its draws come from, and where the step runs (``purpose``)."""

    defense: Defense = field(default_factory=NoDefense)
    generator: torch.Generator = field(default_factory=lambda: torch.Generator().manual_seed(0))
    purpose: str = "update"

    def __call__(self, gradients: list[Tensor], *, model: nn.Module, inputs: Tensor, targets: Tensor) -> list[Tensor]:
        step = ClientStep(model=model, inputs=inputs, targets=targets, generator=self.generator, purpose=self.purpose)
        return self.defense.defend_update(gradients, step)
