"""The command line's overrides are checked before Hydra composes them: every problem at once, each naming the key
and what is allowed (the command-line runs of the same checks are in tests/test_cli_errors.py)."""

from __future__ import annotations

import pytest

from fedpriv.config.overrides import override_problems, split_command_line
from tests.conftest import CONF


def _problems(*overrides: str, multirun: bool = False) -> list[str]:
    return override_problems(["metrics.lpips.download=false", *overrides], CONF, multirun=multirun)


def test_a_clean_command_has_no_problems():
    assert _problems("defense=augment", "defense.magnitude=3", "attack=dlg", "attack.restarts=2") == []
    assert _problems("defense=augment,dpsgd", "seed=0,1", multirun=True) == []


def test_hydra_type_errors_unknown_keys_and_value_problems_come_together():
    problems = _problems("training.lr=abc", "targets.per_clas=2", "attack.lr=abc", "defense=augment",
                         "defense.op=blur", "+training.foo=1")
    assert len(problems) == 5, problems
    assert problems[0].startswith("training.lr=abc") and "Float" in problems[0]
    assert problems[1] == ("targets.per_clas=2: unknown key for targets (did you mean per_class?); allowed keys: "
                           "per_class, fraction, classes, batching, sensitive")
    assert any(p.startswith("attack.lr='abc' has the wrong type; expected a number") for p in problems)
    assert any(p.startswith("defense.op='blur' is not allowed") and "solarize" in p for p in problems)
    assert any(p.startswith("training.foo: unknown key") and "weight_decay" in p for p in problems)


def test_group_options_and_keys_of_other_options():
    problems = _problems("model=lenett", "experiment=_seed000", "fl.local_epochs=2")
    assert problems[0].startswith("model=lenett: no such model option (did you mean lenet?)")
    assert problems[1].startswith("experiment=_seed000: an internal base") and "seed000_cifar10_small" in problems[1]
    assert "_laptop" not in problems[1]
    assert problems[2].startswith("fl.local_epochs=2: unknown key for fl=fedsgd") and "fedavg" in problems[2]


def test_key_declared_by_the_component_but_not_in_its_yaml_says_to_add_it():
    (problem,) = _problems("dataset.train_per_class=5")  # Digits takes it from ImageDataset; digits.yaml omits it
    assert problem == ("dataset.train_per_class=5: dataset.train_per_class is not in dataset=digits's yaml; add it "
                       "with a +: +dataset.train_per_class=5")
    assert _problems("+dataset.train_per_class=5") == []


def test_sweeps_need_multirun_and_each_value_is_checked():
    (problem,) = _problems("seed=1,2")
    assert "add -m" in problem
    problems = _problems("defense=augment", "defense.magnitude=3,10", "training.epochs=1,x", multirun=True)
    assert any(p.startswith("training.epochs=x") for p in problems)
    assert any(p.startswith("defense.magnitude=10 is out of range") for p in problems), problems


def test_only_plain_commands_are_checked():
    assert split_command_line(["-m", "seed=1,2"]) == (["seed=1,2"], True)
    assert split_command_line(["--cfg", "job", "experiment=_laptop"]) is None


@pytest.mark.parametrize("typed", ["defence=augment", "+defence=augment", "++defence=augment"])
def test_a_misspelt_group_is_not_added_as_a_new_key(typed):
    (problem,) = _problems(typed)
    assert problem.startswith(f"{typed}: fedpriv has no config group or key 'defence' (did you mean defense=augment?)")


def test_a_list_of_defenses_is_checked_option_by_option_and_key_by_key():
    assert _problems("defense=[augment,dpsgd]", "defense.op=invert", "defense.noise_multiplier=1.0") == []
    assert _problems("defense=[augment,dpsgd],none", "seed=0,1", multirun=True) == []
    problems = _problems("defense=[augment,dpsgx]")
    assert problems == [problems[0]] and problems[0].startswith(
        "defense=dpsgx: no such defense option (did you mean dpsgd?)")
    problems = _problems("defense=[augment,dpsgd]", "defense.ops=invert")
    assert len(problems) == 1 and problems[0].startswith("defense.ops=invert: unknown key for defense (did you "
                                                         "mean op?); allowed keys: op, magnitude")
    assert "noise_multiplier" in problems[0]  # the keys of both members are offered
    problems = _problems("defense=[augment,augment_per_class]")
    assert any(p.startswith("defense.random_sign: taken by both augment") for p in problems)
