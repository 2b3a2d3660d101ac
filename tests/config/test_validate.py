"""Bad input is rejected before any compute, with every problem named by its key."""

from __future__ import annotations

import pytest
from hydra.errors import ConfigCompositionException

from fedpriv.config import ConfigError, config_problems, validate
from fedpriv.trial import run_trial


def test_default_config_is_valid(compose_cfg):
    assert config_problems(compose_cfg()) == []


def test_every_shipped_option_composes_and_validates(compose_cfg, cifar10_root):
    choices = [
        "dataset=imagefolder dataset.root=" + str(cifar10_root),
        "dataset=cifar10 dataset.root=" + str(cifar10_root),
        "model=convnet", "model=resnet18", "model=vgg11", "evaluator=resnet18", "evaluator=vgg11",
        "defense=augment", "defense=dpsgd", "defense=augment_per_class", "defense=dpsgd_trained",
        "defense=seed000_cifar10_table3", "logger=wandb",
        "model=mlp attack=analytic", "attack=imprint fl.batch_size=8", "attack=dlg",
        "attack=gradinversion model=resnet18", "fl=fedavg", "fl=secagg",
    ]
    for choice in choices:
        assert config_problems(compose_cfg(*choice.split())) == [], choice


def test_all_problems_reported_at_once_with_keys_and_allowed_values(compose_cfg):
    cfg = compose_cfg("defense=augment", "defense.op=foo", "defense.magnitude=10", "attack.iterations=0")
    problems = config_problems(cfg)
    assert len(problems) == 3
    op, magnitude, iterations = sorted(problems, key=lambda p: ("op" not in p, "magnitude" not in p))
    assert op.startswith("defense.op='foo'") and "solarize" in op and "translate_y" in op
    assert magnitude.startswith("defense.magnitude=10") and "0 to 9" in magnitude
    assert iterations.startswith("attack.iterations=0")


@pytest.mark.parametrize(
    "overrides, key",
    [
        (["defense=dpsgd", "defense.noise_multiplier=-1"], "defense.noise_multiplier"),
        (["defense=dpsgd", "defense.delta=1.5"], "defense.delta"),
        (["targets.fraction=1.5"], "targets.fraction"),
        (["targets.batching=random"], "targets.batching"),
        (["fl.batch_size=0"], "fl.batch_size"),
        (["model=convnet", "model.activation=swish"], "model.activation"),
        (["dataset=imagefolder", "dataset.root=/no/such/folder"], "dataset.root"),
        (["dataset=cifar10", "dataset.root=/no/such/folder", "dataset.download=false"], "dataset.root"),
        (["dataset=imagefolder"], "dataset.root"),
        (["+defense.strength=3"], "defense.strength"),
        (["+dataset.foo=1"], "dataset.foo"),
        (["+dataset.subset_seed=abc"], "dataset.subset_seed"),
        (["attack=imprint", "+attack.tv_weight=0.1"], "attack.tv_weight"),
        (["+model.in_shape=[3,32,32]"], "model.in_shape"),
        (["defense=augment_per_class", "+defense.policy.cat={op:blur,magnitude:3}"], "defense.policy.cat.op"),
    ],
)
def test_bad_value_names_its_key(compose_cfg, overrides, key):
    with pytest.raises(ConfigError) as err:
        validate(compose_cfg(*overrides))
    assert key in str(err.value)


def test_wrong_type_or_unknown_key_fails_while_composing(compose_cfg):
    with pytest.raises(ConfigCompositionException) as err:
        compose_cfg("seed=abc")
    assert "seed" in str(err.value.__cause__ or err.value)
    with pytest.raises(ConfigCompositionException) as err:
        compose_cfg("defense.magnitdue=3")
    assert "magnitdue" in str(err.value.__cause__ or err.value)


def test_run_trial_rejects_bad_config_before_loading_data(compose_cfg, tmp_path, monkeypatch):
    import fedpriv.data.sources as sources

    def fail(*args, **kwargs):
        raise AssertionError("data was loaded for an invalid config")

    monkeypatch.setattr(sources.Digits, "load", fail)
    with pytest.raises(ConfigError):
        run_trial(compose_cfg("defense=augment", "defense.magnitude=10"), output_dir=tmp_path)
    assert not any(tmp_path.iterdir())
