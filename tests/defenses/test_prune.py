"""Gradient pruning zeroes exactly the smallest entries of each tensor and tells the attacker which it kept."""

from __future__ import annotations

import pytest
import torch

from fedpriv.defenses import Prune
from fedpriv.defenses.prune import prune_smallest


@pytest.mark.parametrize("p", [0.3, 0.7, 0.9, 0.99])
def test_each_tensor_keeps_its_largest_entries(p):
    g = torch.randn(50, 20, generator=torch.Generator().manual_seed(0))
    pruned = prune_smallest(g, p)
    kept = pruned != 0
    assert int((~kept).sum()) == int(p * g.numel() + 1e-6)
    assert torch.equal(pruned[kept], g[kept])  # survivors are shared unchanged
    assert g[kept].abs().min() >= g[~kept].abs().max()


def test_update_is_pruned_per_tensor_and_the_mask_is_its_non_zeros():
    generator = torch.Generator().manual_seed(1)
    # Tensors of very different scales: a global threshold would wipe out the small one.
    update = [torch.randn(100, generator=generator) * 1e-4, torch.randn(10, 10, generator=generator)]
    defense = Prune(p=0.7)
    shared = defense.defend_update(update, None)
    assert [int((s != 0).sum()) for s in shared] == [30, 30]
    knowledge = defense.knowledge(shared)
    assert knowledge.name == "prune" and knowledge.params == {"p": 0.7}
    assert all(torch.equal(m, s != 0) for m, s in zip(knowledge.mask, shared))


def test_nothing_or_everything():
    g = torch.randn(7, 3)
    assert torch.equal(prune_smallest(g, 0.0), g)
    assert not prune_smallest(g, 1.0).any()
    assert prune_smallest(torch.tensor([3.0]), 0.99).item() == 3.0  # a single entry survives p < 1
