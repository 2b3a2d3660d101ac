"""The FedAvg run before the attacked round: partition the training split, train the global model, cache it.

An attack on round t of federated training sees a global model that t rounds of FedAvg (McMahan et al. 2017)
have shaped: each round the server samples ``clients_per_round`` of the ``num_clients`` clients, each trains its
copy locally with SGD, and the server replaces the global weights by the clients' average weighted by their data.
The round-t model is cached on disk like every trained model, so a sweep over attacks or defenses trains it once.

Every client of these rounds runs the trial's defense as the attacked client does: each local batch goes through
its data side (``purpose="round"``, the client's other data being the rest of its partition) and each local
step's gradients through its update side, so a DP-SGD client clips and noises every step and an augmenting client
trains on augmented images. Only the centralised training wrapper (``private_training``, DP-SGD's Opacus
accountant) is not applied client by client; the architecture is the defense's (``adapt_model``).
"""

from __future__ import annotations

import dataclasses
import logging
from dataclasses import dataclass
from typing import Optional

import torch
import torch.nn.functional as F
from omegaconf import DictConfig, OmegaConf
from torch import Tensor, nn

from fedpriv.config.members import hashable
from fedpriv.data.bundle import DatasetBundle
from fedpriv.data.targets import other_data
from fedpriv.defenses.base import Defense, NoDefense, UpdateDefense
from fedpriv.defenses.client import ClientBatch, ClientContext
from fedpriv.fl.partition import dirichlet_partition, iid_partition, label_partition, shard_partition
from fedpriv.training.builders import _dataset_key, build_model
from fedpriv.training.cache import ModelCache
from fedpriv.training.classifier import predict

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class FederatedRun:
    """Settings of the FedAvg rounds that train the global model before the attacked round (``fl.*`` keys).

    Attributes:
        rounds: FedAvg rounds before the attack; 0 attacks the victim that ``victim.*`` describes.
        num_clients / clients_per_round: clients in the federation, and how many the server samples each round
            (None: every client takes part in every round).
        partition: ``iid``, ``shards`` (``shards_per_client`` single-class shards each), ``dirichlet``
            (class proportions drawn with concentration ``alpha``) or ``labels`` (disjoint label sets,
            ``labels_per_client`` each or all classes dealt out), see :mod:`fedpriv.fl.partition`.
        round_epochs / round_lr / round_batch_size: each sampled client's local training in those rounds.
        round_optimizer: ``sgd`` or ``adam`` (seed 004 trains its federation with Adam at lr 1e-4). Each client
            starts a fresh optimiser every round: Adam's moments stay on the client and never reach the server.
        engine: ``inprocess`` (:func:`train_fedavg`'s loop) or ``flower`` (:mod:`fedpriv.flower.engine`).
    """

    rounds: int = 0
    num_clients: int = 10
    clients_per_round: Optional[int] = None
    partition: str = "iid"
    shards_per_client: int = 2
    alpha: float = 0.5
    round_epochs: int = 1
    round_lr: float = 0.1
    round_batch_size: int = 32
    labels_per_client: Optional[int] = None
    round_optimizer: str = "sgd"
    engine: str = "inprocess"

    def clients(self, labels: Tensor, *, seed: int) -> list[Tensor]:
        """Each client's indices into the training split."""
        split = {
            "iid": lambda: iid_partition(labels, self.num_clients, seed=seed),
            "shards": lambda: shard_partition(labels, self.num_clients, shards_per_client=self.shards_per_client,
                                              seed=seed),
            "dirichlet": lambda: dirichlet_partition(labels, self.num_clients, alpha=self.alpha, seed=seed),
            "labels": lambda: label_partition(labels, self.num_clients, labels_per_client=self.labels_per_client,
                                              seed=seed),
        }
        return split[self.partition]()

    def signature(self) -> dict:
        """The settings that shape the trained weights: a partition's own option only counts for that partition,
        so e.g. a sweep over ``alpha`` with ``partition=iid`` still trains one model."""
        values = dataclasses.asdict(self)
        values["clients_per_round"] = self.clients_per_round or self.num_clients
        unused = {"iid": ("alpha", "shards_per_client"), "shards": ("alpha",), "dirichlet": ("shards_per_client",),
                  "labels": ("alpha", "shards_per_client")}
        for key in unused[self.partition]:
            del values[key]
        if self.partition != "labels":
            del values["labels_per_client"]
        if self.round_optimizer == "sgd":  # keys of runs trained before the option existed stay valid
            del values["round_optimizer"]
        if self.engine == "inprocess":
            del values["engine"]
        return values

    def problems(self, train_labels: Tensor) -> list[str]:
        """What makes this run impossible on a training split with these labels (empty when it can run)."""
        if self.rounds == 0:
            return []
        classes = len(train_labels.unique())
        if self.partition == "shards" and not classes <= self.num_clients * self.shards_per_client <= len(train_labels):
            return [f"fl.num_clients x fl.shards_per_client = {self.num_clients * self.shards_per_client} shards; "
                    f"partition=shards needs between {classes} (one per class) and {len(train_labels)} (one per image)"]
        if self.partition == "labels" and self.num_clients * (self.labels_per_client or 1) > classes:
            return [f"fl.num_clients x fl.labels_per_client = {self.num_clients * (self.labels_per_client or 1)} "
                    f"distinct labels; partition=labels gives every client its own, and there are {classes}"]
        if self.partition == "iid" and self.num_clients > len(train_labels):
            return [f"fl.num_clients={self.num_clients} exceeds the {len(train_labels)} training images"]
        return []


