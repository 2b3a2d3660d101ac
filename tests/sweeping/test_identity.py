"""Every dataset option composes with its default root, and everything a trial resolves (its identity, its folder
in a sweep, the sweep's name) resolves; a plan that cannot be made stops the sweep before any folder exists."""

from __future__ import annotations

import pytest
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf, open_dict
from omegaconf.errors import InterpolationKeyError

from fedpriv.config.overrides import group_options, visible
from fedpriv.sweeping import PlanSweep, trial_dirname, trial_identity
from fedpriv.sweeping.plan import sweep_name
from tests.conftest import CONF

# Each dataset option with what it needs beyond its defaults (imagefolder has no default root).
DATASETS = {"digits": [], "cifar10": [], "cifar100": [], "mnist": [], "fashion_mnist": [],
            "imagefolder": ["dataset.root=/data/ham10000"]}


def _hydra_cfg(*overrides):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose(config_name="config", overrides=list(overrides), return_hydra_config=True)


def test_every_dataset_option_is_covered_here():
    assert set(DATASETS) == set(visible(group_options(CONF)["dataset"]))


@pytest.mark.parametrize("dataset", sorted(DATASETS))
def test_dataset_composes_and_resolves_with_its_default_root(dataset, monkeypatch):
    monkeypatch.delenv("FEDPRIV_DATA_DIR", raising=False)
    cfg = _hydra_cfg(f"dataset={dataset}", *DATASETS[dataset])
    trial = OmegaConf.to_container(OmegaConf.masked_copy(cfg, [k for k in cfg if k != "hydra"]), resolve=True)
    if dataset in ("cifar10", "cifar100", "mnist", "fashion_mnist"):
        assert trial["dataset"]["root"] == f"~/.cache/fedpriv/data/{dataset}"
    identity = trial_identity(cfg)
    assert len(identity) == 16 and cfg.hydra.sweep.subdir == trial_dirname(cfg) == f"trial-none-{identity}"
    assert sweep_name(cfg).startswith("sweep-") and str(cfg.hydra.sweep.dir).startswith("multirun/")

    # Where the data lives is not what the trial is: another data folder gives the same identity.
    monkeypatch.setenv("FEDPRIV_DATA_DIR", "/elsewhere")
    moved = _hydra_cfg(f"dataset={dataset}", *DATASETS[dataset])
    if "root" in trial["dataset"] and dataset != "imagefolder":
        assert moved.dataset.root == f"/elsewhere/{dataset}"
    assert trial_identity(moved) == identity


@pytest.mark.parametrize("error, code", [(InterpolationKeyError("Interpolation key 'paths.data_dir' not found"), 2),
                                         (RuntimeError("a bug"), 1)])
def test_a_plan_that_fails_stops_the_sweep_before_any_folder(tmp_path, monkeypatch, capsys, error, code):
    """Hydra would turn the callback's exception into a warning and launch the trials anyway."""
    import fedpriv.sweeping.plan as plan

    def fail(_cfg):
        raise error

    monkeypatch.setattr(plan, "trial_identity", fail)
    sweep_dir = tmp_path / "multirun" / "planned"
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(config_name="config", overrides=[f"hydra.sweep.dir={sweep_dir}"], return_hydra_config=True)
        with open_dict(cfg):
            cfg.hydra.overrides.task = ["seed=1,2"]
        with pytest.raises(SystemExit) as stop:
            PlanSweep().on_multirun_start(config=cfg)
    assert stop.value.code == code and not sweep_dir.exists()
    assert "the sweep could not be planned; none of its trials was run" in capsys.readouterr().err
