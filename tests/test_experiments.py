"""Every experiment preset composes, validates and (the laptop-scale ones) runs one tiny trial on real data."""

from __future__ import annotations

from pathlib import Path

import pytest

from fedpriv.config import config_problems
from fedpriv.record import read_results
from fedpriv.trial import run_trial
from tests.conftest import CONF

PRESETS = sorted(p.stem for p in (CONF / "experiment").glob("*.yaml") if not p.stem.startswith("_"))
# Seed 000/001's CIFAR grids and their laptop variants; seed 002's MNIST presets: tests/test_seed002_presets.py.
CIFAR_PRESETS = [p for p in PRESETS if not p.startswith(("seed002", "seed004"))]  # seed 004's: test_seed004_presets
TINY = ["attack.iterations=2", "attack.parallel=2", "targets.classes=[0,1]", "dataset.train_per_class=4",
        "dataset.test_per_class=2", "training.epochs=1", "evaluator.training.epochs=1", "record.grid=false"]


def test_presets_are_there():
    for grid in ("seed000_cifar10", "seed000_cifar100", "seed001_cifar10"):
        assert {grid, f"{grid}_dp", f"{grid}_small", f"{grid}_dp_small"} <= set(PRESETS)


@pytest.mark.parametrize("preset", CIFAR_PRESETS)
def test_preset_composes_and_validates(compose_cfg, cifar10_root, preset):
    cfg = compose_cfg(f"experiment={preset}", f"dataset.root={cifar10_root}")
    problems = config_problems(cfg)
    if cfg.objective == "advantage":    # needs a DP-SGD run first: see tests/sweeping/test_policy_search.py
        problems = [p for p in problems if not p.startswith("baseline.results:")]
    assert problems == []


@pytest.mark.slow
def test_full_scale_presets_judge_with_a_resnet50_as_the_paper(compose_cfg):
    for preset in [p for p in CIFAR_PRESETS if p.startswith(("seed000", "seed001"))]:    # seed 000's judge
        judge = compose_cfg(f"experiment={preset}").evaluator.model._target_
        laptop = preset.endswith("_small") or preset == "seed000_policy_search"    # both in _laptop.yaml's setting
        assert judge.endswith("VGG11" if laptop else "ResNet50"), (preset, judge)
    assert compose_cfg("experiment=seed000_cifar10", "evaluator=resnet18").evaluator.model._target_.endswith("ResNet18")


# Membership presets run no reconstruction (tests/membership/ runs their trials).
@pytest.mark.parametrize("preset", [p for p in CIFAR_PRESETS if p.endswith("_small") and "cifar100" not in p
                                    and "_mia_" not in p])
def test_laptop_preset_runs_a_trial(compose_cfg, cifar10_root, preset, tmp_path):
    output = run_trial(compose_cfg(f"experiment={preset}", f"dataset.root={cifar10_root}", *TINY), output_dir=tmp_path)
    rows = read_results(Path(output.results_path))
    assert [r["class"] for r in rows] == ["airplane", "automobile"]
    assert all(r["dataset"] == "cifar10" and 0 <= float(r["ma"]) <= 1 for r in rows)


@pytest.mark.parametrize("preset", PRESETS)
def test_preset_baseline_arm_is_one_override(compose_cfg, cifar10_root, preset):
    # Presets keep defense-specific values in their defense option, so `defense=none` replaces all of them.
    cfg = compose_cfg(f"experiment={preset}", f"dataset.root={cifar10_root}", "defense=none")
    problems = config_problems(cfg)
    if cfg.objective == "advantage":    # needs a DP-SGD run first, as in test_preset_composes_and_validates
        problems = [p for p in problems if not p.startswith("baseline.results:")]
    assert problems == []
    assert sorted(cfg.defense) == ["_members_", "_target_"] and list(cfg.defense._members_) == ["none"]
