"""Seed 002's baseline presets: every setting their sweeps list composes, validates and builds the paper's
defense and attack (Table 7), so a typo in a sweep value fails here and not after the first trials have run."""

from __future__ import annotations

import itertools

import pytest
from omegaconf import OmegaConf

from fedpriv.config import config_problems
from fedpriv.defenses import build_defense
from tests.conftest import CONF

PRESETS = ("seed002_baselines_small", "seed002_imprint_small")


def _sweep(preset: str) -> list[list[str]]:
    """The override lists of every trial the preset's sweep runs (the cartesian product Hydra's sweeper takes)."""
    params = OmegaConf.load(CONF / "experiment" / f"{preset}.yaml").hydra.sweeper.params
    keys = list(params)
    values = [str(params[k]).split(",") for k in keys]
    return [[f"{k}={v}" for k, v in zip(keys, combo)] for combo in itertools.product(*values)]


TRIALS = [(preset, overrides) for preset in PRESETS for overrides in _sweep(preset)]


def test_sweeps_cover_the_papers_baselines():
    assert len(_sweep("seed002_baselines_small")) == 12 and len(_sweep("seed002_imprint_small")) == 5


@pytest.mark.parametrize(("preset", "overrides"), TRIALS, ids=lambda v: v if isinstance(v, str) else "+".join(v))
def test_sweep_value_composes_validates_and_builds(compose_cfg, preset, overrides):
    cfg = compose_cfg(f"experiment={preset}", "dataset.root=../shared/data/mnist_split", *overrides)
    assert config_problems(cfg) == []
    assert cfg.dataset._target_.endswith("MNIST") and cfg.victim.train_epochs == 0
    defense = build_defense(cfg.defense)
    imprint = preset == "seed002_imprint_small"
    assert cfg.fl.batch_size == (4 if imprint else 2)
    described = defense.describe()
    choice = dict(o.split("=") for o in overrides)
    expected = {"none": {}, "seed002_prune": {"p": 0.7}, "seed002_prune_imprint": {"p": 0.3},
                "gaussian": {"distribution": "gaussian", "scale": 0.01},
                "laplacian": {"distribution": "laplacian", "scale": 0.01},
                "seed002_soteria_5": {"p": 0.05}, "seed002_soteria_1": {"p": 0.01}}[choice["defense"]]
    assert {k: described[k] for k in expected} == expected
    if imprint:
        assert cfg.attack.bins == 10
    else:   # the code's settings: Adam lr 0.1, unsigned, true labels, no adaptive matching of pruned entries
        assert (cfg.attack.optimizer, cfg.attack.lr, cfg.attack.signed, cfg.attack.labels, cfg.attack.adaptive) == (
            "adam", 0.1, False, "given", False)
        assert cfg.attack.distance == ("euclidean" if choice["attack"] == "seed002_dlg" else "cosine")


@pytest.mark.parametrize("preset", ["seed002_mnist_small", "seed002_cifar10_small"])
def test_concealing_presets_compose_every_attack_and_defense(compose_cfg, preset):
    """Each value of the concealing grids composes and validates (every attack with the first defense, every
    defense with the first attack): a typo fails here, not in the middle of an hour's sweep."""
    params = OmegaConf.load(CONF / "experiment" / f"{preset}.yaml").hydra.sweeper.params
    attacks, defenses = str(params.attack).split(","), str(params.defense).split(",")
    root = "dataset.root=../shared/data/" + ("cifar10" if "cifar" in preset else "mnist_split")
    for attack, defense in [(a, defenses[0]) for a in attacks] + [(attacks[0], d) for d in defenses[1:]]:
        cfg = compose_cfg(f"experiment={preset}", root, f"attack={attack}", f"defense={defense}")
        assert config_problems(cfg) == [], (attack, defense)
        assert cfg.targets.sensitive == 1 and cfg.fl.batch_size == 2
        if defense.startswith("concealing"):
            assert build_defense(cfg.defense).settings.label == ("mixed" if defense == "concealing_mixed" else "own")
