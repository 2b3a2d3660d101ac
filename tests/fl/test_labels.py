"""Label inference on updates that are not one gradient: FedAvg weight differences and secure aggregates."""

from __future__ import annotations

import pytest
import torch

from fedpriv.attacks.base import AttackProblem
from fedpriv.attacks.labels import infer_labels
from fedpriv.data import Digits
from fedpriv.fl import FedAvg, SecureAggregation
from fedpriv.models import LeNet


@pytest.fixture(scope="module")
def digits():
    return Digits().load()


def _problem(digits, model, protocol, index, seed=0, population=None):
    x, y = digits.normalize(digits.test.images[index]), digits.test.labels[index]
    update = protocol.shared_update(model, x, y, population=population,
                                    generator=torch.Generator().manual_seed(seed))
    problem = AttackProblem(model=model, update=update, shape=digits.shape, num_classes=10, bounds=digits.bounds(),
                            seed=seed, protocol=protocol)
    return problem, (update.labels if update.labels is not None else y)


def _multiset_accuracy(guessed, truth):
    counts = torch.minimum(torch.bincount(guessed, minlength=10), torch.bincount(truth, minlength=10))
    return counts.sum().item() / len(truth)


@pytest.mark.parametrize("init", ["uniform", "default"])
def test_idlg_reads_the_label_of_one_image_from_a_fedavg_update(digits, init):
    torch.manual_seed(0)
    model = LeNet(in_shape=digits.shape, num_classes=10, init=init).eval()
    protocol = FedAvg(batch_size=1, local_epochs=5, local_lr=0.1)
    index = torch.arange(0, 400, 20)  # twenty real digits of every class
    guessed = [int(infer_labels(_problem(digits, model, protocol, i.view(1))[0])) for i in index]
    assert guessed == digits.test.labels[index].tolist()


def test_batch_counts_need_the_gradient_equivalent_of_a_fedavg_update(digits):
    torch.manual_seed(1)
    model = LeNet(in_shape=digits.shape, num_classes=10).eval()
    # A small step size: the counting rule estimates predictions on the model as sent, and a client whose local
    # steps move those predictions far (DLG's LeNet at lr 0.1) leaves that estimate behind.
    protocol = FedAvg(batch_size=6, local_epochs=2, local_lr=0.003, local_batch_size=3)
    generator = torch.Generator().manual_seed(0)
    with_equivalent, raw = [], []
    for trial in range(5):
        index = torch.randint(0, len(digits.test.labels), (6,), generator=generator)
        problem, y = _problem(digits, model, protocol, index, seed=trial)
        with_equivalent.append(_multiset_accuracy(infer_labels(problem), y))
        problem.protocol = None  # read the weight difference as if it were a gradient
        raw.append(_multiset_accuracy(infer_labels(problem), y))
    assert sum(with_equivalent) / 5 >= 0.9, with_equivalent
    assert sum(raw) / 5 < sum(with_equivalent) / 5 - 0.2, raw


def test_labels_of_an_aggregate_are_counted_over_all_clients(digits):
    torch.manual_seed(2)
    model = LeNet(in_shape=digits.shape, num_classes=10).eval()
    pool_x, pool_y = digits.normalize(digits.train.images), digits.train.labels

    def population(n, generator):
        pick = torch.randint(len(pool_y), (n,), generator=generator)
        return pool_x[pick], pool_y[pick]

    protocol = SecureAggregation(batch_size=1, clients=8)
    scores = []
    for i in range(5):
        problem, y = _problem(digits, model, protocol, torch.tensor([i * 30]), seed=i, population=population)
        guessed = infer_labels(problem)
        assert len(guessed) == 8 == len(y)
        scores.append(_multiset_accuracy(guessed, y))
    assert sum(scores) / len(scores) >= 0.8, scores
