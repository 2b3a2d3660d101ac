"""Attacking round t of a FedAvg run: the global model learns, is trained once per setting, and is what is attacked."""

from __future__ import annotations

import pytest
import torch
from omegaconf import OmegaConf

from fedpriv.config import ConfigError
from fedpriv.data import Digits
from fedpriv.defenses import NoDefense
from fedpriv.fl import FedSGD, FederatedRun, round_victim
from fedpriv.fl import rounds as rounds_module
from fedpriv.trial import run_trial
from fedpriv.training.builders import build_model
from fedpriv.training.cache import ModelCache, load_weights
from fedpriv.training.classifier import predict
from fedpriv.utils import estimate

MODEL = OmegaConf.create({"_target_": "fedpriv.models.LeNet"})
DATASET = OmegaConf.create({"_target_": "fedpriv.data.Digits"})
CPU = torch.device("cpu")


@pytest.fixture(scope="module")
def digits():
    return Digits().load()


def _accuracy(model, data):
    return float((predict(model, data.test.images, data.normalize, CPU) == data.test.labels).float().mean())


def _victim(run, data, cache):
    return round_victim(run, model_cfg=MODEL, dataset_cfg=DATASET, data=data, defense=NoDefense(), seed=0,
                        cache=cache, device=CPU)


@pytest.mark.parametrize("partition", ["iid", pytest.param("dirichlet", marks=pytest.mark.slow)])
def test_a_few_rounds_lift_the_global_model_above_chance_and_are_trained_once(digits, tmp_path, monkeypatch,
                                                                               partition):
    cache = ModelCache(tmp_path)
    run = FederatedRun(rounds=8, round_lr=0.3, partition=partition, alpha=1.0, clients_per_round=5)
    untrained = _accuracy(build_model(MODEL, digits, NoDefense(), seed=0), digits)
    model, meta = _victim(run, digits, cache)
    assert len(meta["round_accuracy"]) == 8
    assert _accuracy(model, digits) == pytest.approx(meta["test_accuracy"])
    assert meta["test_accuracy"] > 0.4 > untrained + 0.2  # ten classes: chance is 0.1

    monkeypatch.setattr(rounds_module, "train_fedavg", lambda *a, **k: pytest.fail("the cached run was retrained"))
    again, again_meta = _victim(run, digits, cache)
    assert again_meta == meta
    assert all(torch.equal(a, b) for a, b in zip(model.state_dict().values(), again.state_dict().values()))
    assert len(list((tmp_path / "models").glob("fedavg-*.pt"))) == 1


@pytest.mark.slow  # a full trial on the round-t model
def test_the_attacked_update_comes_from_the_round_t_model(compose_cfg, cache_dir, tmp_path, monkeypatch):
    seen = []
    original = FedSGD.shared_update

    def spy(self, model, x, labels, **kwargs):
        seen.append({k: v.detach().clone().cpu() for k, v in model.state_dict().items()})
        return original(self, model, x, labels, **kwargs)

    monkeypatch.setattr(FedSGD, "shared_update", spy)
    # The time estimate's calibration runs a throwaway update on an untrained copy: not the attacked update.
    monkeypatch.setattr(estimate, "attack_estimate", lambda *args, **kwargs: None)
    # One epoch for the MA classifier and the evaluator: this test is about the victim, not their scores.
    overrides = ["fl.rounds=3", "fl.round_lr=0.3", "fl.num_clients=5", "attack.iterations=5", "targets.classes=[0,1]",
                 "training.epochs=1", "evaluator.training.epochs=1"]
    output = run_trial(compose_cfg(*overrides), output_dir=tmp_path)
    assert all(row["victim_trained"] for row in output.rows)

    data = Digits().load()
    cfg = compose_cfg(*overrides)
    run = FederatedRun(rounds=3, round_lr=0.3, num_clients=5)
    cached = round_victim(run, model_cfg=cfg.model, dataset_cfg=cfg.dataset, data=data, defense=NoDefense(), seed=0,
                          cache=ModelCache(cache_dir), device=CPU)[0].state_dict()
    untrained = build_model(cfg.model, data, NoDefense(), seed=0).state_dict()
    assert len(seen) == 2
    for state in seen:
        assert all(torch.equal(state[k], cached[k]) for k in cached)
        assert not torch.equal(state["fc.weight"], untrained["fc.weight"])


def test_rounds_and_victim_training_cannot_both_set_the_victim(compose_cfg, tmp_path):
    with pytest.raises(ConfigError) as err:
        run_trial(compose_cfg("fl.rounds=2", "victim.train_epochs=5", f"paths.cache_dir={tmp_path}"),
                  output_dir=tmp_path / "out")
    assert "fl.rounds=2" in str(err.value) and "victim.train_epochs=5" in str(err.value)
    assert not (tmp_path / "models").exists()  # refused before anything was trained


def test_a_shard_split_that_cannot_cover_the_classes_is_refused_up_front(compose_cfg, tmp_path):
    overrides = ["fl.rounds=2", "fl.partition=shards", "fl.num_clients=4", "fl.clients_per_round=4",
                 "fl.shards_per_client=2", f"paths.cache_dir={tmp_path}"]
    with pytest.raises(ConfigError, match="fl.shards_per_client"):
        run_trial(compose_cfg(*overrides), output_dir=tmp_path / "out")
    assert not (tmp_path / "models").exists()


def test_options_of_other_partitions_do_not_split_the_cache():
    base = FederatedRun(rounds=2, partition="iid")
    assert base.signature() == FederatedRun(rounds=2, partition="iid", alpha=9.0, shards_per_client=5).signature()
    assert base.signature() == FederatedRun(rounds=2, partition="iid", clients_per_round=10).signature()
    assert (FederatedRun(rounds=2, partition="dirichlet", alpha=0.1).signature()
            != FederatedRun(rounds=2, partition="dirichlet", alpha=1.0).signature())
