"""The analytic attack reads real images exactly out of an MLP's first-layer gradient."""

from __future__ import annotations

import re

import pytest
import torch

from fedpriv.attacks import Analytic, AttackProblem, ServerKnowledge
from fedpriv.config import ConfigError
from fedpriv.data import CIFAR10
from fedpriv.fl import FedSGD
from fedpriv.metrics import match_reconstructions, psnr
from fedpriv.models import MLP, ConvNet
from fedpriv.record import read_results
from fedpriv.trial import run_trial


@pytest.fixture(scope="module")
def cifar(cifar10_root):
    return CIFAR10(root=str(cifar10_root), train_per_class=1, test_per_class=20).load()


def _problem(data, model, index, *, labels_given):
    x, y = data.normalize(data.test.images[index]), data.test.labels[index]
    update = FedSGD(batch_size=len(index)).shared_update(model, x, y)
    problem = AttackProblem(model=model, update=update, shape=data.shape, num_classes=10, bounds=data.bounds(),
                            labels=y if labels_given else None)
    return problem, x, y


@pytest.mark.parametrize("activation", ["relu", "sigmoid"])
def test_batch_of_one_is_recovered_exactly(cifar, activation):
    torch.manual_seed(0)
    model = MLP(in_shape=cifar.shape, num_classes=10, activation=activation)
    for i in [0, 30, 70, 110, 150]:  # five real images of five classes
        problem, x, y = _problem(cifar, model, torch.tensor([i]), labels_given=False)
        rec = Analytic().reconstruct(problem)
        assert rec.images.shape == (1, 3, 32, 32)
        assert psnr(cifar.denormalize(rec.images), cifar.denormalize(x)).item() > 80  # measured: 156 dB to exact
        assert torch.equal(rec.labels, y)  # iDLG


@pytest.mark.slow
def test_larger_batches_give_one_estimate_per_image_exact_only_where_a_unit_saw_one_image(cifar):
    torch.manual_seed(0)
    relu = MLP(in_shape=cifar.shape, num_classes=10, activation="relu")
    sigmoid = MLP(in_shape=cifar.shape, num_classes=10, activation="sigmoid")
    generator = torch.Generator().manual_seed(1)
    scores = {"relu": [], "sigmoid": []}
    for _ in range(3):
        index = torch.randperm(len(cifar.test), generator=generator)[:4]  # mixed classes
        for name, model in (("relu", relu), ("sigmoid", sigmoid)):
            problem, x, y = _problem(cifar, model, index, labels_given=True)
            rec = Analytic().reconstruct(problem)
            assert rec.images.shape == (4, 3, 32, 32)
            assert sorted(rec.labels.tolist()) == sorted(y.tolist())  # the given labels, paired with estimates
            images = cifar.denormalize(rec.images)
            order = match_reconstructions(images, cifar.denormalize(x))
            values = psnr(images[order], cifar.denormalize(x))
            scores[name] += values.tolist()
            exact = values > 60
            assert torch.equal(rec.labels[order][exact], y[exact])
    # ReLU units often respond to a single image of the batch, sigmoid units never do: only mixtures are left.
    assert sum(v > 60 for v in scores["relu"]) >= 8, scores  # measured: 10 of 12
    assert max(scores["sigmoid"]) < 40, scores


def test_model_without_a_linear_first_layer_is_refused_naming_model(cifar):
    knowledge = ServerKnowledge(shape=cifar.shape, num_classes=10, bounds=cifar.bounds(),
                                public_images=torch.zeros(1, *cifar.shape))
    problems = Analytic().model_problems(ConvNet(in_shape=cifar.shape, num_classes=10, width=4), cifar.shape)
    assert len(problems) == 1
    assert re.search(r"model=convnet.*attack=analytic.*Conv2d.*model=mlp", problems[0])
    mlp = MLP(in_shape=cifar.shape, num_classes=10)
    assert Analytic().model_problems(mlp, cifar.shape) == []
    assert Analytic().prepare_model(mlp, knowledge) is mlp  # an honest-but-curious server changes nothing


@pytest.mark.slow
def test_trial_with_an_mlp_leaks_every_image_exactly(compose_cfg, tmp_path):
    overrides = ["attack=analytic", "model=mlp"]
    output = run_trial(compose_cfg(*overrides), output_dir=tmp_path, overrides=overrides)
    rows = read_results(tmp_path / "results.csv")
    assert [r["class"] for r in rows] == [str(c) for c in range(10)]
    for row in rows:
        assert row["attack"] == "analytic" and row["model"] == "mlp" and row["dataset"] == "digits"
        assert row["n"] == "1" and row["overrides"] == "attack=analytic model=mlp"
        assert 0 <= float(row["ma"]) <= 1 and 0 <= float(row["aa"]) <= 1
        assert float(row["psnr"]) > 80 and float(row["ssim"]) > 0.99 and float(row["label_acc"]) == 1.0
    assert output.rows[0]["classifier_acc"] > 0.8  # the MLP itself learns the digits


def test_incompatible_model_fails_before_any_training(compose_cfg, tmp_path, monkeypatch):
    import fedpriv.training.builders as builders
    from fedpriv.config import ConfigError
    from fedpriv.trial import run_trial

    monkeypatch.setattr(builders, "train_classifier", lambda *a, **k: pytest.fail("trained before the check"))
    with pytest.raises(ConfigError, match="model"):
        run_trial(compose_cfg("attack=analytic", "model=convnet"), output_dir=tmp_path)
