"""PRECODE: a variational bottleneck before the classifier, trained with a KL term, sampling reproducibly."""

from __future__ import annotations

import copy
import math

import torch
import torch.nn.functional as F

from fedpriv.defenses import Precode
from fedpriv.defenses.precode import VariationalBottleneck
from fedpriv.models import ConvNet, LeNet
from tests.defenses.leakage import digits


def _model(seed=0, defense=None):
    torch.manual_seed(seed)
    net = LeNet(in_shape=(1, 16, 16), num_classes=10, activation="relu", init="default")
    return (defense or Precode(bottleneck=32)).adapt_model(net)


def test_bottleneck_sits_before_the_last_linear_layer():
    torch.manual_seed(0)
    plain = ConvNet(in_shape=(3, 32, 32), num_classes=10, width=4)
    head = plain.classifier
    model = Precode(bottleneck=16).adapt_model(plain)
    bottleneck, classifier = model.classifier
    assert isinstance(bottleneck, VariationalBottleneck) and classifier is head
    assert bottleneck.encoder.out_features == 32 and bottleneck.decoder.out_features == head.in_features
    assert list(model.parameters())[-2:] == [head.weight, head.bias]  # label inference still reads the head
    assert model(torch.randn(2, 3, 32, 32)).shape == (2, 10)
    assert Precode().adapt_model(model) is model and sum(isinstance(m, VariationalBottleneck)
                                                         for m in model.modules()) == 1


def test_sampling_is_reproducible_and_leaves_the_global_rng_alone():
    x = torch.randn(4, 1, 16, 16)
    a, b, other = _model(0), _model(0), _model(1)
    state = torch.get_rng_state()
    outputs = [a(x), a(x)]
    assert torch.equal(torch.get_rng_state(), state)
    assert not torch.equal(outputs[0], outputs[1])  # each forward draws fresh noise ...
    assert torch.equal(b(x), outputs[0]) and torch.equal(b(x), outputs[1])  # ... in the same sequence
    assert not torch.equal(other(x), outputs[0])  # another seed, another bottleneck and noise
    # A model trained for a while and a fresh one agree once both are switched to the mode they are used in.
    for _ in range(3):
        a(x)
    assert torch.equal(a.eval()(x), b.eval()(x))
    assert torch.equal(a.train()(x), b.train()(x))
    copy.deepcopy(a)  # the stored KL term does not block copies (FedAvg clients, attacks in train mode)


def test_trains_with_a_finite_kl_term_and_learns_digits():
    data = digits()
    defense = Precode(bottleneck=32)
    model = _model(0, defense)
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    x_all, y_all = data.normalize(data.train.images), data.train.labels
    order = torch.randperm(len(y_all), generator=torch.Generator().manual_seed(0))
    kls = []
    for epoch in range(3):
        for batch in order.split(64):
            out = model(x_all[batch])
            extra = defense.training_loss(model, out, y_all[batch])
            assert extra is not None and math.isfinite(extra.item()) and extra.item() >= 0
            kls.append(extra.item())
            optimizer.zero_grad()
            (F.cross_entropy(out, y_all[batch]) + extra).backward()
            optimizer.step()
    model.eval()
    with torch.no_grad():
        accuracy = (model(data.normalize(data.test.images)).argmax(1) == data.test.labels).float().mean().item()
    assert accuracy > 0.7, accuracy  # ten classes: chance is 0.1
    assert defense.training_loss(LeNet(in_shape=(1, 16, 16), num_classes=10), None, None) is None
