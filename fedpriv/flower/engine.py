"""``fl.engine=flower``: a trial's FedAvg rounds run by Flower's simulation runtime.

The in-process engine (:func:`fedpriv.fl.rounds.train_fedavg`) stays the default: it needs nothing beyond torch
and is fastest for small federations. This engine builds the same federation as a Flower ``ServerApp`` (a
:class:`~fedpriv.flower.strategy.SeededFedAvg`, optionally wrapped, e.g. by a curious server) and a
``ClientApp`` (:func:`~fedpriv.flower.client.fedavg_client_app`), and lets Flower's simulation runtime schedule
the clients, so a run that outgrows one process can move to Flower's deployment runtime unchanged.

Same arithmetic as the in-process engine: the same partitions, local training and defenses; FedAvg's average
weighted by client data size. Two things differ by design: each client's shuffling draws from a generator of its
own (seeded by trial, round and partition, since Flower runs clients in any order), and Flower averages in
float32. With full participation and one local step per epoch (no shuffling to differ) both engines reach the
same weights up to float rounding.
"""

from __future__ import annotations

import copy
import logging
from typing import Callable, Optional

import torch
from torch import nn

from fedpriv.data.bundle import DatasetBundle
from fedpriv.defenses.base import Defense
from fedpriv.fl.rounds import FederatedRun
from fedpriv.flower import require_flower
from fedpriv.training.classifier import predict

require_flower()

from flwr.app import ArrayRecord, ConfigRecord, Context, MetricRecord  # noqa: E402
from flwr.serverapp import Grid, ServerApp  # noqa: E402
from flwr.serverapp.strategy import Strategy  # noqa: E402
from flwr.simulation import run_simulation  # noqa: E402

from fedpriv.flower.client import fedavg_client_app  # noqa: E402
from fedpriv.flower.strategy import SeededFedAvg  # noqa: E402

log = logging.getLogger(__name__)


def simulation_backend(num_cpus: int = 1) -> dict:
    """Flower's Ray backend with one CPU per client actor and no GPU (a user with GPUs passes their own)."""
    return {"client_resources": {"num_cpus": num_cpus, "num_gpus": 0.0}, "init_args": {"log_to_driver": False}}


def train_fedavg_flower(model: nn.Module, data: DatasetBundle, run: FederatedRun, *, seed: int,
                        device: torch.device, defense: Defense | None = None,
                        wrap: Optional[Callable[[Strategy], Strategy]] = None, train_config: dict | None = None,
                        backend_config: dict | None = None, client_mods=()) -> dict:
    """Train ``model`` in place for ``run.rounds`` FedAvg rounds on Flower; returns its test accuracy after each
    round, like :func:`fedpriv.fl.rounds.train_fedavg`.

    ``wrap`` turns the server's strategy into another (e.g. ``lambda s: CuriousServer(s, rounds=[1])``);
    ``train_config`` is sent to the clients with the weights every round (a curious server records it);
    ``client_mods`` are Flower mods of the ``ClientApp`` (e.g. a :class:`~fedpriv.flower.mods.DefenseMod`).
    """
    template = copy.deepcopy(model).cpu()
    initial = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
    # Clients run on CPU inside Flower's actors; the global model is evaluated where the trial runs.
    client_app = fedavg_client_app(data, run, lambda: copy.deepcopy(template), seed=seed, defense=defense,
                                   device="cpu", mods=client_mods)
    strategy: Strategy = SeededFedAvg(run.clients_per_round or run.num_clients, num_clients=run.num_clients,
                                      seed=seed)
    if wrap is not None:
        strategy = wrap(strategy)
    outcome: dict = {"round_accuracy": []}
    server_app = ServerApp()

    def evaluate(round_: int, arrays: ArrayRecord) -> MetricRecord | None:
        if round_ == 0:
            return None
        net = copy.deepcopy(template)
        net.load_state_dict(arrays.to_torch_state_dict())
        accuracy = float((predict(net.to(device), data.test.images, data.normalize, device).cpu()
                          == data.test.labels).float().mean())
        outcome["round_accuracy"].append(accuracy)
        log.info("FedAvg round %d/%d on Flower: test accuracy %.3f", round_, run.rounds, accuracy)
        return MetricRecord({"accuracy": accuracy})

    @server_app.main()
    def main(grid: Grid, context: Context) -> None:
        result = strategy.start(grid=grid, initial_arrays=ArrayRecord(initial), num_rounds=run.rounds,
                                train_config=ConfigRecord(dict(train_config or {})), evaluate_fn=evaluate)
        outcome["state"] = result.arrays.to_torch_state_dict() if result.arrays is not None else initial

    run_simulation(server_app=server_app, client_app=client_app, num_supernodes=run.num_clients,
                   backend_config=backend_config or simulation_backend())
    if "state" not in outcome:
        raise RuntimeError("Flower's simulation ended without a global model; see its log above for the error")
    model.load_state_dict(outcome["state"])
    model.to(device)
    accuracies = outcome["round_accuracy"]
    return {"test_accuracy": accuracies[-1] if accuracies else None, "round_accuracy": accuracies,
            "engine": "flower"}
