"""Labels from the last layer's gradient: exact at batch size 1 (iDLG), counted for larger batches."""

from __future__ import annotations

import pytest
import torch

from fedpriv.attacks.labels import batch_labels, idlg_label
from fedpriv.data import CIFAR10
from fedpriv.fl import FedSGD
from fedpriv.models import ConvNet, LeNet


@pytest.fixture(scope="module")
def cifar(cifar10_root):
    return CIFAR10(root=str(cifar10_root), train_per_class=1, test_per_class=20).load()


def _update(model, data, index):
    x, y = data.normalize(data.test.images[index]), data.test.labels[index]
    return FedSGD(batch_size=len(index)).shared_update(model, x, y), y


def _multiset_accuracy(guessed, truth):
    counts = torch.minimum(torch.bincount(guessed, minlength=10), torch.bincount(truth, minlength=10))
    return counts.sum().item() / len(truth)


def test_idlg_is_exact_on_twenty_real_images(cifar):
    torch.manual_seed(0)
    model = ConvNet(in_shape=cifar.shape, num_classes=10, width=8).eval()
    for i in range(0, 200, 10):
        update, y = _update(model, cifar, torch.tensor([i]))
        assert int(idlg_label(model, update.gradients)) == int(y)


@pytest.mark.parametrize("batch", [4, 8, 16])
def test_batch_rule_counts_labels_with_repeats(cifar, batch):
    torch.manual_seed(1)
    model = ConvNet(in_shape=cifar.shape, num_classes=10, width=8).eval()
    generator = torch.Generator().manual_seed(batch)
    scores = []
    for _ in range(5):
        index = torch.randint(0, 200, (batch,), generator=generator)  # random classes, repeats included
        update, y = _update(model, cifar, index)
        guessed = batch_labels(model, update.gradients, batch, cifar.shape, cifar.bounds(), torch.Generator().manual_seed(0))
        assert len(guessed) == batch
        scores.append(_multiset_accuracy(guessed, y))
    assert sum(scores) / len(scores) >= 0.9, scores


def test_batch_rule_without_a_bias(cifar):
    torch.manual_seed(2)
    model = LeNet(in_shape=cifar.shape, num_classes=10, activation="relu", init="default")
    model.fc.bias = None
    index = torch.tensor([0, 25, 47, 73, 101, 140])
    update, y = _update(model, cifar, index)
    guessed = batch_labels(model, update.gradients, len(index), cifar.shape, cifar.bounds(), torch.Generator().manual_seed(0))
    assert _multiset_accuracy(guessed, y) >= 5 / 6
