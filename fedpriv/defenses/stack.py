"""Several defenses on one client (``defense=[prune,noise]``), and building a defense from its config node.

A stack runs its members' hooks in the order they were chosen: the data side of the first member, then the
second's on its output; the same for the update side, the model adaptation and the training wrapper. Its name
joins the members' names with ``+`` and its columns are theirs (a column two members both report is prefixed
with each member's name). How the config node is split among the members: :mod:`fedpriv.config.members`.
"""

from __future__ import annotations

from typing import Any, Optional

from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from torch import Tensor, nn

from fedpriv.config.members import split_members
from fedpriv.config.validate import ConfigError
from fedpriv.defenses.base import Defense, NoDefense, TrainingSetup
from fedpriv.defenses.client import ClientBatch, ClientContext, ClientStep, DefenseKnowledge


class DefenseStack(Defense):
    """Members applied in order; an empty stack defends nothing."""

    def __init__(self, members: list[Defense]):
        # The undefended baseline adds nothing to a stack (``defense=[none,prune]`` is ``prune``).
        self.members = [m for m in members if not isinstance(m, NoDefense)]
        self.name = "+".join(m.name for m in self.members) or NoDefense.name
        self.train_on_defended = any(m.train_on_defended for m in self.members)
        self.update_in_training = any(m.update_in_training for m in self.members)
        counts: dict[str, int] = {}
        for member in self.members:
            for column in member.columns:
                counts[column] = counts.get(column, 0) + 1
        self._shared = {c for c, n in counts.items() if n > 1}
        self.columns = tuple(dict.fromkeys(c for m in self.members for c in self._own(m, m.columns)))

    def _own(self, member: Defense, columns) -> list[str]:
        return [f"{member.name}_{c}" if c in self._shared else c for c in columns]

    def bind(self, classes):
        for member in self.members:
            member.bind(classes)

    def describe(self, class_id=None):
        out: dict[str, Any] = {}
        for member in self.members:
            described = member.describe(class_id)
            out.update(zip(self._own(member, described), described.values()))
        return out

    def knowledge(self, update_gradients: list[Tensor]) -> DefenseKnowledge:
        known = [m.knowledge(update_gradients) for m in self.members]
        masks = [k.mask for k in known if k.mask is not None]
        mask = None
        if masks:  # an entry is visibly kept only where every masking member kept it
            mask = list(masks[0])
            for other in masks[1:]:
                mask = [a & b for a, b in zip(mask, other)]
        extra = {k.name: k.extra for k in known if k.extra}
        return DefenseKnowledge(name=self.name, params=self.describe(), mask=mask, extra=extra)

    def training_signature(self):
        signatures = [m.training_signature() for m in self.members]
        signatures = [(m, s) for m, s in zip(self.members, signatures) if s]
        if len(signatures) <= 1:  # alone, a member keys the cache exactly as it does on its own
            return signatures[0][1] if signatures else {}
        return {"stack": [[m.name, s] for m, s in signatures]}

    def adapt_model(self, model: nn.Module) -> nn.Module:
        for member in self.members:
            model = member.adapt_model(model)
        return model

    def defend_batch(self, batch: ClientBatch, context: ClientContext) -> ClientBatch:
        for member in self.members:
            # Training the utility classifier: only members that train on their defended data change it.
            if context.purpose != "training" or member.train_on_defended:
                batch = member.defend_batch(batch, context)
        return batch

    def private_training(self, module, optimizer, loader, *, epochs) -> TrainingSetup:
        setup = TrainingSetup(module, optimizer, loader)
        for member in self.members:
            wrapped = member.private_training(setup.module, setup.optimizer, setup.loader, epochs=epochs)
            setup = TrainingSetup(wrapped.module, wrapped.optimizer, wrapped.loader,
                                  epsilon=wrapped.epsilon or setup.epsilon, info={**setup.info, **wrapped.info})
        return setup

    def defend_update(self, gradients: list[Tensor], step: ClientStep) -> list[Tensor]:
        for member in self.members:
            if step.purpose != "training" or member.update_in_training:
                gradients = member.defend_update(gradients, step)
        return gradients

    def prepare_updates(self, model, inputs, targets, generator) -> None:
        for member in self.members:
            member.prepare_updates(model, inputs, targets, generator)

    def training_loss(self, model, outputs, targets) -> Optional[Tensor]:
        terms = [t for t in (m.training_loss(model, outputs, targets) for m in self.members) if t is not None]
        return sum(terms[1:], terms[0]) if terms else None


def build_defense(node: DictConfig | dict) -> Defense:
    """The defense a ``defense`` config node describes: one defense, or a :class:`DefenseStack` when the node
    merges several (``defense=[augment,dpsgd]``)."""
    values = OmegaConf.to_container(node, resolve=True) if isinstance(node, DictConfig) else dict(node)
    members, problems = split_members(values)
    if problems:
        raise ConfigError(problems)
    built = [instantiate(member.node(), _convert_="all") for member in members]
    return built[0] if len(built) == 1 else DefenseStack(built)
