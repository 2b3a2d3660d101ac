"""Client partitions of a real training split: balanced IID parts, label shards, Dirichlet label skew."""

from __future__ import annotations

import pytest
import torch

from fedpriv.data import Digits
from fedpriv.fl.partition import dirichlet_partition, iid_partition, shard_partition


@pytest.fixture(scope="module")
def labels():
    return Digits().load().train.labels  # 1,347 real digit labels, 10 classes


def _covers_once(parts, labels):
    everything = torch.cat(parts).sort().values
    return torch.equal(everything, torch.arange(len(labels)))


def _label_shares(parts, labels):
    return [torch.bincount(labels[p], minlength=10).float() / max(len(p), 1) for p in parts]


def test_iid_parts_are_balanced_and_seeded(labels):
    parts = iid_partition(labels, 10, seed=3)
    assert _covers_once(parts, labels)
    sizes = [len(p) for p in parts]
    assert max(sizes) - min(sizes) <= 1
    assert all(len(labels[p].unique()) == 10 for p in parts)  # every client sees every digit
    assert all(torch.equal(a, b) for a, b in zip(parts, iid_partition(labels, 10, seed=3)))
    assert not torch.equal(parts[0], iid_partition(labels, 10, seed=4)[0])


@pytest.mark.parametrize("clients, shards", [(10, 2), (20, 1), (7, 3)])
def test_shards_give_each_client_at_most_its_shard_count_of_labels(labels, clients, shards):
    parts = shard_partition(labels, clients, shards_per_client=shards, seed=0)
    assert len(parts) == clients and _covers_once(parts, labels)
    seen = [len(labels[p].unique()) for p in parts]
    assert max(seen) <= shards
    assert all(len(p) > 0 for p in parts)
    again = shard_partition(labels, clients, shards_per_client=shards, seed=0)
    assert all(torch.equal(a, b) for a, b in zip(parts, again))


def test_shards_that_cannot_cover_every_class_are_refused(labels):
    with pytest.raises(ValueError, match="shards"):
        shard_partition(labels, 3, shards_per_client=2, seed=0)  # 6 shards for 10 classes


def test_dirichlet_skew_follows_alpha(labels):
    skewed = dirichlet_partition(labels, 10, alpha=0.05, seed=0)
    uniform = dirichlet_partition(labels, 10, alpha=1000.0, seed=0)
    assert _covers_once(skewed, labels) and _covers_once(uniform, labels)
    overall = torch.bincount(labels, minlength=10).float() / len(labels)

    def mean_distance(parts):  # total-variation distance of a client's label mix from the global one
        shares = [s for s, p in zip(_label_shares(parts, labels), parts) if len(p) > 0]
        return sum(0.5 * (s - overall).abs().sum() for s in shares) / len(shares)

    assert mean_distance(skewed) > 0.6  # most clients hold one or two digits
    assert mean_distance(uniform) < 0.1
    assert max(len(labels[p].unique()) for p in skewed) < 10
    sizes = torch.tensor([len(p) for p in uniform]).float()
    assert (sizes.max() - sizes.min()) / sizes.mean() < 0.2
    assert all(torch.equal(a, b) for a, b in zip(skewed, dirichlet_partition(labels, 10, alpha=0.05, seed=0)))
