"""The fl configs: every option composes and validates, bad values name their key, yaml matches the signatures."""

from __future__ import annotations

import inspect

import pytest
import yaml
from hydra.utils import get_class

from fedpriv.config import ConfigError, config_problems, validate
from tests.conftest import CONF

FL_CONFIGS = sorted(p.stem for p in (CONF / "fl").glob("*.yaml"))


def test_every_fl_option_composes_and_validates(compose_cfg):
    assert {"fedsgd", "fedavg", "secagg"} <= set(FL_CONFIGS)
    for name in FL_CONFIGS:
        # Split learning shares activations, which only the activation attacks read.
        attack = ["attack=decoder", "model=lenet5"] if name == "split" else []
        assert config_problems(compose_cfg(f"fl={name}", *attack)) == [], name
        assert config_problems(compose_cfg(f"fl={name}", "fl.rounds=5", "fl.partition=shards", *attack)) == [], name


@pytest.mark.parametrize("name", FL_CONFIGS)
def test_yaml_lists_every_key_with_the_constructor_default(name):
    """The yaml documents the protocol; it must not drift from the defaults in code."""
    node = yaml.safe_load((CONF / "fl" / f"{name}.yaml").read_text())
    target = get_class(node.pop("_target_"))
    defaults = {}
    for cls in reversed(target.__mro__):
        init = cls.__dict__.get("__init__")
        if init is not None and cls is not object:
            defaults.update({k: p.default for k, p in inspect.signature(init).parameters.items()
                             if p.default is not inspect.Parameter.empty})
    assert node == defaults
    assert target.name == name


@pytest.mark.parametrize(
    "overrides, key",
    [
        (["fl=secagg", "fl.clients=0"], "fl.clients"),
        (["fl.partition=foo"], "fl.partition"),
        (["fl=fedavg", "fl.local_epochs=0"], "fl.local_epochs"),
        (["fl=fedavg", "fl.local_lr=0"], "fl.local_lr"),
        (["fl=fedavg", "fl.batch_size=2", "fl.local_batch_size=4"], "fl.local_batch_size"),
        (["fl.rounds=-1"], "fl.rounds"),
        (["fl.rounds=3", "fl.num_clients=4", "fl.clients_per_round=5"], "fl.clients_per_round"),
        (["fl=fedavg", "fl.alpha=0"], "fl.alpha"),
        (["fl=secagg", "+fl.local_steps=3"], "fl.local_steps"),
    ],
)
def test_bad_fl_value_names_its_key(compose_cfg, overrides, key):
    with pytest.raises(ConfigError) as err:
        validate(compose_cfg(*overrides))
    assert key in str(err.value)
