"""The attacker's replica of each protocol (``simulate``) reproduces what the client shares, also under vmap.

Update inversion is only sound when the simulated update of the true images equals the shared one; these tests
check that on real digits for every protocol, for a stack of problems evaluated with ``torch.func.vmap`` as the
attack engine does.
"""

from __future__ import annotations


import pytest
import torch
from torch.func import vmap

from fedpriv.data import Digits
from fedpriv.defenses import DPSGD, NoDefense, UpdateDefense
from fedpriv.fl import FedAvg, FedSGD, SecureAggregation
from fedpriv.models import LeNet

PROBLEMS, BATCH = 3, 4


@pytest.fixture(scope="module")
def digits():
    return Digits().load()


@pytest.fixture(scope="module")
def lenet(digits):
    torch.manual_seed(0)
    return LeNet(in_shape=digits.shape, num_classes=digits.num_classes).eval()


def _functional(model):
    return ({k: v.detach() for k, v in model.named_parameters()}, {k: v.detach() for k, v in model.named_buffers()})


def _pool(digits, n=64):
    """Other clients' images for aggregating protocols: a fixed slice of the training split, so the test knows them."""
    x, y = digits.normalize(digits.train.images[:n]), digits.train.labels[:n]
    return x, y, (lambda count, generator: (x[:count], y[:count]))


@pytest.mark.parametrize("protocol", [
    FedSGD(batch_size=BATCH),
    FedAvg(batch_size=BATCH, local_epochs=3, local_lr=0.1, local_batch_size=2),
    FedAvg(batch_size=BATCH, local_epochs=2, local_lr=0.5, local_batch_size=3),  # a short last mini-batch
    SecureAggregation(batch_size=BATCH, clients=3),
], ids=["fedsgd", "fedavg", "fedavg-uneven", "secagg"])
def test_simulate_reproduces_the_shared_update_under_vmap(digits, lenet, protocol):
    pool_x, pool_y, population = _pool(digits)
    index = torch.arange(PROBLEMS * BATCH) * 7  # mixed classes
    x = digits.normalize(digits.test.images[index]).view(PROBLEMS, BATCH, *digits.shape)
    y = digits.test.labels[index].view(PROBLEMS, BATCH)
    updates = [protocol.shared_update(lenet, x[i], y[i],
                                      population=population, generator=torch.Generator()) for i in range(PROBLEMS)]
    others = protocol.reconstruct_size - BATCH  # the aggregate's other clients' images, in the order drawn
    full_x = torch.stack([torch.cat([x[i], pool_x[:others]]) for i in range(PROBLEMS)])
    full_y = torch.stack([torch.cat([y[i], pool_y[:others]]) for i in range(PROBLEMS)])
    assert full_x.shape[1] == protocol.reconstruct_size

    params, buffers = _functional(lenet)
    simulated = vmap(lambda xi, yi: protocol.simulate(lenet, params, buffers, xi, yi))(full_x, full_y)
    for i, update in enumerate(updates):
        assert update.batch_size == protocol.reconstruct_size
        assert len(update.gradients) == len(simulated) == len(list(lenet.parameters()))
        for shared, replica in zip(update.gradients, simulated):
            assert torch.allclose(replica[i], shared, rtol=1e-4, atol=1e-5 * shared.abs().max())
        # Different images give clearly different updates, so the agreement above is not trivial.
    assert not torch.allclose(updates[0].gradients[-1], updates[1].gradients[-1], atol=1e-4)


