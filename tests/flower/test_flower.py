"""Flower integration: the engine matches the in-process one, a curious server's record is invertible, and a
defense mod changes what that server records. Flower simulations start Ray, so those tests are slow."""

from __future__ import annotations

import copy

import pytest
import torch
from hydra.utils import instantiate

from fedpriv.config.validate import ConfigError, validate
from fedpriv.defenses import NoDefense
from fedpriv.flower import flower_available
from tests.conftest import SHARED, compose_config

needs_flower = pytest.mark.skipif(not flower_available(),
                                  reason="Flower is not installed (pip install 'fedpriv[flower]')")
MNIST_SPLIT = SHARED / "data" / "mnist_split"


@pytest.mark.skipif(flower_available(), reason="Flower is installed; this checks the message a lean install gives")
def test_flower_engine_without_flower_is_a_config_error_naming_the_install():
    cfg = compose_config("fl=fedavg", "fl.rounds=1", "fl.engine=flower")
    with pytest.raises(ConfigError, match=r"fl\.engine=flower needs Flower .*fedpriv\[flower\]"):
        validate(cfg)


def test_unknown_engine_names_the_allowed_ones():
    with pytest.raises(ConfigError, match=r"fl\.engine.*inprocess.*flower"):
        validate(compose_config("fl.engine=ray"))


def _digits_setup(**fl):
    from fedpriv.fl.rounds import FederatedRun
    from fedpriv.training.builders import build_model

    cfg = compose_config("dataset=digits", "model=mlp", "model.hidden=32")
    data = instantiate(cfg.dataset).load()
    run = FederatedRun(**fl)
    model = build_model(cfg.model, data, NoDefense(), seed=0)
    return data, run, model


@needs_flower
@pytest.mark.slow
def test_flower_engine_reaches_the_in_process_weights_with_full_batch_steps():
    """Full participation, one full-batch step per epoch: the two engines do the same arithmetic (Flower averages
    in float32), so the global weights agree to float rounding and so do the test accuracies."""
    from fedpriv.fl.rounds import train_fedavg

    data, run, model = _digits_setup(rounds=3, num_clients=3, round_epochs=5, round_lr=0.2, round_batch_size=4096)
    ours, theirs = copy.deepcopy(model), copy.deepcopy(model)
    meta_ours = train_fedavg(ours, data, run, seed=0, device=torch.device("cpu"))
    flower_run = type(run)(**{**run.__dict__, "engine": "flower"})
    meta_flower = train_fedavg(theirs, data, flower_run, seed=0, device=torch.device("cpu"))
    assert meta_flower["engine"] == "flower" and len(meta_flower["round_accuracy"]) == 3
    for a, b in zip(ours.parameters(), theirs.parameters()):
        assert torch.allclose(a, b, atol=1e-5), (a - b).abs().max()
    assert meta_ours["round_accuracy"][-1] > 0.7  # it trained (80% here; chance is 10%)
    assert abs(meta_ours["test_accuracy"] - meta_flower["test_accuracy"]) <= 0.01


def _mnist_clients():
    if not (MNIST_SPLIT / "train-images-idx3-ubyte.gz").exists():
        pytest.skip(f"real MNIST not found at {MNIST_SPLIT} (../shared sits beside a development checkout)")
    from fedpriv.fl.rounds import FederatedRun
    from fedpriv.training.builders import build_model

    cfg = compose_config("dataset=mnist", f"dataset.root={MNIST_SPLIT}", "dataset.train_per_class=1",
                         "dataset.test_per_class=20", "model=mlp", "model.hidden=32")
    data = instantiate(cfg.dataset).load()
    # 10 training images over 3 clients (3-4 each), one full-batch local step: the server replays it exactly.
    run = FederatedRun(rounds=1, num_clients=3, round_epochs=1, round_lr=0.1, round_batch_size=64)
    return cfg, data, run, lambda: build_model(cfg.model, data, NoDefense(), seed=0)


def _record_round(data, run, model_fn, mods=()):
    from fedpriv.flower.audit import train_config
    from fedpriv.flower.engine import train_fedavg_flower
    from fedpriv.flower.strategy import CuriousServer

    servers = []

    def wrap(strategy):
        servers.append(CuriousServer(strategy, rounds=[1]))
        return servers[0]

    train_fedavg_flower(model_fn(), data, run, seed=0, device=torch.device("cpu"), wrap=wrap,
                        train_config=train_config(run), client_mods=mods)
    return sorted(servers[0].records, key=lambda r: r.partition_id)


@needs_flower
@pytest.mark.slow
def test_curious_server_record_of_a_flower_round_is_inverted_on_real_mnist():
    from fedpriv.attacks import InvertingGradients
    from fedpriv.flower.audit import audit

    cfg, data, run, model_fn = _mnist_clients()
    records = _record_round(data, run, model_fn)
    assert len(records) == 3 and all(r.round == 1 for r in records)
    partitions = run.clients(data.train.labels, seed=0)

    def truth(record):
        index = partitions[record.partition_id]
        return data.train.images[index].float() / 255, data.train.labels[index]

    attack = InvertingGradients(iterations=300, labels="given", tv_weight=0.01, restarts=1)
    rows = audit(records[:1], attack, model_fn, data, truth, seed=0)
    assert rows[0]["replay_exact"] and rows[0]["round"] == 1 and rows[0]["client"] == 0
    # A random [0, 1] image scores about 6 dB against MNIST digits; the replayed update gives the digits back.
    assert rows[0]["psnr"] > 15, rows[0]


@needs_flower
@pytest.mark.slow
def test_a_prune_mod_changes_what_the_curious_server_records():
    from fedpriv.defenses.prune import Prune
    from fedpriv.flower.mods import DefenseMod

    _, data, run, model_fn = _mnist_clients()
    plain = _record_round(data, run, model_fn)
    pruned = _record_round(data, run, model_fn, mods=[DefenseMod(Prune(p=0.9), seed=0)])
    names = [n for n, _ in model_fn().named_parameters()]
    zero = lambda record: float(torch.cat([u.flatten() for u in record.update(names)]).eq(0).float().mean())
    assert zero(plain[0]) < 0.5 < 0.85 <= zero(pruned[0]), (zero(plain[0]), zero(pruned[0]))
