"""The MLP takes any dataset's shape and starts with a fully connected layer on the flattened image."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from fedpriv.config import ConfigError, config_problems, validate
from fedpriv.models import MLP


@pytest.mark.parametrize("shape", [(3, 32, 32), (1, 28, 28), (1, 16, 16)])
def test_mlp_fits_the_dataset_shape_with_a_linear_first_layer(shape):
    model = MLP(in_shape=shape, num_classes=7, hidden=32, depth=3, activation="tanh")
    assert model(torch.randn(2, *shape)).shape == (2, 7)
    linear = [m for m in model.modules() if isinstance(m, nn.Linear)]
    assert linear[0].in_features == shape[0] * shape[1] * shape[2]
    assert [m.out_features for m in linear] == [32, 32, 32, 7]  # three hidden layers, then the classifier
    assert sum(isinstance(m, nn.Tanh) for m in model.modules()) == 3


def test_mlp_is_a_config_option_with_checked_keys(compose_cfg):
    assert config_problems(compose_cfg("model=mlp", "model.hidden=64", "model.activation=sigmoid")) == []
    with pytest.raises(ConfigError) as err:
        validate(compose_cfg("model=mlp", "model.depth=0", "model.activation=swish"))
    assert "model.depth=0" in str(err.value) and "model.activation='swish'" in str(err.value)
