"""DLG on its own model (the sigmoid LeNet, untrained) recovers real CIFAR-10 images and their labels."""

from __future__ import annotations

import pytest
import torch

from fedpriv.attacks import DLG, AttackProblem
from fedpriv.data import CIFAR10
from fedpriv.fl import FedSGD
from fedpriv.metrics import psnr
from fedpriv.models import LeNet


@pytest.fixture(scope="module")
def cifar(cifar10_root):
    return CIFAR10(root=str(cifar10_root), train_per_class=1, test_per_class=10).load()


def _dlg(data, index, iterations, **options):
    torch.manual_seed(index)
    model = LeNet(in_shape=data.shape, num_classes=10)
    x, y = data.normalize(data.test.images[index : index + 1]), data.test.labels[index : index + 1]
    update = FedSGD().shared_update(model, x, y)
    problem = AttackProblem(model=model, update=update, shape=data.shape, num_classes=10, bounds=data.bounds(), seed=index)
    rec = DLG(iterations=iterations, **options).reconstruct(problem)
    return psnr(data.denormalize(rec.images), data.denormalize(x)).item(), int(rec.labels) == int(y)


@pytest.mark.slow  # 120 L-BFGS steps; the fast suite checks DLG's label rule (tests/attacks/test_labels.py)
def test_dlg_recovers_images_and_soft_labels(cifar):
    value, label = _dlg(cifar, 10, iterations=120)
    assert value > 25 and label, value  # measured: about 30 dB after 120 L-BFGS steps, 45+ after 300


@pytest.mark.slow
def test_dlg_recovers_most_of_ten_images_within_300_iterations(cifar):
    results = [_dlg(cifar, i, iterations=300) for i in range(0, 100, 10)]
    assert sum(p > 30 for p, _ in results) >= 6, results


# --- convergence: when the matching loss reaches ~0, where it ends, and whether the attack succeeded ----------


@pytest.fixture(scope="module")
def digits():
    from fedpriv.data import Digits

    return Digits(train_per_class=1, test_per_class=4).load()


def _digit_problems(data, indices):
    torch.manual_seed(0)
    model = LeNet(in_shape=data.shape, num_classes=10)
    problems, originals = [], []
    for index in indices:
        x, y = data.normalize(data.test.images[index : index + 1]), data.test.labels[index : index + 1]
        problems.append(AttackProblem(model=model, update=FedSGD().shared_update(model, x, y), shape=data.shape,
                                      num_classes=10, bounds=data.bounds(), seed=index, labels=y))
        originals.append(data.denormalize(x))
    return problems, originals


def test_dlg_reports_the_iteration_its_matching_loss_reaches_zero(digits):
    problems, originals = _digit_problems(digits, [0])
    rec = DLG(iterations=8, labels="given", converged_below=1e-3).reconstruct(problems[0])
    curve, at = rec.info["objective_curve"], rec.info["converged_at"]
    assert len(curve) == 9 and curve[0] > 1e-2  # the loss at the random start, then after every step
    assert at is not None and 0 < at <= 8 and curve[at] < 1e-3 <= curve[at - 1].item()
    assert rec.info["matching_loss"] == pytest.approx(float(curve[-1])) and rec.info["matching_loss"] < 1e-3
    assert psnr(digits.denormalize(rec.images), originals[0]).item() > 20  # converged on the right image


def test_convergence_is_tracked_per_problem_in_a_vectorised_batch(digits):
    from fedpriv.attacks.convergence import convergence_columns, per_image

    problems, originals = _digit_problems(digits, [0, 5])
    attack = DLG(iterations=30, optimizer="adam", lr=0.1, labels="given", parallel=2, converged_below=1e-3)
    results = attack.reconstruct_many(problems)
    curves = [r.info["objective_curve"] for r in results]
    assert not torch.equal(curves[0], curves[1])  # each problem's own loss, not the batch's sum
    assert all(r.info["converged_at"] is None for r in results)  # 30 Adam steps get nowhere near DLG's ~0
    # A row over both images: never converged, so no iteration count and no success whatever the PSNR.
    images = {k: torch.cat([per_image(r.info, 1)[k] for r in results]) for k in ("converged_at", "matching_loss")}
    row = convergence_columns(attack, images, torch.tensor([True, True]), torch.tensor([50.0, 50.0]))
    assert row["converged_iter"] is None and row["converged"] == 0 and row["success"] == 0
    assert row["matching_loss"] == pytest.approx(float(torch.tensor([c[-1] for c in curves]).median()))
