"""The arms of one comparison differ only in the defense: every DP-SGD preset defends the attacked update (a
DP-trained victim or a noised update), and the presets of one grid (its augmentations, the same grid with no
defense, its DP baselines) share the network and its training."""

from __future__ import annotations

import functools

import pytest
from torch import nn

from tests.conftest import CONF, compose_config

# Seed 000/001's augmentation grids and their DP-SGD baselines (seed 002's baselines are one grid over defenses).
PRESETS = sorted(p.stem for p in (CONF / "experiment").glob("seed00[01]*.yaml"))
DP_PRESETS = [p for p in PRESETS if "_dp" in p]
LAPTOP_GRIDS = [p for p in PRESETS if p.endswith("_small") and "_dp" not in p]


def _dp_of(preset: str) -> str:
    """The DP baselines an augmentation preset is scored against."""
    if preset == "seed000_policy_search":
        return "seed000_cifar10_dp_small"
    if preset.endswith("_small"):
        return preset.replace("_small", "_dp_small")
    return preset.split("_table")[0] + "_dp"


# One comparison per grid: its augmentation preset, the same preset with no defense, its DP baselines. Seed 003's
# presets compare defenses among themselves (their arms: conf/seed003_arm), with no DP-SGD baseline.
GRIDS = [p for p in PRESETS if "_dp" not in p and not p.startswith("seed003")]
SEED003_ARMS = sorted(p.stem for p in (CONF / "seed003_arm").glob("*.yaml"))


@functools.lru_cache(maxsize=None)
def _compose(preset: str, *overrides: str):
    return compose_config(f"experiment={preset}", *overrides)


def _arm(preset: str, *overrides: str) -> dict:
    cfg = _compose(preset, *overrides)
    return {"model": cfg.model._target_, "norm": cfg.model.get("norm"),
            "width": cfg.model.get("width"), "stem": cfg.model.get("stem"),
            "training.epochs": cfg.training.epochs, "victim.train_epochs": cfg.victim.train_epochs,
            "defense": cfg.defense._target_, "noisy_update": cfg.defense.get("noisy_update")}


def test_every_dp_preset_is_found():
    assert len(DP_PRESETS) >= 6 and len(LAPTOP_GRIDS) >= 3 and len(GRIDS) >= 7
    assert all(_dp_of(grid) in DP_PRESETS for grid in GRIDS)


@pytest.mark.parametrize("preset", DP_PRESETS)
def test_dp_preset_attacks_a_dp_trained_victim_or_a_noised_update(preset):
    arm = _arm(preset)
    assert arm["defense"] == "fedpriv.defenses.DPSGD"
    dp_trained_victim = arm["victim.train_epochs"] == arm["training.epochs"] > 0
    assert dp_trained_victim or arm["noisy_update"], (
        f"{preset}: the attacker inverts the clean gradient of a network DP-SGD never trained; DP changes only MA")


@pytest.mark.parametrize("grid", GRIDS)
def test_arms_of_a_grid_share_network_norm_and_training(grid):
    augmented = _arm(grid)
    undefended = _arm(grid, "defense=none")
    dp = _arm(_dp_of(grid))
    shared = ("model", "norm", "width", "stem", "training.epochs", "victim.train_epochs")
    for key in shared:
        assert augmented[key] == undefended[key] == dp[key], f"{grid}: arms differ in {key}"
    # GroupNorm (or no normalisation) from the start, so Opacus' BatchNorm fix leaves the DP arm's network as the
    # others'.
    assert augmented["norm"] in ("group", "none")
    assert augmented["victim.train_epochs"] == augmented["training.epochs"] > 0


def test_opacus_fix_leaves_the_preset_networks_unchanged():
    from hydra.utils import instantiate

    from fedpriv.defenses import DPSGD

    from omegaconf import OmegaConf

    nodes = {OmegaConf.to_yaml(_compose(grid).model): grid for grid in GRIDS}
    assert len(nodes) >= 3      # the laptop MLP, ResNet-18, VGG-11
    for node, grid in nodes.items():
        model = instantiate(OmegaConf.create(node), in_shape=(3, 32, 32), num_classes=10)
        assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules()), grid
        fixed = DPSGD().adapt_model(model)
        assert [type(m) for m in fixed.modules()] == [type(m) for m in model.modules()], grid


@pytest.mark.slow  # composes 17 configs
def test_seed003_arms_differ_only_in_the_defense_and_decoder():
    arms = {arm: _arm("seed003_small", f"+seed003_arm={arm}") for arm in SEED003_ARMS}
    assert len(arms) == 17
    shared = ("model", "norm", "width", "training.epochs", "victim.train_epochs")
    for key in shared:
        assert len({a[key] for a in arms.values()}) == 1, f"seed003 arms differ in {key}"
    assert len({(a["defense"]) for a in arms.values()}) == 5  # none, prune, mixup, instahide, loda
