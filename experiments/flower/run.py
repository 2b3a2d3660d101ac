"""A 10-client Flower federation on real MNIST whose curious server inverts client updates at rounds 1 and 20,
with and without a fedpriv defense mod on the clients. Writes results/<defense>.csv and table.md.

    python experiments/flower/run.py --mnist ../shared/data/mnist_split

Needs the Flower extra (``make install-flower``). See README.md beside this file for the setting and results.
"""

from __future__ import annotations

import argparse
import math
import time
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

import fedpriv.config.schema  # noqa: F401  (registers the schema the config composes against)
from fedpriv.attacks import InvertingGradients
from fedpriv.defenses import NoDefense, Noise, Prune
from fedpriv.fl.rounds import FederatedRun
from fedpriv.flower.audit import audit, train_config
from fedpriv.flower.engine import train_fedavg_flower
from fedpriv.flower.mods import DefenseMod
from fedpriv.flower.strategy import CuriousServer
from fedpriv.record.results import write_results
from fedpriv.training.builders import build_model

HERE = Path(__file__).resolve().parent
CONF = HERE.parents[1] / "conf"
ROUNDS_ATTACKED = (1, 20)
DEFENSES = {"none": None, "prune_0.9": lambda: Prune(p=0.9), "gaussian_0.001": lambda: Noise(scale=1e-3)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mnist", default=str(HERE.parents[2] / "shared" / "data" / "mnist_split"))
    parser.add_argument("--images-per-class", type=int, default=8, help="training images per class (all clients)")
    parser.add_argument("--iterations", type=int, default=300, help="Inverting Gradients iterations")
    parser.add_argument("--defenses", default=",".join(DEFENSES))
    args = parser.parse_args()
    torch.manual_seed(0)
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(config_name="config", overrides=[
            "dataset=mnist", f"dataset.root={args.mnist}", f"dataset.train_per_class={args.images_per_class}",
            "dataset.test_per_class=100", "model=mlp", "model.hidden=32"])
    data = instantiate(cfg.dataset).load()
    model_fn = lambda: build_model(cfg.model, data, NoDefense(), seed=0)
    # Each client holds 8 images and trains 5 full-batch SGD steps per round: the server replays it exactly.
    run = FederatedRun(rounds=max(ROUNDS_ATTACKED), num_clients=10, round_epochs=5, round_lr=0.1,
                       round_batch_size=64)
    partitions = run.clients(data.train.labels, seed=0)
    truth = lambda r: (data.train.images[partitions[r.partition_id]].float() / 255,
                       data.train.labels[partitions[r.partition_id]])
    attack = InvertingGradients(iterations=args.iterations, labels="given", tv_weight=0.01)
    out = HERE / "results"
    out.mkdir(exist_ok=True)
    summary = []
    for name in args.defenses.split(","):
        start = time.perf_counter()
        server: list[CuriousServer] = []
        mods = [] if DEFENSES[name] is None else [DefenseMod(DEFENSES[name](), seed=0)]
        meta = train_fedavg_flower(model_fn(), data, run, seed=0, device=torch.device("cpu"),
                                   wrap=lambda s: server.append(CuriousServer(s, rounds=ROUNDS_ATTACKED)) or server[0],
                                   train_config=train_config(run), client_mods=mods)
        trained = time.perf_counter() - start
        records = sorted(server[0].records, key=lambda r: (r.round, r.partition_id))
        rows = audit(records, attack, model_fn, data, truth, seed=0,
                     extra={"defense": name, "final_accuracy": meta["test_accuracy"]})
        for row in rows:
            row["accuracy_after_round"] = meta["round_accuracy"][row["round"] - 1]
        write_results(out / f"{name}.csv", rows)
        for round_ in ROUNDS_ATTACKED:
            mine = [r for r in rows if r["round"] == round_]
            psnr = torch.tensor([r["psnr"] for r in mine])
            summary.append((name, round_, len(mine), sum(r["n"] for r in mine), float(psnr.mean()),
                            1.96 * float(psnr.std()) / math.sqrt(len(psnr)), max(r["psnr_max"] for r in mine),
                            sum(r["ssim"] for r in mine) / len(mine), mine[0]["accuracy_after_round"],
                            meta["test_accuracy"]))
        print(f"{name}: federation {trained:.0f} s, total {time.perf_counter() - start:.0f} s", flush=True)
    lines = ["| defense mod | round | clients (images) | PSNR dB mean +- 95% | best PSNR | SSIM | acc after round | "
             "final acc (round 20) |", "|---|---|---|---|---|---|---|---|"]
    for name, round_, clients, images, psnr, ci, best, ssim, acc, final in summary:
        lines.append(f"| {name} | {round_} | {clients} ({images}) | {psnr:.1f} +- {ci:.1f} | {best:.1f} | {ssim:.2f} | "
                     f"{acc:.1%} | {final:.1%} |")
    (HERE / "table.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
