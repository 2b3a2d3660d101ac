"""docs/extending.md works as written: its defense, attack, yaml files and tests, run from the page itself."""

from __future__ import annotations

import re
import shutil
import sys
import types

import pytest

import tests.conftest
from fedpriv.config.validate import config_problems
from tests.conftest import CONF, REPO

PAGE = REPO / "docs" / "extending.md"
BLOCK = re.compile(r"```(python|yaml)\n# (\S+)\n(.*?)```", re.DOTALL)


def page_files() -> dict[str, str]:
    """Every code block of the page whose first line names a file: path -> contents."""
    return {path: body for _, path, body in BLOCK.findall(PAGE.read_text())}


@pytest.fixture
def extended(tmp_path, monkeypatch):
    """The page's modules importable under their documented names and its yaml files in a copy of conf/."""
    files = page_files()
    conf = tmp_path / "conf"
    shutil.copytree(CONF, conf)
    for path, body in files.items():
        if path.startswith("conf/"):
            (tmp_path / path).write_text(body)
    tests_ns = {}
    for path, body in files.items():
        if not path.endswith(".py"):
            continue
        name = path[:-3].replace("/", ".")
        module = types.ModuleType(name)
        module.__file__ = str(tmp_path / path)
        monkeypatch.setitem(sys.modules, name, module)
        if not path.startswith("tests/"):
            exec(compile(body, path, "exec"), module.__dict__)
        else:
            tests_ns[path] = (body, module)
    monkeypatch.setattr(tests.conftest, "CONF", conf)  # compose_config reads it when called
    return files, tests_ns


def test_the_page_has_a_defense_an_attack_their_yaml_and_tests():
    assert set(page_files()) == {
        "fedpriv/defenses/gradient_pruning.py", "conf/defense/gradient_pruning.yaml",
        "fedpriv/attacks/public_mean.py", "conf/attack/public_mean.yaml",
        "tests/defenses/test_gradient_pruning.py", "tests/attacks/test_public_mean.py"}


def _run_page_tests(tests_ns, path, **fixtures) -> list[str]:
    body, module = tests_ns[path]
    exec(compile(body, path, "exec"), module.__dict__)
    ran = []
    for name, function in vars(module).items():
        if name.startswith("test_"):
            wanted = function.__code__.co_varnames[:function.__code__.co_argcount]
            function(**{k: fixtures[k] for k in wanted})
            ran.append(name)
    return ran


def test_the_page_components_validate_and_their_unit_test_passes(extended, compose_cfg):
    _, tests_ns = extended
    problems = config_problems(compose_cfg("defense=gradient_pruning", "defense.ratio=1", "defense.scope=all"))
    assert problems == ["defense.ratio=1 is out of range; allowed: [0, 1)",
                        "defense.scope='all' is not allowed; allowed values: layer, global"]
    assert config_problems(compose_cfg("attack=public_mean", "attack.images=0")) == [
        "attack.images=0 is out of range; allowed: >= 1"]
    from fedpriv.sweeping.folders import trial_dirname

    assert trial_dirname(compose_cfg("defense=gradient_pruning", "defense.ratio=0.5")).startswith(
        "trial-gradient_pruning-pr0.5-")
    # Stacked with another defense: the keys split between the two, the stack named after both.
    from fedpriv.defenses import build_defense

    stacked = compose_cfg("defense=[augment,gradient_pruning]", "defense.ratio=0.5", "defense.op=invert")
    assert config_problems(stacked) == []
    defense = build_defense(stacked.defense)
    assert defense.name == "augment+gradient_pruning"
    assert defense.describe() == {"op": "invert", "magnitude": 5, "prune_ratio": 0.5}
    ran = _run_page_tests(tests_ns, "tests/defenses/test_gradient_pruning.py")
    assert ran == ["test_pruning_keeps_only_the_largest_entries"]


@pytest.mark.slow
def test_the_page_trial_runs(extended, compose_cfg, tmp_path):
    _, tests_ns = extended
    ran = _run_page_tests(tests_ns, "tests/attacks/test_public_mean.py", compose_cfg=compose_cfg, tmp_path=tmp_path)
    assert ran == ["test_public_mean_is_the_same_image_for_everyone"]
