"""Disjoint label sets per client (seed 004's non-IID split) and Adam as the rounds' local optimiser."""

from __future__ import annotations

import pytest
import torch
from omegaconf import OmegaConf

from fedpriv.config import ConfigError, config_problems, validate
from fedpriv.data import Digits
from fedpriv.defenses import NoDefense
from fedpriv.fl import FederatedRun, round_victim
from fedpriv.fl.partition import label_partition
from fedpriv.training.cache import ModelCache


@pytest.fixture(scope="module")
def digits():
    return Digits().load()


def test_clients_hold_disjoint_label_sets_covering_every_class(digits):
    labels = digits.train.labels
    parts = label_partition(labels, 3, seed=1)
    held = [set(labels[p].tolist()) for p in parts]
    assert sorted(len(h) for h in held) == [3, 3, 4]  # ten classes dealt over three clients
    assert not (held[0] & held[1] or held[0] & held[2] or held[1] & held[2])
    assert torch.equal(torch.cat(parts).sort().values, torch.arange(len(labels)))  # every image, once
    assert [set(labels[p].tolist()) for p in label_partition(labels, 3, seed=2)] != held  # the seed picks classes


def test_labels_per_client_fixes_the_set_size_and_must_fit_the_classes(digits):
    labels = digits.train.labels
    parts = label_partition(labels, 4, labels_per_client=2, seed=0)
    held = [set(labels[p].tolist()) for p in parts]
    assert all(len(h) == 2 for h in held) and len(set().union(*held)) == 8  # two classes left to nobody
    assert all(bool((labels[p] == c).sum() == (labels == c).sum()) for p, h in zip(parts, held) for c in h)
    with pytest.raises(ValueError, match="distinct"):
        label_partition(labels, 6, labels_per_client=2, seed=0)
    assert "fl.num_clients x fl.labels_per_client = 12" in FederatedRun(
        rounds=1, num_clients=6, partition="labels", labels_per_client=2).problems(labels)[0]


def test_fl_keys_are_checked(compose_cfg):
    assert config_problems(compose_cfg("fl=fedavg", "fl.partition=labels", "fl.labels_per_client=3",
                                       "fl.round_optimizer=adam")) == []
    with pytest.raises(ConfigError) as err:
        validate(compose_cfg("fl.round_optimizer=rmsprop", "fl.labels_per_client=0"))
    assert "fl.round_optimizer='rmsprop'" in str(err.value) and "fl.labels_per_client=0" in str(err.value)


def test_adam_rounds_train_a_different_model_and_key_their_own_cache(digits, tmp_path):
    model_cfg = OmegaConf.create({"_target_": "fedpriv.models.MLP", "hidden": 32, "depth": 1})
    cache = ModelCache(tmp_path)

    def victim(**options):
        run = FederatedRun(rounds=2, num_clients=3, partition="labels", round_batch_size=64, **options)
        return round_victim(run, model_cfg=model_cfg, dataset_cfg=OmegaConf.create({"_target_": "fedpriv.data.Digits"}),
                            data=digits, defense=NoDefense(), seed=0, cache=cache, device=torch.device("cpu"))

    sgd, sgd_meta = victim(round_lr=0.1)
    adam, adam_meta = victim(round_lr=1e-3, round_optimizer="adam")
    assert adam_meta["test_accuracy"] > 0.3  # ten classes: chance is 0.1, even with disjoint label sets
    assert not torch.equal(sgd.classifier.weight, adam.classifier.weight)
    assert len(list((tmp_path / "models").glob("fedavg-*.pt"))) == 2
    # SGD runs keep the cache keys they had before the option existed.
    assert "round_optimizer" not in FederatedRun(rounds=2).signature()
    assert FederatedRun(rounds=2, round_optimizer="adam").signature()["round_optimizer"] == "adam"
