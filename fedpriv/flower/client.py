"""fedpriv's FedAvg client as a Flower ``ClientApp``: the same local training as the in-process engine.

Each simulated node maps to one partition of the training split (Flower's ``partition-id`` node setting) and
trains exactly as :func:`fedpriv.fl.rounds._local_sgd` does: the trial's defense on every local batch (data side)
and every local step (update side). Randomness comes from generators seeded by the trial's seed, the round and
the partition, so a client's work does not depend on which actor of the simulation runs it or in which order.
"""

from __future__ import annotations

from typing import Callable, Sequence

import torch
from torch import Tensor, nn

from fedpriv.data.bundle import DatasetBundle
from fedpriv.defenses.base import Defense, NoDefense
from fedpriv.fl.rounds import FederatedRun, _local_sgd, _RoundClient
from fedpriv.flower import require_flower

require_flower()

from flwr.app import ArrayRecord, Context, Message, MetricRecord, RecordDict  # noqa: E402
from flwr.clientapp import ClientApp  # noqa: E402

ARRAYS, METRICS, CONFIG = "arrays", "metrics", "config"


def client_seed(seed: int, round_: int, partition: int) -> int:
    """One seed per (trial, round, client): a client's draws never depend on the order clients run in."""
    return (seed * 1_000_003 + round_ * 10_007 + partition) % (2**62)


def train_locally(model: nn.Module, data: DatasetBundle, index: Tensor, run: FederatedRun, defense: Defense, *,
                  seed: int, round_: int, partition: int, device: torch.device) -> None:
    """One client's local training in one round, in place (fedpriv's round loop, seeded per client)."""
    own = client_seed(seed, round_, partition)
    _local_sgd(model, data, index, run, torch.Generator().manual_seed(own), device,
               _RoundClient(defense, data, seed=own))


def fedavg_client_app(data: DatasetBundle, run: FederatedRun, model_fn: Callable[[], nn.Module], *, seed: int,
                      defense: Defense | None = None, device: torch.device | str = "cpu",
                      mods: Sequence = ()) -> ClientApp:
    """A ``ClientApp`` whose node ``partition-id`` trains on that partition of ``data.train`` (``run.clients``).

    It replies with its new weights (``arrays``) and ``num-examples`` (FedAvg's weight), plus its partition id,
    which a curious server records. ``mods`` are Flower mods (e.g. :class:`fedpriv.flower.mods.DefenseMod`).
    """
    defense = defense or NoDefense()
    device = torch.device(device)
    partitions = run.clients(data.train.labels, seed=seed)
    app = ClientApp(mods=list(mods))

    @app.train()
    def train(message: Message, context: Context) -> Message:
        partition = int(context.node_config["partition-id"])
        round_ = int(message.content[CONFIG].get("server-round", 0))
        model = model_fn().to(device)
        model.load_state_dict(message.content[ARRAYS].to_torch_state_dict())
        index = partitions[partition]
        if len(index):
            train_locally(model, data, index, run, defense, seed=seed, round_=round_, partition=partition,
                          device=device)
        reply = RecordDict({
            ARRAYS: ArrayRecord(model.state_dict()),
            METRICS: MetricRecord({"num-examples": int(len(index)), "partition-id": partition}),
        })
        return Message(content=reply, reply_to=message)

    return app
