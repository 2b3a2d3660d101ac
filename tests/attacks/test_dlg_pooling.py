"""DLG against seed 004's models on real MNIST digits: an untrained sigmoid LeNet-5 with average pooling gives its
input back within a few L-BFGS steps, the same network with max pooling does not (its gradient switches with the
argmax of every pooling window, a non-smooth objective for L-BFGS). Measured at this scale, average pooling
lets DLG through the small AlexNet as well, so depth alone is no defense here."""

from __future__ import annotations

import pytest
import torch

from fedpriv.attacks import DLG
from fedpriv.attacks.base import AttackProblem
from fedpriv.fl import FedSGD
from fedpriv.metrics import image_scores
from fedpriv.models import LeNet5
from tests.conftest import SHARED

MNIST_SPLIT = SHARED / "data" / "mnist_split"


def _attack(model, data, index: int, iterations: int):
    x, y = data.normalize(data.test.images[index:index + 1]), data.test.labels[index:index + 1]
    protocol = FedSGD(batch_size=1)
    problem = AttackProblem(model=model.eval(), update=protocol.shared_update(model, x, y), shape=(1, 28, 28),
                            num_classes=10, bounds=data.bounds(), labels=y, seed=index, protocol=protocol)
    attack = DLG(iterations=iterations, optimizer="lbfgs", lr=1.0, schedule="none", signed=False, box=False,
                 distance="euclidean", tv_weight=0.0, labels="optimize", converged_below=1e-3)
    result = attack.reconstruct(problem)
    psnr = float(image_scores(data.denormalize(result.images), data.denormalize(x))["psnr"])
    return result.info["converged_at"], psnr


@pytest.mark.slow
def test_dlg_recovers_mnist_through_average_pooling_but_not_through_max_pooling():
    if not (MNIST_SPLIT / "t10k-images-idx3-ubyte.gz").exists():
        pytest.skip(f"real MNIST not found under {MNIST_SPLIT} (the shared data folder sits beside a checkout)")
    from fedpriv.data import MNIST

    data = MNIST(root=str(MNIST_SPLIT), download=False, test_per_class=2).load()
    torch.manual_seed(0)
    shallow = LeNet5(in_shape=(1, 28, 28), num_classes=10, conv_width=16, fc_width=64, activation="sigmoid",
                     pooling="avg")
    maxed = LeNet5(in_shape=(1, 28, 28), num_classes=10, conv_width=16, fc_width=64, activation="sigmoid",
                   pooling="max")
    at, psnr = _attack(shallow, data, 0, iterations=10)
    assert at is not None and psnr > 30, (at, psnr)
    at, psnr = _attack(maxed, data, 0, iterations=10)
    assert at is None and psnr < 20, (at, psnr)
