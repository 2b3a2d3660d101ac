"""Soteria scores the representation units as the authors' code does and prunes only the last layer's columns."""

from __future__ import annotations

import torch
from torch import nn

from fedpriv.defenses import Soteria
from fedpriv.defenses.client import ClientStep
from fedpriv.fl.base import batch_gradients
from fedpriv.models import ConvNet, LeNet


def _loop_scores(model, x):
    """The authors' loop: one backward per unit, ||dr_f/dx_n|| / (r_f(x_n) + 0.1), summed over the batch."""
    x = x.clone().requires_grad_(True)
    r = model.body(x)
    scores = torch.zeros(r.shape[1])
    for f in range(r.shape[1]):
        seed = torch.zeros_like(r)
        seed[:, f] = 1
        (g,) = torch.autograd.grad(r, x, seed, retain_graph=True)
        scores[f] = (g.flatten(1).norm(dim=1) / (r[:, f].detach() + 0.1)).sum()
    return scores


def test_scores_and_pruned_columns_follow_the_authors_rule():
    torch.manual_seed(0)
    model = LeNet(in_shape=(1, 16, 16), num_classes=10)  # sigmoid features: r > 0 as in the authors' LeNet
    x, y = torch.randn(3, 1, 16, 16), torch.tensor([1, 4, 7])
    defense = Soteria(p=0.25)
    expected = _loop_scores(model, x)
    units = defense.pruned_units(model, x)
    assert len(units) == int(0.25 * 192)  # 12 channels x 4 x 4 features
    assert set(units.tolist()) == set(torch.argsort(expected)[: len(units)].tolist())

    gradients = batch_gradients(model, x, y)
    shared = defense.defend_update(gradients, ClientStep(model=model, inputs=x, targets=y,
                                                         generator=torch.Generator().manual_seed(0)))
    weight = shared[-2]  # fc.weight, (10, 192)
    zero_columns = (weight == 0).all(0).nonzero().flatten()
    assert set(zero_columns.tolist()) == set(units.tolist())
    assert all(torch.equal(a, b) for a, b in zip(shared[:-2] + shared[-1:], gradients[:-2] + gradients[-1:]))


def test_train_mode_batchnorm_statistics_are_left_alone():
    torch.manual_seed(0)
    model = ConvNet(in_shape=(1, 16, 16), num_classes=10, width=2).train()
    x, y = torch.randn(2, 1, 16, 16), torch.tensor([0, 1])
    gradients = batch_gradients(model, x, y)  # the client's own forward pass updates them once
    before = {k: v.clone() for k, v in model.named_buffers()}
    Soteria(p=0.5).defend_update(gradients, ClientStep(model=model, inputs=x, targets=y, generator=torch.Generator()))
    after = dict(model.named_buffers())
    assert all(torch.equal(before[k], after[k]) for k in before)


def test_the_representation_is_the_input_of_the_last_linear_layer():
    model = nn.Sequential(nn.Flatten(), nn.Linear(16, 8), nn.Tanh(), nn.Linear(8, 3))
    x, y = torch.randn(4, 1, 4, 4), torch.tensor([0, 1, 2, 0])
    shared = Soteria(p=0.5).defend_update(batch_gradients(model, x, y),
                                          ClientStep(model=model, inputs=x, targets=y, generator=torch.Generator()))
    assert int((shared[2] == 0).all(0).sum()) == 4  # half of the 8 tanh units (signed features: |r| is scored)
    assert not (shared[0] == 0).all(0).any()
