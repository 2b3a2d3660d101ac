import pytest
import torch

from fedpriv.config import ConfigError
from fedpriv.data import make_batches, resolve_classes, select_targets

LABELS = torch.arange(10).repeat_interleave(20)  # 20 images per class


def test_per_class_count_and_fraction():
    picked = select_targets(LABELS, list(range(10)), per_class=3, fraction=None, seed=0)
    assert torch.bincount(LABELS[picked]).tolist() == [3] * 10
    picked = select_targets(LABELS, list(range(10)), per_class=1, fraction=0.3, seed=0)  # seed 000: 30% per label
    assert torch.bincount(LABELS[picked]).tolist() == [6] * 10


def test_targets_are_seeded():
    a = select_targets(LABELS, [0, 1], per_class=5, fraction=None, seed=1)
    b = select_targets(LABELS, [0, 1], per_class=5, fraction=None, seed=1)
    c = select_targets(LABELS, [0, 1], per_class=5, fraction=None, seed=2)
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_class_filter_by_name_or_index():
    classes = ["cat", "dog", "frog"]
    assert resolve_classes(["dog", "2"], classes) == [1, 2]
    with pytest.raises(ConfigError) as err:
        resolve_classes(["horse"], classes)
    assert "targets.classes" in str(err.value) and "cat, dog, frog" in str(err.value)


def test_batches_stay_within_a_class_or_mix():
    picked = select_targets(LABELS, [0, 1, 2], per_class=5, fraction=None, seed=0)
    by_class = make_batches(picked, LABELS, batch_size=4, batching="by_class", seed=0)
    assert all(len(LABELS[b].unique()) == 1 for b in by_class)
    assert sorted(torch.cat(by_class).tolist()) == sorted(picked.tolist())
    mixed = make_batches(picked, LABELS, batch_size=5, batching="shuffled", seed=0)
    assert any(len(LABELS[b].unique()) > 1 for b in mixed)
