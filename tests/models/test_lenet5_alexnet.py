"""Seed 004's victims: LeNet-5 and a small AlexNet, each knob a checked config key."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from fedpriv.config import ConfigError, config_problems, validate
from fedpriv.models import AlexNetSmall, LeNet5


def _kinds(model):
    return [type(m).__name__ for m in model.modules()]


@pytest.mark.parametrize("cls", [LeNet5, AlexNetSmall])
@pytest.mark.parametrize("shape", [(3, 32, 32), (1, 28, 28), (1, 16, 16)])
def test_fits_the_dataset_shape(cls, shape):
    model = cls(in_shape=shape, num_classes=7, conv_width=4, fc_width=8)
    assert model(torch.randn(2, *shape)).shape == (2, 7)


def test_lenet5_has_two_conv_pool_stages_and_two_hidden_layers_of_the_given_widths():
    model = LeNet5(in_shape=(1, 28, 28), num_classes=10, conv_width=16, fc_width=32, activation="tanh",
                   pooling="avg")
    convs = [m for m in model.modules() if isinstance(m, nn.Conv2d)]
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    assert [c.out_channels for c in convs] == [16, 16]
    assert [l.out_features for l in linears] == [32, 32, 10]
    assert linears[0].in_features == 16 * 5 * 5  # LeNet-5's 5x5 maps at 28x28
    kinds = _kinds(model)
    assert kinds.count("AvgPool2d") == 2 and "MaxPool2d" not in kinds and kinds.count("Tanh") == 4


def test_widths_change_the_parameter_count():
    count = lambda m: sum(p.numel() for p in m.parameters())
    small = LeNet5(in_shape=(3, 32, 32), num_classes=10, conv_width=16, fc_width=16)
    assert count(LeNet5(in_shape=(3, 32, 32), num_classes=10, conv_width=64, fc_width=16)) > count(small)
    assert count(LeNet5(in_shape=(3, 32, 32), num_classes=10, conv_width=16, fc_width=256)) > count(small)


def test_alexnet_small_is_deeper_with_alexnet_channel_ratios():
    model = AlexNetSmall(in_shape=(3, 32, 32), num_classes=10, conv_width=8, fc_width=32, pooling="avg",
                         activation="sigmoid")
    assert [c.out_channels for c in model.modules() if isinstance(c, nn.Conv2d)] == [8, 24, 48, 32, 32]
    assert _kinds(model).count("AvgPool2d") == 3 and _kinds(model).count("Sigmoid") == 7
    assert model.classifier[0].in_features == 32 * 4 * 4


def test_dlg_initialisation_is_the_default_and_can_be_turned_off():
    uniform = torch.cat([p.flatten() for p in LeNet5(in_shape=(1, 16, 16), num_classes=10).parameters()])
    assert uniform.abs().max() <= 0.5 and uniform.std() > 0.25
    default = torch.cat([p.flatten() for p in LeNet5(in_shape=(1, 16, 16), num_classes=10, init="default").parameters()])
    assert default.std() < 0.1


@pytest.mark.parametrize("name", ["lenet5", "alexnet_small"])
def test_knobs_are_checked_config_keys(compose_cfg, name):
    good = compose_cfg(f"model={name}", "model.conv_width=16", "model.fc_width=128", "model.activation=tanh",
                       "model.pooling=avg")
    assert config_problems(good) == []
    with pytest.raises(ConfigError) as err:
        validate(compose_cfg(f"model={name}", "model.conv_width=0", "model.pooling=median",
                             "model.activation=swish"))
    message = str(err.value)
    assert "model.conv_width=0" in message and "model.pooling='median'" in message
    assert "model.activation='swish'" in message
