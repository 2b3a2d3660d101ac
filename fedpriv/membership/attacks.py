"""Membership inference attacks: given the target model and records, score how likely each was trained on.

A membership attack is a different family from gradient inversion: it sees a trained model, not an update, and
the trial hands it a :class:`MembershipProblem` (``family = "membership"`` sends the trial to
:func:`fedpriv.membership.trial.run_membership_trial`). Both attacks here train reference models on the
attacker's own records, disjoint from the target's, with the target's architecture and training recipe.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Callable, ClassVar, Optional

import torch
from torch import Tensor, nn

from fedpriv.config.constraints import OneOf, Range
from fedpriv.data.bundle import DatasetBundle
from fedpriv.membership.classifier import attack_features, fit_classifier, member_probability
from fedpriv.membership.models import ReferenceModel, logits_of, scaled_confidence


@dataclass
class MembershipProblem:
    """What a membership attacker gets: the target model, the records to judge (``records``, indices into the
    training split; their truth ``is_member`` is for scoring only) and reference models trained on its own data
    (``references(count)``, trained or loaded once)."""

    target: nn.Module
    data: DatasetBundle
    records: Tensor
    is_member: Tensor
    train_references: Callable[[int], list[ReferenceModel]]
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))
    seed: int = 0
    _references: list = field(default_factory=list)

    def references(self, count: int) -> list[ReferenceModel]:
        if len(self._references) < count:
            self._references = self.train_references(count)
        return self._references[:count]

    def labels(self, index: Tensor) -> Tensor:
        return self.data.train.labels[index]


@dataclass
class MembershipScores:
    """Per record: a score (higher: more likely a member) and, when the attack decides, its decision."""

    scores: Tensor
    decisions: Optional[Tensor] = None
    info: dict = field(default_factory=dict)


class MembershipAttack:
    """Common options of the membership attacks.

    Args:
        members: records the target trains on; as many non-members are scored with them (balanced).
        attacker_records: the attacker's own records, disjoint from both (null: 2 x members).
        mimic_defense: train the reference models under the trial's defense too (an attacker who knows it);
            false trains them plainly.
    """

    family: ClassVar[str] = "membership"
    name: ClassVar[str] = "membership"
    models: int = 1

    def __init__(self, *, members: Annotated[int, Range(1, 10_000_000)] = 250,
                 attacker_records: Annotated[Optional[int], Range(2, 10_000_000)] = None,
                 mimic_defense: bool = False):
        self.members = members
        self.attacker_records = attacker_records if attacker_records is not None else 2 * members
        self.mimic_defense = mimic_defense

    def infer(self, problem: MembershipProblem) -> MembershipScores:
        raise NotImplementedError


class MIAShadow(MembershipAttack):
    """Shokri et al.'s shadow-model attack: per class, a classifier trained on the shadow models' sorted softmax
    outputs of their own in (member) and out records learns what membership looks like; applied to the target's.

    Args:
        shadow_models: shadow models (seed 004: 5).
        classifier: ``mlp`` (4 layers, 128 units, ReLU, dropout 0.2) or ``logreg``.
        features: ``probs`` (sorted softmax, as the seed) or ``log_probs`` (their logarithms).
        attack_epochs / attack_lr: training of each classifier (Adam).
    """

    name = "mia_shadow"

    def __init__(self, *, shadow_models: Annotated[int, Range(1, 1000)] = 5,
                 classifier: Annotated[str, OneOf(("mlp", "logreg"))] = "mlp",
                 features: Annotated[str, OneOf(("probs", "log_probs"))] = "probs",
                 attack_epochs: Annotated[int, Range(1, 10_000)] = 30,
                 attack_lr: Annotated[float, Range(0, None, low_open=True)] = 1e-3, **common):
        super().__init__(**common)
        self.models = self.shadow_models = shadow_models
        self.classifier, self.features = classifier, features
        self.attack_epochs, self.attack_lr = attack_epochs, attack_lr

    def infer(self, problem: MembershipProblem) -> MembershipScores:
        xs, ys, cs = [], [], []
        for ref in problem.references(self.shadow_models):
            for index, member in ((ref.inside, 1), (ref.outside, 0)):
                xs.append(attack_features(logits_of(ref.model, problem.data, index, problem.device), self.features))
                ys.append(torch.full((len(index),), member))
                cs.append(problem.labels(index))
        x, y, c = torch.cat(xs), torch.cat(ys), torch.cat(cs)
        target_x = attack_features(logits_of(problem.target, problem.data, problem.records, problem.device),
                                   self.features)
        target_c = problem.labels(problem.records)
        scores = torch.full((len(problem.records),), 0.5)
        for k in target_c.unique().tolist():
            train = c == k
            if train.sum() == 0 or len(y[train].unique()) < 2:
                continue  # no shadow evidence for this class: its records stay at 0.5
            net = fit_classifier(self.classifier, x[train], y[train], epochs=self.attack_epochs, lr=self.attack_lr,
                                 seed=problem.seed * 31 + k)
            scores[target_c == k] = member_probability(net, target_x[target_c == k])
        return MembershipScores(scores, decisions=scores > 0.5, info={"shadow_records": len(y)})


class MIALira(MembershipAttack):
    """Offline LiRA (Carlini et al. 2022): per record, fit a Gaussian to the logit-scaled confidence
    log(p_y / (1 - p_y)) of reference models that never saw it (all of them: they train on attacker data only)
    and score the target's confidence by how far into that distribution's upper tail it falls.

    Args:
        reference_models: reference models (OUT models for every record).
        fixed_variance: one variance pooled over all records (Carlini et al.'s choice with few reference models)
            rather than each record's own.
    The attack makes no decision of its own: its ``mia_acc`` is the best threshold's accuracy.
    """

    name = "mia_lira"

    def __init__(self, *, reference_models: Annotated[int, Range(1, 1000)] = 8, fixed_variance: bool = True,
                 **common):
        super().__init__(**common)
        self.models = self.reference_models = reference_models
        self.fixed_variance = fixed_variance

    def infer(self, problem: MembershipProblem) -> MembershipScores:
        labels = problem.labels(problem.records)
        out = torch.stack([scaled_confidence(logits_of(ref.model, problem.data, problem.records, problem.device),
                                             labels) for ref in problem.references(self.reference_models)])
        target = scaled_confidence(logits_of(problem.target, problem.data, problem.records, problem.device), labels)
        mean = out.mean(0)
        if self.fixed_variance or len(out) < 2:
            std = out.std() if out.numel() > 1 else torch.tensor(1.0)
            std = std.expand_as(mean)
        else:
            std = out.std(0)
        z = (target - mean) / std.clamp_min(1e-6)
        # The one-sided test: members' confidence lies above what OUT models give the record. Scored by z, which
        # orders records as the Gaussian's CDF does, without the CDF saturating at 1 and tying the surest members.
        return MembershipScores(z, decisions=None, info={"references": len(out)})
