"""Imprint: a malicious server's binning block makes a batch of 8 real images come back exactly."""

from __future__ import annotations

import pytest
import torch

from fedpriv.attacks import AttackProblem, Imprint, ServerKnowledge
from fedpriv.config import ConfigError, config_problems, validate
from fedpriv.data import CIFAR10
from fedpriv.fl import FedSGD
from fedpriv.metrics import match_reconstructions, psnr
from fedpriv.models import ConvNet
from fedpriv.record import read_results
from fedpriv.trial import run_trial


@pytest.fixture(scope="module")
def cifar(cifar10_root):
    # 1,000 training images play the server's public images; the private batches come from the test split.
    return CIFAR10(root=str(cifar10_root), train_per_class=100, test_per_class=20).load()


def _knowledge(data, seed=0):
    return ServerKnowledge(shape=data.shape, num_classes=10, bounds=data.bounds(),
                           public_images=data.normalize(data.train.images), seed=seed)


def _victim(data, mode="eval"):
    torch.manual_seed(0)
    return ConvNet(in_shape=data.shape, num_classes=10, width=8).train(mode == "train")


def _attack_batches(data, attack, model, *, batches=5, batch_size=8, labels_given=False):
    """PSNR of every private image against its matched reconstruction, and whether its label came back."""
    generator = torch.Generator().manual_seed(1)
    values, label_hits = [], []
    for _ in range(batches):
        index = torch.randperm(len(data.test), generator=generator)[:batch_size]
        x, y = data.normalize(data.test.images[index]), data.test.labels[index]
        update = FedSGD(batch_size=batch_size).shared_update(model, x, y)
        problem = AttackProblem(model=model, update=update, shape=data.shape, num_classes=10, bounds=data.bounds(),
                                labels=y if labels_given else None)
        rec = attack.reconstruct(problem)
        assert len(rec.images) >= batch_size and len(rec.labels) == len(rec.images)
        images, private = data.denormalize(rec.images), data.denormalize(x)
        order = match_reconstructions(images, private)
        values += psnr(images[order], private).tolist()
        label_hits += (rec.labels[order] == y).tolist()
    return torch.tensor(values), torch.tensor(label_hits)


@pytest.mark.parametrize("bins, measurement, mode", [(128, "brightness", "eval"), (64, "random", "train")])
def test_recovers_most_of_a_batch_of_eight_real_images(cifar, bins, measurement, mode):
    attack = Imprint(bins=bins, measurement=measurement)
    victim = _victim(cifar, mode)
    model = attack.prepare_model(victim, _knowledge(cifar))
    assert model.training == victim.training
    values, label_hits = _attack_batches(cifar, attack, model)
    exact = values > 60
    # Only images sharing a bin with another one are lost (about 7/bins of them); measured 36/40 and 40/40.
    assert exact.float().mean() >= 0.8, values
    if mode == "eval":
        assert label_hits[exact].all()  # read from the bins' bias gradients, without given labels


def test_columns_must_be_identical_for_bin_differences_to_isolate_images(cifar):
    attack = Imprint(bins=64)
    model = attack.prepare_model(_victim(cifar), _knowledge(cifar))
    with torch.no_grad():  # give every unit its own way back into the image
        weight = model.imprint.spread.weight
        weight.mul_(1 + torch.rand(weight.shape[1], generator=torch.Generator().manual_seed(0)))
    values, _ = _attack_batches(cifar, attack, model, batches=2)
    assert (values > 60).float().mean() < 0.2, values


def test_block_leaves_the_victims_predictions_alone(cifar):
    victim = _victim(cifar)
    model = Imprint().prepare_model(victim, _knowledge(cifar))
    x = cifar.normalize(cifar.test.images)
    with torch.no_grad():
        assert (model.imprint(x) - x).abs().max() < 0.05
        assert (model(x).argmax(1) == victim(x).argmax(1)).float().mean() > 0.95


def test_bins_split_unseen_images_about_evenly(cifar):
    bins = 64
    model = Imprint(bins=bins).prepare_model(_victim(cifar), _knowledge(cifar))
    with torch.no_grad():
        active = (model.imprint.bins(cifar.normalize(cifar.test.images).flatten(1)) > 0).sum(1)
    counts = torch.bincount(active, minlength=bins + 1)
    assert counts[0] == 0  # the lowest unit fires for every image the pixel box allows
    assert counts.max() <= 4 * len(active) / bins, counts  # no bin holds a crowd of the 200 test images


def test_fewer_bins_than_images_still_pairs_every_image(cifar):
    attack = Imprint(bins=2)
    model = attack.prepare_model(_victim(cifar), _knowledge(cifar))
    values, _ = _attack_batches(cifar, attack, model, batches=1)
    assert len(values) == 8 and (values > 60).sum() <= 2  # two bins cannot separate eight images


def test_reconstruct_needs_the_model_the_server_prepared(cifar):
    victim = _victim(cifar)
    x, y = cifar.normalize(cifar.test.images[:2]), cifar.test.labels[:2]
    update = FedSGD(batch_size=2).shared_update(victim, x, y)
    problem = AttackProblem(model=victim, update=update, shape=cifar.shape, num_classes=10, bounds=cifar.bounds())
    with pytest.raises(ValueError, match="prepare_model"):
        Imprint().reconstruct(problem)


def test_bad_keys_are_named(compose_cfg):
    assert config_problems(compose_cfg("attack=imprint", "attack.bins=64", "attack.measurement=random")) == []
    with pytest.raises(ConfigError) as err:
        validate(compose_cfg("attack=imprint", "attack.bins=0", "attack.measurement=contrast"))
    message = str(err.value)
    assert "attack.bins=0" in message and "attack.measurement='contrast'" in message and "brightness" in message


@pytest.mark.slow
def test_trial_recovers_batches_of_eight(compose_cfg, tmp_path):
    overrides = ["attack=imprint", "fl.batch_size=8", "targets.per_class=8", "targets.classes=[0,1,2,3]"]
    output = run_trial(compose_cfg(*overrides), output_dir=tmp_path, overrides=overrides)
    rows = read_results(tmp_path / "results.csv")
    assert [r["class"] for r in rows] == ["0", "1", "2", "3"]
    for row in rows:
        assert row["attack"] == "imprint" and row["model"] == "lenet" and row["dataset"] == "digits"
        assert row["n"] == "8" and row["batch_size"] == "8" and row["overrides"] == " ".join(overrides)
        assert 0 <= float(row["ma"]) <= 1 and 0 <= float(row["aa"]) <= 1
        assert float(row["psnr"]) > 60 and float(row["label_acc"]) == 1.0
    values = psnr(output.images["reconstruction"], output.images["original"])
    assert (values > 60).float().mean() >= 0.85, values
