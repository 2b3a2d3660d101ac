"""Sweep folders named after the command, progress counts, and the launchers' resolved settings."""

from __future__ import annotations

import pytest

import os
import subprocess
import sys

from hydra import compose, initialize_config_dir

from fedpriv.record import write_results
from fedpriv.record.results import objective_of
from fedpriv.report.collect import collect
from fedpriv.sweeping import running_marker, sweep_progress
from fedpriv.sweeping.plan import MANIFEST
from hydra_plugins.fedpriv_launchers.local_parallel import plan_slots
from tests.conftest import CONF


@pytest.mark.slow  # a real subprocess sweep/trial: the fast suite keeps one small sweep
def test_same_command_same_folder_and_bad_trials_stop_the_sweep(tmp_path, cache_dir):
    env = {**os.environ, "FEDPRIV_CACHE_DIR": str(cache_dir), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "fedpriv.sweep", "-m", "defense=augment", "defense.op=invert",
               "defense.magnitude=2,4", "attack.iterations=3", "targets.classes=[1]"]
    subprocess.run(command, cwd=tmp_path, env=env, check=True, capture_output=True, timeout=300)
    sweeps = list((tmp_path / "multirun").iterdir())
    assert len(sweeps) == 1 and sweeps[0].name.startswith("sweep-") and (sweeps[0] / MANIFEST).is_file()
    finished = sorted(p.parent for p in sweeps[0].glob("trial-*/results.csv"))
    assert [p.name.rsplit("-", 1)[0] for p in finished] == ["trial-augment-invert-m2", "trial-augment-invert-m4"]
    # As a sweep started before trial folders had labels would have left it.
    finished[0].rename(sweeps[0] / f"trial-{finished[0].name.rsplit('-', 1)[1]}")
    # Relaunched with progress bars off: no trial changes, so the same folder, and nothing runs again.
    again = subprocess.run(command + ["progress=false"], cwd=tmp_path, env=env, check=True, capture_output=True,
                           text=True, timeout=300)
    assert (again.stdout + again.stderr).count("finished in an earlier launch: skipped") == 2
    assert list((tmp_path / "multirun").iterdir()) == sweeps
    assert len(list(sweeps[0].glob("trial-*/results.csv"))) == 2
    collection = collect([sweeps[0]])  # the report finds both, the renamed one included
    assert len(collection.trials) == 2 and collection.counts[0].missing == 0
    bad = subprocess.run(command[:-2] + ["defense.magnitude=2,12"], cwd=tmp_path, env=env, capture_output=True,
                         text=True, timeout=300)
    assert bad.returncode == 2 and "defense.magnitude=12" in bad.stderr


def test_progress_counts_done_running_and_left(tmp_path):
    (tmp_path / MANIFEST).write_text('{"trials": [{"id": "a", "overrides": []}, {"id": "b", "overrides": []},'
                                     ' {"id": "c", "overrides": []}]}')
    write_results(tmp_path / "trial-a" / "results.csv", [{"ma": 0.5, "aa": 0.25}])
    (tmp_path / "trial-c").mkdir()
    (tmp_path / "trial-c" / "running.lock").touch()  # left behind by a killed job: not running
    with running_marker(tmp_path / "trial-b"):
        progress = sweep_progress(tmp_path)
        assert (progress.done, progress.running, progress.left) == (1, 1, 1)
    assert sweep_progress(tmp_path).running == 0
    assert objective_of(tmp_path / "trial-a" / "results.csv", "ma_minus_aa") == 0.25


def test_local_launcher_slots():
    assert plan_slots(max_parallel=None, cpus_per_task=None, gpus=[0, 1, 2, 3], cores=32) == (4, 8)
    assert plan_slots(max_parallel=None, cpus_per_task=None, gpus=[], cores=8) == (8, 1)
    assert plan_slots(max_parallel=None, cpus_per_task=4, gpus=[], cores=8) == (2, 4)
    assert plan_slots(max_parallel=2, cpus_per_task=None, gpus=[], cores=8) == (2, 4)


def _hydra_cfg(*overrides):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose(config_name="config", overrides=list(overrides), return_hydra_config=True)


def test_slurm_launcher_resolves_to_a_job_array():
    cfg = _hydra_cfg("hydra/launcher=slurm", "hydra.launcher.partition=gpu", "hydra.launcher.array_parallelism=8")
    launcher = cfg.hydra.launcher
    assert launcher._target_.endswith("SlurmLauncher")
    assert (launcher.partition, launcher.array_parallelism, launcher.gpus_per_node) == ("gpu", 8, 1)
    assert launcher.cpus_per_task == 4 and launcher.mem_gb == 16 and launcher.timeout_min == 240
    assert str(launcher.submitit_folder).endswith(".submitit/%j")


def test_local_launcher_is_the_parallel_one():
    launcher = _hydra_cfg("hydra/launcher=submitit_local", "hydra.launcher.max_parallel=3").hydra.launcher
    assert launcher._target_.endswith("ParallelLocalLauncher") and launcher.max_parallel == 3


def test_identity_ignores_where_files_live(compose_cfg, cifar10_root, tmp_path):
    from fedpriv.sweeping import trial_identity

    base = ["dataset=cifar10", "metrics.lpips.backbone=/a/alex.pth"]
    here = trial_identity(compose_cfg(*base, f"dataset.root={cifar10_root}"))
    elsewhere = trial_identity(compose_cfg("dataset=cifar10", "metrics.lpips.backbone=/b/alex.pth",
                                           f"dataset.root={tmp_path}", "device=cpu", "logger=wandb"))
    assert here == elsewhere
    assert here != trial_identity(compose_cfg(*base, f"dataset.root={cifar10_root}", "dataset.train_per_class=5"))


def test_a_presets_grid_over_a_replaced_defense_is_left_out():
    from fedpriv.sweeping.plan import drop_replaced_grids, sweep_overrides

    def jobs(*overrides):
        with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
            config = compose(config_name="config", overrides=list(overrides), return_hydra_config=True)
        return drop_replaced_grids(config), sweep_overrides(config)

    dropped, planned = jobs("experiment=seed000_cifar10_dp_small", "defense=none")
    assert dropped == ["defense.noise_multiplier"] and planned == [["experiment=seed000_cifar10_dp_small",
                                                                   "defense=none"]]
    dropped, planned = jobs("experiment=seed001_cifar10_small", "defense=none")
    assert sorted(dropped) == ["defense.magnitude", "defense.op"] and len(planned) == 1
    # The preset's own defense, or none chosen on the command line: its grid stays whole.
    for command in (["defense=augment"], []):
        dropped, planned = jobs("experiment=seed001_cifar10_small", *command)
        assert dropped == [] and len(planned) == 70