def test_fedavg_update_is_a_weight_difference_with_gradient_sign(digits, lenet):
    x, y = digits.normalize(digits.test.images[:2]), digits.test.labels[:2]
    gradient = FedSGD(batch_size=2).shared_update(lenet, x, y).gradients
    one_step = FedAvg(batch_size=2, local_epochs=1, local_lr=0.1).shared_update(lenet, x, y)
    assert one_step.kind == "weight_difference" and one_step.info == {"local_steps": 1, "local_lr": 0.1}
    for g, d in zip(gradient, one_step.gradients):
        assert torch.allclose(d, 0.1 * g, atol=1e-7)
    protocol = FedAvg(batch_size=2, local_epochs=5, local_lr=0.01, local_batch_size=1)
    update = protocol.shared_update(lenet, x, y)
    assert update.info["local_steps"] == 10
    # The gradient equivalent is the mean step gradient: close to the FedSGD gradient while the model moves little.
    equivalent = torch.cat([g.flatten() for g in protocol.gradient_equivalent(update)])
    fedsgd = torch.cat([g.flatten() for g in gradient])
    assert torch.nn.functional.cosine_similarity(equivalent, fedsgd, dim=0) > 0.9
    assert 0.5 < equivalent.norm() / fedsgd.norm() < 2
    assert all(p.grad is None for p in lenet.parameters())  # the client trained a copy, not the server's model


def test_fedavg_applies_the_defense_to_every_local_step(digits, lenet):
    x, y = digits.normalize(digits.test.images[:2]), digits.test.labels[:2]
    calls = []

    class Counting(NoDefense):
        def defend_update(self, gradients, step):
            calls.append((step.per_sample()[0].shape[0], step.model is not lenet, step.purpose))
            return gradients

    FedAvg(batch_size=2, local_epochs=3, local_batch_size=1).shared_update(lenet, x, y, defense=UpdateDefense(Counting()))
    # Six local steps of one image, each defended on the client's own copy with its own per-example gradients.
    assert calls == [(1, True, "update")] * 6
    torch.manual_seed(0)
    noisy = FedAvg(batch_size=2, local_epochs=3).shared_update(
        lenet, x, y, defense=UpdateDefense(DPSGD(noise_multiplier=1.0), torch.Generator().manual_seed(0)))
    clean = FedAvg(batch_size=2, local_epochs=3).shared_update(lenet, x, y)
    assert not torch.allclose(noisy.gradients[0], clean.gradients[0], atol=1e-3)


def test_secure_aggregate_averages_all_clients_and_hands_over_their_labels(digits, lenet):
    pool_x, pool_y, population = _pool(digits)
    x, y = digits.normalize(digits.test.images[:2]), digits.test.labels[:2]
    update = SecureAggregation(batch_size=2, clients=4).shared_update(lenet, x, y, population=population,
                                                                       generator=None)
    assert update.kind == "aggregate" and update.batch_size == 8 and update.info["clients"] == 4
    assert torch.equal(update.labels, torch.cat([y, pool_y[:6]]))
    alone = FedSGD(batch_size=2).shared_update(lenet, x, y)
    own = torch.cat([g.flatten() for g in alone.gradients])
    seen = torch.cat([g.flatten() for g in update.gradients])
    assert not torch.allclose(own, seen, atol=1e-4)  # the server never sees the target's own gradient
    with pytest.raises(ValueError, match="population"):
        SecureAggregation(clients=2).shared_update(lenet, x[:1], y[:1])


@pytest.mark.parametrize("protocol", [
    FedSGD(batch_size=BATCH), FedAvg(batch_size=BATCH, local_epochs=2, local_lr=0.1, local_batch_size=2),
], ids=["fedsgd", "fedavg"])
def test_soft_targets_are_shared_and_simulated_alike(digits, lenet, protocol):
    # Mixup-like defenses train on class probabilities; the replica must take them as the client did.
    index = torch.arange(BATCH) * 11
    x = digits.normalize(digits.test.images[index])
    hard = digits.test.labels[index]
    soft = 0.6 * torch.nn.functional.one_hot(hard, 10).float() + 0.4 * torch.nn.functional.one_hot(hard.roll(1), 10)
    shared = protocol.shared_update(lenet, x, soft)
    params, buffers = _functional(lenet)
    simulated = protocol.simulate(lenet, params, buffers, x, soft)
    for g, s in zip(shared.gradients, simulated):
        assert torch.allclose(s, g, rtol=1e-4, atol=1e-5 * g.abs().max())
    as_hard = protocol.shared_update(lenet, x, hard)
    assert not torch.allclose(as_hard.gradients[-2], shared.gradients[-2], atol=1e-4)  # the mixing shows