def train_fedavg(model: nn.Module, data: DatasetBundle, run: FederatedRun, *, seed: int, device: torch.device,
                 defense: Defense | None = None) -> dict:
    """Train ``model`` in place for ``run.rounds`` rounds of FedAvg, every client running ``defense``; returns
    its test accuracy after each round."""
    if run.engine == "flower":
        from fedpriv.flower.engine import train_fedavg_flower

        return train_fedavg_flower(model, data, run, seed=seed, device=device, defense=defense)
    model.to(device)
    clients = run.clients(data.train.labels, seed=seed)
    generator = torch.Generator().manual_seed(seed + 1)
    # The defense draws from generators of its own, so the undefended run stays what it always was.
    client = _RoundClient(defense or NoDefense(), data, seed=seed)
    accuracies = []
    for round_ in range(run.rounds):
        chosen = torch.randperm(run.num_clients, generator=generator)[: run.clients_per_round or run.num_clients]
        start = {k: v.detach().clone() for k, v in model.state_dict().items()}
        states, sizes = [], []
        for c in chosen.tolist():
            if len(clients[c]) == 0:  # a Dirichlet split can leave a client empty; it has nothing to send
                continue
            model.load_state_dict(start)
            _local_sgd(model, data, clients[c], run, generator, device, client)
            states.append({k: v.detach().clone() for k, v in model.state_dict().items()})
            sizes.append(len(clients[c]))
        model.load_state_dict(_weighted_average(states, sizes) if states else start)
        accuracy = float((predict(model, data.test.images, data.normalize, device).cpu() == data.test.labels)
                         .float().mean())
        accuracies.append(accuracy)
        log.info("FedAvg round %d/%d: %d clients, test accuracy %.3f", round_ + 1, run.rounds, len(states), accuracy)
    return {"test_accuracy": accuracies[-1] if accuracies else None, "round_accuracy": accuracies}


class _RoundClient:
    """A client's defense in the rounds: its data side on each local batch, its update side on each step."""

    def __init__(self, defense: Defense, data: DatasetBundle, *, seed: int):
        self.defense, self.data = defense, data
        self.batch_generator = torch.Generator().manual_seed(seed + 2)
        self.update = UpdateDefense(defense, torch.Generator().manual_seed(seed + 3), purpose="round")

    def batch(self, index: Tensor, partition: Tensor, epoch: int) -> ClientBatch:
        images, labels = self.data.train.images[index], self.data.train.labels[index]
        rest = partition[~torch.isin(partition, index)]
        context = ClientContext(generator=self.batch_generator, num_classes=self.data.num_classes, purpose="round",
                                other_data=other_data(self.data.train.images, self.data.train.labels, rest),
                                epoch=epoch)
        return self.defense.defend_batch(ClientBatch.from_uint8(images, labels), context)

    def step(self, model: nn.Module, x: Tensor, targets: Tensor) -> None:
        """Replace the gradients of the step just back-propagated by what the defense lets out."""
        params = list(model.parameters())
        gradients = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
        defended = self.update(gradients, model=model, inputs=x, targets=targets)
        if defended is not gradients:
            for p, g in zip(params, defended):
                p.grad = g.detach()


