"""Utility of client-side defenses under FedAvg: test accuracy per round when every client runs the defense at
every local step (seed 002's Table 2), written as CSV.

    python -m fedpriv.utility dataset=mnist dataset.root=../shared/data/mnist_split --partition iid \\
        --defense none --defense seed002_prune --defense "concealing iterations=100" --rounds 30 --out acc.csv

Positional arguments are Hydra overrides of the usual config (dataset, model, seed); each ``--defense`` is a
``conf/defense`` option followed by ``key=value`` overrides of its keys. The federation: ``iid`` gives
``--clients`` clients ``--images-per-client`` images each and samples ``--per-round`` of them every round;
``labels`` gives each client ``--labels-per-client`` classes with ``--images-per-label`` images each, every client
taking part in every round. Each sampled client trains ``--epochs`` epochs of SGD with momentum from a fresh
optimiser, the learning rate decaying as ``lr * decay^round``; the server averages the clients' weights by data
size. A batch's last images are its sensitive ones for defenses that care (concealing samples). Output: one row
per defense and round, and ``<out>_summary.csv`` with the best and last accuracy per defense.
"""

from __future__ import annotations

import argparse
import csv
import logging
import shlex
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

import fedpriv.config.schema  # noqa: F401  (registers the schema the config is composed against)
from fedpriv.defenses import build_defense
from fedpriv.fl.rounds import _RoundClient, _weighted_average, client_epochs
from fedpriv.fl.sized import fixed_iid_partition, label_share_partition
from fedpriv.training.builders import build_model
from fedpriv.training.classifier import predict

log = logging.getLogger("fedpriv.utility")


@dataclass(frozen=True)
class UtilityRun:
    partition: str = "iid"
    clients: int = 10
    per_round: int = 5
    images_per_client: int = 2000
    labels_per_client: int = 2
    images_per_label: int = 200
    rounds: int = 100
    epochs: int = 1
    batch_size: int = 256
    lr: float = 0.01
    decay: float = 0.99
    momentum: float = 0.9

    def partition_of(self, labels, seed: int):
        if self.partition == "iid":
            return fixed_iid_partition(labels, self.clients, per_client=self.images_per_client, seed=seed)
        return label_share_partition(labels, self.clients, labels_per_client=self.labels_per_client,
                                     per_label=self.images_per_label, seed=seed)


def federated_accuracy(model, data, defense, run: UtilityRun, *, seed: int, device=torch.device("cpu")) -> list[float]:
    """Test accuracy of the global model after each of ``run.rounds`` FedAvg rounds (``model`` is trained in
    place)."""
    model.to(device)
    clients = run.partition_of(data.train.labels, seed)
    sampler = torch.Generator().manual_seed(seed + 1)
    client = _RoundClient(defense, data, seed=seed)
    per_round = run.per_round if run.partition == "iid" else run.clients
    accuracies = []
    for round_ in range(run.rounds):
        chosen = torch.randperm(run.clients, generator=sampler)[:per_round].tolist()
        start = {k: v.detach().clone() for k, v in model.state_dict().items()}
        states, sizes = [], []
        lr = run.lr * run.decay ** round_
        for c in chosen:
            model.load_state_dict(start)
            _local_training(model, data, clients[c], run, lr, sampler, device, client)
            states.append({k: v.detach().clone() for k, v in model.state_dict().items()})
            sizes.append(len(clients[c]))
        model.load_state_dict(_weighted_average(states, sizes))
        correct = predict(model, data.test.images, data.normalize, device).cpu() == data.test.labels
        accuracies.append(float(correct.float().mean()))
        log.info("%s round %d/%d: test accuracy %.4f", defense.name, round_ + 1, run.rounds, accuracies[-1])
    return accuracies


def _local_training(model, data, index, run: UtilityRun, lr: float, generator, device, client) -> None:
    model.train()
    optimizer = torch.optim.SGD(model.parameters(), lr=lr, momentum=run.momentum)
    client_epochs(model, data, index, optimizer, epochs=run.epochs, batch_size=run.batch_size, generator=generator,
                  device=device, client=client)


def compose_defense(spec: str, overrides: list[str]):
    """The config for ``spec`` ("option key=value ..."), composed with the global ``overrides``."""
    from fedpriv.sweep import config_dir

    name, *keys = shlex.split(spec)
    with initialize_config_dir(config_dir=config_dir(), version_base="1.3"):
        return compose(config_name="config",
                       overrides=[*overrides, f"defense={name}", *(f"defense.{k}" for k in keys)])


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m fedpriv.utility", description=__doc__.split("\n\n")[0])
    parser.add_argument("overrides", nargs="*", help="Hydra overrides (dataset=..., dataset.root=..., model=...)")
    parser.add_argument("--defense", action="append", required=True, help='"option key=value ..." (repeatable)')
    parser.add_argument("--partition", choices=("iid", "labels"), default="iid")
    for name, default in ((f.name, f.default) for f in UtilityRun.__dataclass_fields__.values()):
        if name != "partition":
            parser.add_argument(f"--{name.replace('_', '-')}", type=type(default), default=default)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="[%(asctime)s] %(message)s")
    run = UtilityRun(**{k: getattr(args, k) for k in UtilityRun.__dataclass_fields__})
    args.out.parent.mkdir(parents=True, exist_ok=True)
    rows, summary = [], []
    for spec in args.defense:
        cfg = compose_defense(spec, args.overrides)
        data = instantiate(cfg.dataset).load()
        defense = build_defense(cfg.defense)
        defense.bind(data.classes)
        model = build_model(cfg.model, data, defense, seed=args.seed)
        started = time.perf_counter()
        accuracies = federated_accuracy(model, data, defense, run, seed=args.seed)
        seconds = time.perf_counter() - started
        rows += [{"defense": spec, "partition": run.partition, "seed": args.seed, "round": r + 1, "accuracy": a}
                 for r, a in enumerate(accuracies)]
        best = max(range(len(accuracies)), key=accuracies.__getitem__)
        summary.append({"defense": spec, "partition": run.partition, "seed": args.seed, "rounds": run.rounds,
                        "best": accuracies[best], "best_round": best + 1, "last": accuracies[-1],
                        "test_images": len(data.test), "seconds": round(seconds, 1)})
        _write(args.out, rows)
        _write(args.out.with_name(args.out.stem + "_summary.csv"), summary)
        print(f"{spec}: best {accuracies[best]:.4f} (round {best + 1}), last {accuracies[-1]:.4f}, {seconds:.0f} s")


def _write(path: Path, rows: list[dict]) -> None:
    with path.open("w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


if __name__ == "__main__":
    main()
