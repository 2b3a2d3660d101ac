"""Configuration mistakes typed on the command line: one block listing every problem, exit code 2, no traceback,
nothing created; `--help` shows fedpriv's choices. Each command stops before any compute."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import REPO

# Downloads fail at once and the same way on every machine, as on an offline one.
OFFLINE = {"http_proxy": "http://127.0.0.1:9", "https_proxy": "http://127.0.0.1:9", "no_proxy": "",
           "HTTP_PROXY": "http://127.0.0.1:9", "HTTPS_PROXY": "http://127.0.0.1:9", "NO_PROXY": ""}


def _run(args, cwd, cache_dir, **env):
    env = {**os.environ, "PYTHONPATH": str(REPO), "FEDPRIV_CACHE_DIR": str(cache_dir), "OMP_NUM_THREADS": "1",
           **OFFLINE, **env}
    return subprocess.run([sys.executable, "-m", "fedpriv.sweep", *args], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=300)


def _problems(stderr: str) -> list[str]:
    return [line[4:] for line in stderr.splitlines() if line.startswith("  - ")]


def test_every_wrong_override_is_listed_at_once(tmp_path, cache_dir):
    proc = _run(["defence=augment", "+defence=augment", "attack.iteration=100", "defense.magnitude=12", "attack.lr=abc",
                 "experiment=_laptop", f"metrics.lpips.backbone={tmp_path / 'alexnet.pth'}"], tmp_path, cache_dir)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.startswith("fedpriv: the configuration has 7 problems (nothing was run):")
    problems = _problems(proc.stderr)
    assert len(problems) == 7
    assert "(did you mean defense=augment?)" in problems[0] and problems[1].startswith("+defence=augment:")
    assert problems[2].startswith("experiment=_laptop: an internal base") and "seed000_cifar10_small" in problems[2]
    iteration, magnitude = (next(p for p in problems if p.startswith(k)) for k in ("attack.iteration", "defense.mag"))
    assert "(did you mean iterations?)" in iteration and "allowed keys: iterations, restarts" in iteration
    assert "defense options that have 'magnitude': augment" in magnitude
    assert any(p.startswith("attack.lr='abc' has the wrong type; expected a number") for p in problems)
    assert any(p.startswith(f"metrics.lpips.backbone='{tmp_path / 'alexnet.pth'}' does not exist") for p in problems)
    assert sorted(p.name for p in tmp_path.iterdir()) == []  # no outputs/, no multirun/


@pytest.mark.slow  # a subprocess sweep
def test_a_sweep_whose_plan_fails_leaves_no_folder(tmp_path, cache_dir):
    proc = _run(["-m", "defense=augment", "defense.magnitude=1,12"], tmp_path, cache_dir)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and "Warning" not in proc.stderr
    assert "defense.magnitude=12 is out of range; allowed: 0 to 9" in proc.stderr
    assert not (tmp_path / "multirun").exists()


@pytest.mark.slow  # a subprocess sweep
def test_a_torchvision_dataset_with_its_default_root_offline_is_a_clean_error(tmp_path, cache_dir):
    # HOME moves the default root (~/.cache/fedpriv/data/cifar10) to an empty folder.
    proc = _run(["-m", "dataset=cifar10", "progress=false"], tmp_path, cache_dir, HOME=str(tmp_path))
    assert proc.returncode == 2 and "Traceback" not in proc.stderr and "InterpolationKeyError" not in proc.stderr
    (message,) = [line for line in proc.stderr.splitlines() if line.startswith("fedpriv:")]
    assert message.startswith(f"fedpriv: dataset.root='{tmp_path}/.cache/fedpriv/data/cifar10' holds no CIFAR-10 "
                              "(could not be downloaded")


def test_help_shows_groups_and_presets(tmp_path, cache_dir):
    for flag in ("--help", "-h"):
        proc = _run([flag], tmp_path, cache_dir)
        assert proc.returncode == 0 and proc.stderr == ""
        lines = proc.stdout.splitlines()
        assert len(lines) < 60
        dataset = next(line for line in lines if line.strip().startswith("dataset "))
        assert dataset.split(None, 1)[1] == "cifar10, cifar100, digits*, fashion_mnist, imagefolder, mnist"
        assert "seed000_cifar10_small" in proc.stdout and "_laptop" not in proc.stdout and "_seed000" not in proc.stdout
        assert "--cfg job" in proc.stdout and "--hydra-help" in proc.stdout and "python -m fedpriv.report" in proc.stdout
