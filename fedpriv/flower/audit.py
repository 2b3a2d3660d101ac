"""Attack what a curious Flower server recorded, with any fedpriv attack, and write fedpriv's results rows.

The server knows what it sent: the global model and the training config (local epochs, learning rate, batch
size). So each recorded reply becomes a fedpriv :class:`~fedpriv.attacks.base.AttackProblem` whose protocol is
fedpriv's :class:`~fedpriv.fl.FedAvg` with those settings: the attack replays the client's local training on
its candidates. The replay is exact when the client takes one full-batch step per epoch (``batch-size`` at
least its data size); with several shuffled mini-batches per epoch the attacker does not know the order and the
replay is an approximation (fedpriv's FedAvg slices the batch in order), which the rows record in
``replay_exact``.

Scoring needs the client's true images, which an auditor of its own simulation has: ``truth(record)`` returns
them (pixel space, [0, 1]) with their labels.
"""

from __future__ import annotations

import math
from typing import Callable, Optional

import torch
from torch import Tensor, nn

from fedpriv.attacks.base import Attack, AttackProblem
from fedpriv.data.bundle import DatasetBundle
from fedpriv.fl import FedAvg, SharedUpdate
from fedpriv.flower.strategy import RecordedUpdate
from fedpriv.metrics import image_scores, match_reconstructions

TRAIN_CONFIG_KEYS = ("local-epochs", "lr", "batch-size")


def train_config(run) -> dict:
    """The config a fedpriv server sends with the weights: what the clients' local training is."""
    return {"local-epochs": int(run.round_epochs), "lr": float(run.round_lr), "batch-size": int(run.round_batch_size)}


def attack_problem(record: RecordedUpdate, model_fn: Callable[[], nn.Module], data: DatasetBundle, *,
                   labels: Optional[Tensor], seed: int, device: torch.device) -> tuple[AttackProblem, bool]:
    """The attack problem of one recorded reply, and whether the protocol replays the client exactly."""
    missing = [k for k in TRAIN_CONFIG_KEYS if k not in record.config]
    if missing:
        raise ValueError(f"the recorded round {record.round} carries no {', '.join(missing)} in its training "
                         f"config; the server must send {', '.join(TRAIN_CONFIG_KEYS)} to replay the client")
    n = record.num_examples
    epochs, lr, batch = int(record.config["local-epochs"]), float(record.config["lr"]), int(record.config["batch-size"])
    exact = batch >= n
    protocol = FedAvg(batch_size=n, local_epochs=epochs, local_lr=lr, local_batch_size=None if exact else batch)
    model = model_fn()
    model.load_state_dict(record.sent)
    model = model.to(device).train()
    names = [name for name, _ in model.named_parameters()]
    update = SharedUpdate([u.to(device) for u in record.update(names)], batch_size=n, kind="weight_difference",
                          info={"local_steps": epochs * math.ceil(n / (n if exact else batch)), "local_lr": lr},
                          labels=None if labels is None else labels.to(device))
    problem = AttackProblem(model=model, update=update, shape=tuple(data.shape), num_classes=data.num_classes,
                            bounds=data.bounds(device), labels=None if labels is None else labels.to(device),
                            seed=seed, device=device, protocol=protocol)
    return problem, exact


def audit(records: list[RecordedUpdate], attack: Attack, model_fn: Callable[[], nn.Module], data: DatasetBundle,
          truth: Callable[[RecordedUpdate], tuple[Tensor, Tensor]], *, seed: int = 0,
          device: torch.device | str = "cpu", extra: Optional[dict] = None) -> list[dict]:
    """One results row per recorded reply: the round, the client, and how well ``attack`` reconstructed its
    images (PSNR/SSIM/MSE means and the best PSNR against the true images, label accuracy)."""
    device = torch.device(device)
    rows = []
    for number, record in enumerate(records):
        images, labels = truth(record)
        problem, exact = attack_problem(record, model_fn, data, labels=labels, seed=seed * 100_003 + number,
                                        device=device)
        result = attack.reconstruct(problem)
        reconstruction = data.denormalize(result.images.detach()).cpu().clamp(0, 1)
        order = match_reconstructions(reconstruction, images)
        reconstruction, guessed = reconstruction[order], result.labels.detach().cpu().view(-1)[order]
        scores = image_scores(reconstruction, images)
        rows.append({
            "engine": "flower", "round": record.round, "client": record.partition_id, "node_id": record.node_id,
            "attack": attack.name, "n": len(labels), "psnr": float(scores["psnr"].mean()),
            "psnr_max": float(scores["psnr"].max()), "ssim": float(scores["ssim"].mean()),
            "mse": float(scores["mse"].mean()), "label_acc": float((guessed == labels).float().mean()),
            "replay_exact": exact, "seed": seed, **(extra or {}),
        })
    return rows
