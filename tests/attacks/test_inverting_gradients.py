"""Inverting Gradients recovers real CIFAR-10 images from an untrained ConvNet's gradient."""

from __future__ import annotations

import pytest
import torch

from fedpriv.attacks import AttackProblem, InvertingGradients
from fedpriv.attacks.labels import idlg_label
from fedpriv.data import CIFAR10
from fedpriv.fl import FedSGD
from fedpriv.metrics import psnr
from fedpriv.models import ConvNet, LeNet


@pytest.fixture(scope="module")
def cifar(cifar10_root):
    return CIFAR10(root=str(cifar10_root), train_per_class=1, test_per_class=20).load()


def _attack(data, model, indices, attack):
    """Attack each image's own FedSGD gradient (``attack.parallel`` of them at once); per image: (PSNR, PSNR of the
    random start, label correct)."""
    problems, originals = [], []
    for i in indices:
        x = data.normalize(data.test.images[i : i + 1])
        y = data.test.labels[i : i + 1]
        update = FedSGD().shared_update(model, x, y)
        problems.append(AttackProblem(model=model, update=update, shape=data.shape, num_classes=10,
                                      bounds=data.bounds(), seed=i))
        originals.append((x, y))
    return [(psnr(data.denormalize(rec.images), data.denormalize(x)).item(),
             psnr(data.denormalize(rec.initial), data.denormalize(x)).item(),
             int(rec.labels) == int(y))
            for rec, (x, y) in zip(attack.reconstruct_many(problems), originals)]


@pytest.mark.slow
def test_recovers_real_images_far_above_its_random_start(cifar):
    torch.manual_seed(0)
    model = ConvNet(in_shape=cifar.shape, num_classes=10, width=16).eval()
    indices = [0, 20, 40, 60]  # four classes
    results = _attack(cifar, model, indices, InvertingGradients(iterations=200, tv_weight=1e-4, parallel=4))
    mean_psnr = sum(r[0] for r in results) / len(results)
    mean_init = sum(r[1] for r in results) / len(results)
    assert mean_psnr > mean_init + 4.0, results  # measured: about 16 dB against 9.4 dB
    assert all(r[2] for r in results)  # iDLG labels


@pytest.mark.slow
def test_width64_convnet_as_in_the_paper(cifar):
    torch.manual_seed(0)
    model = ConvNet(in_shape=cifar.shape, num_classes=10, width=64).eval()
    results = _attack(cifar, model, [0, 20], InvertingGradients(iterations=1500, tv_weight=1e-4))
    assert sum(r[0] for r in results) / len(results) > 18.0, results


def test_idlg_labels_are_exact_at_batch_size_one(cifar):
    torch.manual_seed(0)
    model = LeNet(in_shape=cifar.shape, num_classes=10)
    correct = 0
    for i in range(0, 200, 10):  # 20 real images across all classes
        x, y = cifar.normalize(cifar.test.images[i : i + 1]), cifar.test.labels[i : i + 1]
        update = FedSGD().shared_update(model, x, y)
        correct += int(idlg_label(model, update.gradients)) == int(y)
    assert correct == 20


def test_restarts_keep_the_lowest_objective(cifar):
    torch.manual_seed(0)
    model = ConvNet(in_shape=cifar.shape, num_classes=10, width=4).eval()
    x, y = cifar.normalize(cifar.test.images[:1]), cifar.test.labels[:1]
    update = FedSGD().shared_update(model, x, y)
    problem = AttackProblem(model=model, update=update, shape=cifar.shape, num_classes=10, bounds=cifar.bounds(), seed=3)
    single = InvertingGradients(iterations=20, restarts=1).reconstruct(problem)
    several = InvertingGradients(iterations=20, restarts=3).reconstruct(problem)
    assert several.loss <= single.loss + 1e-9  # restart 0 is the same run, so the best can only improve
    low, high = cifar.bounds()
    assert (several.images >= low - 1e-5).all() and (several.images <= high + 1e-5).all()


def test_larger_batches_run_with_given_or_inferred_labels(cifar):
    model = LeNet(in_shape=cifar.shape, num_classes=10)
    x, y = cifar.normalize(cifar.test.images[:2]), cifar.test.labels[:2]
    update = FedSGD(batch_size=2).shared_update(model, x, y)
    problem = AttackProblem(model=model, update=update, shape=cifar.shape, num_classes=10, bounds=cifar.bounds(), labels=y)
    given = InvertingGradients(iterations=2, labels="given").reconstruct(problem)
    assert given.images.shape == (2, 3, 32, 32) and torch.equal(given.labels, y)
    inferred = InvertingGradients(iterations=2, labels="infer").reconstruct(problem)
    assert sorted(inferred.labels.tolist()) == sorted(y.tolist())
