"""Sweep folders named by what changes trials, trial folders with readable labels, and sweeps started before both."""

from __future__ import annotations

import json

from hydra import compose, initialize_config_dir
from omegaconf import open_dict

from fedpriv.record import write_results
from fedpriv.sweeping import sweep_progress, trial_identity
from fedpriv.sweeping.folders import finished_results, trial_dirname
from fedpriv.sweeping.plan import MANIFEST, sweep_dir_of, sweep_name
from hydra_plugins.fedpriv_launchers.local_parallel import ParallelLocalLauncher
from tests.conftest import CONF, compose_config

NOT_SEMANTIC = ["progress=false", "logger=wandb", "hydra/launcher=submitit_local", "paths.cache_dir=/x",
                "hydra.launcher.max_parallel=3", "device=cpu", "record.grid=false", "objective=psnr",
                "metrics.lpips.backbone=/weights/alexnet.pth", "logger.project=elsewhere"]


def _command(*overrides):
    """The config Hydra gives the process that launches ``python -m fedpriv.sweep -m <overrides>``."""
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose(config_name="config", overrides=list(overrides), return_hydra_config=True)


def test_sweep_folder_ignores_overrides_that_change_no_trial():
    command = ["experiment=seed000_cifar10_small", "defense.op=invert"]
    name = sweep_name(_command(*command))
    assert name.startswith("seed000_cifar10_small-")
    assert sweep_name(_command(*command, *NOT_SEMANTIC, "dataset.root=/data/cifar10")) == name
    assert sweep_name(_command(*command, "defense.magnitude=4")) != name
    assert sweep_name(_command(*command, "dataset.train_per_class=3")) != name
    assert sweep_name(_command("defense=augment")).startswith("sweep-")


def test_a_sweep_started_under_the_old_name_resumes_there(tmp_path):
    config = _command("defense=augment", "progress=false")
    with open_dict(config):
        config.hydra.sweep.dir = str(tmp_path / "multirun" / "2026-01-01_00-00-00")
    assert sweep_dir_of(config) == tmp_path / "multirun" / sweep_name(config)
    legacy = tmp_path / "multirun" / sweep_name(config, every_override=True)
    assert legacy.name != sweep_name(config)  # progress=false counted in the old name
    legacy.mkdir(parents=True)
    (legacy / MANIFEST).write_text('{"trials": []}')
    assert sweep_dir_of(config) == legacy


def test_trial_folders_say_what_the_trial_is():
    cases = {("defense=augment", "defense.op=invert", "defense.magnitude=5"): "trial-augment-invert-m5-",
             ("defense=dpsgd", "defense.noise_multiplier=0.1"): "trial-dpsgd-nm0.1-mgn1.0-noisy_update-",
             ("defense=none",): "trial-none-"}
    for overrides, prefix in cases.items():
        cfg = compose_config(*overrides)
        name = trial_dirname(cfg)
        assert name == prefix + trial_identity(cfg), name
        assert len(name) <= 60


def _old_and_new_trials(sweep_dir):
    """A sweep of two trials: one finished before folders had labels (``trial-<hash>``), one not yet run."""
    configs = [compose_config("defense=augment", f"defense.magnitude={m}") for m in (2, 4)]
    ids = [trial_identity(c) for c in configs]
    manifest = [{"id": i, "overrides": ["defense=augment", f"defense.magnitude={m}"]} for i, m in zip(ids, (2, 4))]
    sweep_dir.mkdir(parents=True)
    (sweep_dir / MANIFEST).write_text(json.dumps({"trials": manifest}))
    write_results(sweep_dir / f"trial-{ids[0]}" / "results.csv", [{"trial_id": ids[0], "ma": 0.5, "aa": 0.25}])
    # The relaunch has made the labelled folder of the finished trial too (Hydra creates it before the job runs).
    (sweep_dir / trial_dirname(configs[0]) / ".hydra").mkdir(parents=True)
    return configs, ids, manifest


def test_trials_finished_under_bare_hash_folders_still_count(tmp_path):
    sweep_dir = tmp_path / "sweep"
    configs, ids, manifest = _old_and_new_trials(sweep_dir)
    assert finished_results(sweep_dir, ids[0]) == sweep_dir / f"trial-{ids[0]}" / "results.csv"
    assert finished_results(sweep_dir, ids[1]) is None
    progress = sweep_progress(sweep_dir)
    assert (progress.total, progress.done, progress.left) == (2, 1, 1)
    launcher = ParallelLocalLauncher.__new__(ParallelLocalLauncher)
    launcher.config = configs[0]
    assert launcher._finished_trials(sweep_dir) == {tuple(manifest[0]["overrides"])}