def _local_sgd(model: nn.Module, data: DatasetBundle, index: Tensor, run: FederatedRun,
               generator: torch.Generator, device: torch.device, client: _RoundClient) -> None:
    # A plain loop, not a Lightning Trainer: a federation builds one local training per client per round, and a
    # Trainer's start-up would cost more than the few steps each client takes.
    model.train()
    optimizer = (torch.optim.Adam(model.parameters(), lr=run.round_lr) if run.round_optimizer == "adam"
                 else torch.optim.SGD(model.parameters(), lr=run.round_lr))
    client_epochs(model, data, index, optimizer, epochs=run.round_epochs, batch_size=run.round_batch_size,
                  generator=generator, device=device, client=client)


def client_epochs(model: nn.Module, data: DatasetBundle, index: Tensor, optimizer: torch.optim.Optimizer, *,
                  epochs: int, batch_size: int, generator: torch.Generator, device: torch.device,
                  client: _RoundClient) -> None:
    """A client's local epochs over its partition ``index``: shuffled mini-batches through the defense's data
    side, its extra loss term, and its update side on every step's gradients before the optimiser steps."""
    for epoch in range(epochs):
        order = index[torch.randperm(len(index), generator=generator)]
        for batch in order.split(batch_size):
            defended = client.batch(batch, index, epoch)
            x = data.normalize(defended.images).to(device)
            y = defended.targets.to(device)
            optimizer.zero_grad()
            outputs = model(x)
            loss = F.cross_entropy(outputs, y)
            extra = client.defense.training_loss(model, outputs, y)
            (loss if extra is None else loss + extra).backward()
            client.step(model, x, y)
            optimizer.step()


def _weighted_average(states: list[dict[str, Tensor]], sizes: list[int]) -> dict[str, Tensor]:
    """FedAvg's aggregate: floating-point entries averaged by client data size, counters taken from one client."""
    weights = torch.tensor(sizes, dtype=torch.float64) / sum(sizes)
    out = {}
    for key, first in states[0].items():
        if first.is_floating_point():
            out[key] = sum(w.item() * s[key].double() for w, s in zip(weights, states)).to(first.dtype)
        else:
            out[key] = first  # e.g. BatchNorm's num_batches_tracked, equal for clients of one round
    return out


def round_victim(run: FederatedRun, *, model_cfg: DictConfig, dataset_cfg: DictConfig, data: DatasetBundle,
                 defense: Defense, seed: int, cache: ModelCache, device: torch.device,
                 defense_cfg: DictConfig | None = None) -> tuple[nn.Module, dict]:
    """The global model after ``run.rounds`` rounds of FedAvg, from the cache when this run was trained before.

    The cache key holds everything that shapes those weights: the data, the model and its defense-adapted
    architecture, the defense the clients run (its config ``defense_cfg``; none keys the run as it always
    did), the run's settings and the seed; not the attacked client's own settings (batch size, local steps,
    aggregation), so trials that differ only in those share one run.
    """
    net = build_model(model_cfg, data, defense, seed=seed)
    key = {
        "role": "fedavg",
        "dataset": _dataset_key(dataset_cfg),
        "model": OmegaConf.to_container(model_cfg, resolve=True),
        "architecture": str(net),
        "fl": run.signature(),
        "seed": seed,
    }
    if not isinstance(defense, NoDefense):
        key["defense"] = (hashable(OmegaConf.to_container(defense_cfg, resolve=True)) if defense_cfg is not None
                          else {"name": defense.name, **defense.describe(), **defense.training_signature()})
    meta = cache.get_or_train("fedavg", key, net, lambda model: train_fedavg(model, data, run, seed=seed,
                                                                             device=device, defense=defense))
    log.info("victim: global model after %d FedAvg rounds, test accuracy %.3f", run.rounds, meta["test_accuracy"])
    return net.to(device), meta
