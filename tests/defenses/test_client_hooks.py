"""The same two hooks run wherever a client computes: training the utility classifier and the FedAvg rounds
before the attack (the attacked update is covered by the protocol and trial tests)."""

from __future__ import annotations

import copy

import pytest
import torch
from omegaconf import OmegaConf

from fedpriv.data import Digits
from fedpriv.defenses import DPSGD, Defense, NoDefense
from fedpriv.fl import FederatedRun, train_fedavg
from fedpriv.models import LeNet
from fedpriv.training import train_classifier

CPU = torch.device("cpu")
TRAINING = OmegaConf.create({"batch_size": 64, "optimizer": "adam", "lr": 0.01, "momentum": 0.9, "weight_decay": 0.0})


@pytest.fixture(scope="module")
def small():
    data = Digits().load()
    data.train = data.train.subset(torch.arange(256))
    data.test = data.test.subset(torch.arange(64))
    return data


def _lenet(data):
    torch.manual_seed(0)
    return LeNet(in_shape=data.shape, num_classes=10, activation="relu", init="default")


class Recording(Defense):
    """Changes nothing, but records where each hook ran and what it was given."""

    name = "recording"

    def __init__(self, *, train_on_defended=False, update_in_training=False, zero=False, soften=False):
        self.train_on_defended, self.update_in_training = train_on_defended, update_in_training
        self.zero, self.soften = zero, soften
        self.batches, self.steps, self.losses = [], [], []

    def defend_batch(self, batch, context):
        others = context.other_data(3, context.generator) if context.other_data else None
        self.batches.append((context.purpose, context.epoch, None if others is None else others[0].shape[0]))
        if self.soften:  # label smoothing: soft targets, as Mixup and InstaHide produce
            return batch.with_(targets=0.9 * batch.probabilities(context.num_classes) + 0.01)
        return batch

    def defend_update(self, gradients, step):
        self.steps.append(step.purpose)
        return [torch.zeros_like(g) for g in gradients] if self.zero else gradients

    def training_loss(self, model, outputs, targets):
        self.losses.append(tuple(targets.shape))
        return None


def test_the_update_side_acts_on_each_training_step_only_when_asked(small):
    frozen, net = Recording(update_in_training=True, zero=True), _lenet(small)
    before = copy.deepcopy(net.state_dict())
    train_classifier(net, small, TRAINING, frozen, epochs=1, seed=0, device=CPU, progress=False)
    assert frozen.steps == ["training"] * 4  # 256 images in batches of 64
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())  # zeroed steps moved nothing
    idle, net = Recording(zero=True), _lenet(small)
    train_classifier(net, small, TRAINING, idle, epochs=1, seed=0, device=CPU, progress=False)
    assert idle.steps == [] and not all(torch.equal(before[k], v) for k, v in net.state_dict().items())


def test_training_on_defended_batches_takes_soft_targets_and_the_epoch(small):
    soft = Recording(train_on_defended=True, soften=True)
    result = train_classifier(_lenet(small), small, TRAINING, soft, epochs=2, seed=0, device=CPU, progress=False)
    assert [(p, e) for p, e, _ in soft.batches] == [("training", 0)] * 4 + [("training", 1)] * 4
    assert {n for _, _, n in soft.batches} == {3}  # the client's other training images are at hand
    assert set(soft.losses) == {(64, 10)}  # the loss saw the soft targets
    assert result.test_accuracy > 0.3  # smoothed targets still teach the classes
    untouched = Recording()
    train_classifier(_lenet(small), small, TRAINING, untouched, epochs=1, seed=0, device=CPU, progress=False)
    assert untouched.batches == [] and set(untouched.losses) == {(64,)}


def test_every_round_client_runs_both_sides_and_an_idle_defense_changes_nothing(small):
    run = FederatedRun(rounds=1, num_clients=4, clients_per_round=1, round_batch_size=32)  # 2 steps of 32 images
    baseline, recorded = _lenet(small), _lenet(small)
    train_fedavg(baseline, small, run, seed=0, device=CPU)
    recording = Recording()
    train_fedavg(recorded, small, run, seed=0, device=CPU, defense=recording)
    assert [(p, n) for p, _, n in recording.batches] == [("round", 3)] * 2  # other data: the client's own
    assert recording.steps == ["round"] * 2
    assert all(torch.equal(a, b) for a, b in zip(baseline.state_dict().values(), recorded.state_dict().values()))


def test_dpsgd_round_clients_clip_and_noise_every_local_step(small):
    run = FederatedRun(rounds=1, num_clients=4, clients_per_round=1, round_batch_size=32)
    # DP-SGD clients clip each example's gradient of each local step (to almost nothing here) and add noise.
    start = DPSGD().adapt_model(_lenet(small))
    moved = {}
    for name, defense in [("clean", NoDefense()), ("clipped", DPSGD(noise_multiplier=0.0, max_grad_norm=1e-4)),
                          ("noisy", DPSGD(noise_multiplier=100.0))]:
        model = copy.deepcopy(start)
        train_fedavg(model, small, run, seed=0, device=CPU, defense=defense)
        moved[name] = max(float((a - b).abs().max()) for a, b in zip(model.state_dict().values(),
                                                                     start.state_dict().values()))
    assert moved["clipped"] < 1e-4 < 1e-3 < moved["clean"] < moved["noisy"] / 10
