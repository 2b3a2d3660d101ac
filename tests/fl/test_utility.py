"""FedAvg utility with a defense at every local step, on real MNIST digits: concealing samples keep the accuracy
of the undefended federation (same seed, same rounds), and the sized partitions hold what they promise."""

from __future__ import annotations

import pytest
import torch

from fedpriv.data import MNIST
from fedpriv.defenses import Concealing, NoDefense
from fedpriv.fl.sized import fixed_iid_partition, label_share_partition
from fedpriv.models import LeNet
from fedpriv.utility import UtilityRun, federated_accuracy
from tests.conftest import SHARED


@pytest.mark.slow
def test_concealing_keeps_fedavg_accuracy_on_mnist():
    root = SHARED / "data" / "mnist_split"
    if not (root / "train-images-idx3-ubyte.gz").exists():
        pytest.skip(f"the MNIST split is not at {root} (the real-data folder ../shared sits beside a checkout)")
    data = MNIST(root=str(root), download=False, train_per_class=200, test_per_class=50).load()
    # The paper's lr 0.01 (momentum 0.9, x0.99 per round). Measured with T = 20 and 10 rounds: none 58.6%,
    # concealing 67.2%; the projection's margin adds half the reference gradient to every step, a larger step
    # that helps here and that made the federation diverge at lr 0.05 with batches of 20 (16.6% vs 79.4%).
    run = UtilityRun(partition="iid", clients=10, per_round=5, images_per_client=200, rounds=8, batch_size=20,
                     lr=0.01)
    accuracy = {}
    for name, defense in (("none", NoDefense()), ("concealing", Concealing(iterations=10))):
        torch.manual_seed(0)
        model = LeNet(in_shape=(1, 28, 28), num_classes=10)
        accuracy[name] = max(federated_accuracy(model, data, defense, run, seed=0))
    assert accuracy["none"] > 0.3, accuracy  # the federation learns at all
    assert accuracy["concealing"] >= accuracy["none"] - 0.02, accuracy


def test_sized_partitions_are_disjoint_and_hold_their_labels():
    labels = torch.arange(10).repeat(50)
    iid = fixed_iid_partition(labels, 10, per_client=30, seed=0)
    shared = label_share_partition(labels, 10, labels_per_client=2, per_label=20, seed=0)
    for parts in (iid, shared):
        flat = torch.cat(parts)
        assert len(flat.unique()) == len(flat)
    assert all(len(p) == 30 for p in iid)
    assert all(len(labels[p].unique()) == 2 and len(p) == 40 for p in shared)
    assert (torch.bincount(torch.cat([labels[p].unique() for p in shared])) == 2).all()  # each class on 2 clients
