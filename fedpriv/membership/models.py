"""Who holds which records, and the models trained on them: the target and the attacker's reference models.

The training split is cut once, by the seed, into three disjoint parts: the target's members (its training
set), as many non-members (the other half of the balanced set the attack is scored on) and the attacker's own
records. Every model here is trained the way the trial trains its target (centrally for ``training.epochs``, or
by ``fl.rounds`` rounds of FedAvg over ``fl.num_clients`` clients) and cached like any trained model, keyed by
the records it saw, so sweeps over attacks or their options train each shadow/reference model once.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from dataclasses import dataclass
from typing import Optional

import torch
import torch.nn.functional as F
from omegaconf import DictConfig, OmegaConf
from torch import Tensor, nn

from fedpriv.data.bundle import DatasetBundle
from fedpriv.defenses.base import Defense, NoDefense
from fedpriv.errors import FedprivError
from fedpriv.fl.rounds import FederatedRun, round_victim
from fedpriv.training.builders import _dataset_key, trained_model
from fedpriv.training.cache import ModelCache

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class MembershipSplit:
    """Indices into the training split: the target's members, its non-members and the attacker's records."""

    members: Tensor
    non_members: Tensor
    attacker: Tensor

    @property
    def records(self) -> Tensor:
        """The balanced set the attack is scored on: members first, then non-members."""
        return torch.cat([self.members, self.non_members])

    @property
    def is_member(self) -> Tensor:
        return torch.cat([torch.ones(len(self.members)), torch.zeros(len(self.non_members))]).bool()


def membership_split(n_train: int, *, members: int, attacker: int, seed: int) -> MembershipSplit:
    """A seeded, disjoint split of ``n_train`` records into ``members`` + ``members`` + ``attacker``."""
    need = 2 * members + attacker
    if need > n_train:
        raise FedprivError(f"attack.members={members} and attack.attacker_records={attacker} need "
                           f"{need} training records (2 x members + attacker); the dataset has {n_train} "
                           f"(lower them, or raise dataset.train_per_class)")
    order = torch.randperm(n_train, generator=torch.Generator().manual_seed(seed + 40503))
    return MembershipSplit(order[:members], order[members:2 * members], order[2 * members:need])


@dataclass
class Recipe:
    """How the trial trains a model on some records: the model, training and FL settings of the trial."""

    cfg: DictConfig
    data: DatasetBundle
    federation: FederatedRun
    cache: ModelCache
    device: torch.device
    split_key: dict

    def train(self, role: str, index: Tensor, *, defense: Defense, seed: int, tag: str,
              defense_cfg: Optional[DictConfig] = None) -> tuple[nn.Module, dict]:
        """A model trained on ``data.train[index]`` (from the cache when it was trained before) and its meta."""
        bundle = dataclasses.replace(self.data, train=self.data.train.subset(index))
        # The records a model saw are part of what defines it: the cache key holds the split and this set's tag.
        dataset_cfg = OmegaConf.create({**_dataset_key(self.cfg.dataset),
                                        "membership": {**self.split_key, "set": tag}})
        if self.federation.rounds > 0:
            return round_victim(self.federation, model_cfg=self.cfg.model, dataset_cfg=dataset_cfg, data=bundle,
                                defense=defense, defense_cfg=defense_cfg, seed=seed, cache=self.cache,
                                device=self.device)
        return trained_model(role, model_cfg=self.cfg.model, dataset_cfg=dataset_cfg, training_cfg=self.cfg.training,
                             data=bundle, defense=defense, epochs=self.cfg.training.epochs, seed=seed,
                             cache=self.cache, device=self.device, progress=self.cfg.progress)


@dataclass
class ReferenceModel:
    """An attacker's model: trained on ``inside`` (its members) and never on ``outside`` (both attacker data)."""

    model: nn.Module
    inside: Tensor
    outside: Tensor


@torch.no_grad()
def logits_of(model: nn.Module, data: DatasetBundle, index: Tensor, device: torch.device,
              batch_size: int = 512) -> Tensor:
    """The model's logits (eval mode, on the CPU) for training records ``index``."""
    was_training = model.training
    model.eval()
    out = [model(data.normalize(data.train.images[chunk]).to(device)).float().cpu()
           for chunk in index.split(batch_size)]
    model.train(was_training)
    return torch.cat(out) if out else torch.zeros(0, data.num_classes)


def record_losses(logits: Tensor, labels: Tensor) -> Tensor:
    return F.cross_entropy(logits, labels, reduction="none")


def scaled_confidence(logits: Tensor, labels: Tensor) -> Tensor:
    """LiRA's statistic log(p_y / (1 - p_y)), computed stably as z_y - logsumexp of the other logits."""
    true = logits.gather(1, labels.view(-1, 1)).squeeze(1)
    others = logits.scatter(1, labels.view(-1, 1), float("-inf"))
    return true - torch.logsumexp(others, dim=1)


def dpsgd_member(defense: Defense):
    """The DP-SGD member of a (possibly stacked) defense, or None."""
    for member in getattr(defense, "members", [defense]):
        if getattr(member, "name", "") == "dpsgd":
            return member
    return None


def fedavg_epsilon(defense: Defense, run: FederatedRun, members: int) -> tuple[Optional[float], Optional[float]]:
    """(epsilon, RDP order) of a record of a FedAvg client that clips and noises every local step.

    Each record sits in one client's partition, so its privacy loss is that client's DP-SGD: rounds x local
    epochs x batches per epoch steps at sampling rate batch / partition size (the RDP accountant's Poisson
    assumption for shuffled batches, as Opacus' own accounting does; every round counted as if the client took
    part, which over-states epsilon when the server samples clients)."""
    dp = dpsgd_member(defense)
    if dp is None or not dp.noisy_update or run.rounds == 0 or dp.noise_multiplier == 0:
        return None, None
    from opacus.accountants import RDPAccountant

    per_client = max(members // run.num_clients, 1)
    rate = min(run.round_batch_size / per_client, 1.0)
    steps = run.rounds * run.round_epochs * math.ceil(per_client / run.round_batch_size)
    accountant = RDPAccountant()
    accountant.history = [(dp.noise_multiplier, rate, steps)]
    epsilon, alpha = accountant.get_privacy_spent(delta=dp.delta)
    return float(epsilon), float(alpha)


def reference_models(recipe: Recipe, split: MembershipSplit, count: int, *, seed: int,
                     defense: Defense = NoDefense(), defense_cfg: Optional[DictConfig] = None) -> list[ReferenceModel]:
    """``count`` models trained like the target, each on its own random half of the attacker's records (as
    many as the target's members at most) and evaluated on a disjoint out set of the same size."""
    size = min(len(split.members), len(split.attacker) // 2)
    models = []
    for i in range(count):
        order = split.attacker[torch.randperm(len(split.attacker), generator=torch.Generator().manual_seed(
            seed * 1009 + 7 * i + 3))]
        inside, outside = order[:size], order[size:2 * size]
        log.info("reference model %d/%d: %d in, %d out records", i + 1, count, size, len(outside))
        model, _ = recipe.train("mia-shadow", inside, defense=defense, seed=seed + 1 + i, tag=f"shadow{i}",
                                defense_cfg=defense_cfg)
        models.append(ReferenceModel(model, inside, outside))
    return models
