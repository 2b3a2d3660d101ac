"""The commands of the README, run as a user would: a single trial and a -m sweep, through subprocesses."""

from __future__ import annotations

import pytest

import csv
import os
import subprocess
import sys
from pathlib import Path

from tests.conftest import REPO


def _run(args, tmp_path, cache_dir, timeout=300):
    env = {**os.environ, "FEDPRIV_CACHE_DIR": str(cache_dir), "PYTHONUNBUFFERED": "1"}
    return subprocess.run([sys.executable, "-m", "fedpriv.sweep", *args], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=timeout)


@pytest.mark.slow
def test_sweep_writes_one_results_file_per_trial(tmp_path, cache_dir):
    sweep_dir = tmp_path / "multirun" / "demo"
    proc = _run(["-m", "defense=augment", "defense.magnitude=1,5,9", "defense.op=posterize", "attack.iterations=20",
                 "targets.classes=[0,1]", "progress=false", f"hydra.sweep.dir={sweep_dir}"], tmp_path, cache_dir)
    assert proc.returncode == 0, proc.stderr[-2000:]
    results = sorted(sweep_dir.glob("*/results.csv"))
    assert len(results) == 3
    magnitudes = set()
    for path in results:
        rows = list(csv.DictReader(path.open()))
        assert len(rows) == 2 and {r["op"] for r in rows} == {"posterize"}
        magnitudes |= {r["magnitude"] for r in rows}
    assert magnitudes == {"1", "5", "9"}


@pytest.mark.slow  # test_cli_errors.py checks a failing plan in the fast suite
def test_bad_sweep_value_stops_before_any_trial(tmp_path, cache_dir):
    sweep_dir = tmp_path / "multirun" / "bad"
    proc = _run(["-m", "defense=augment", "defense.magnitude=1,10", f"hydra.sweep.dir={sweep_dir}"], tmp_path, cache_dir)
    assert proc.returncode != 0
    assert "defense.magnitude=10" in proc.stderr and "0 to 9" in proc.stderr
    assert not list(sweep_dir.glob("*/results.csv"))


@pytest.mark.slow  # a real subprocess sweep/trial: the fast suite keeps one small sweep
def test_bad_single_trial_exits_nonzero_naming_the_key(tmp_path, cache_dir):
    proc = _run(["defense=dpsgd", "defense.noise_multiplier=-1"], tmp_path, cache_dir)
    assert proc.returncode == 2 and "defense.noise_multiplier" in proc.stderr and "Traceback" not in proc.stderr
    proc = _run(["dataset=imagefolder", "dataset.root=/no/such/dir"], tmp_path, cache_dir)
    assert proc.returncode == 2 and "dataset.root" in proc.stderr


@pytest.mark.slow  # a real subprocess sweep/trial: the fast suite keeps one small sweep
def test_default_main_job_runs_offline(tmp_path, cache_dir):
    proc = _run(["progress=false", f"hydra.run.dir={tmp_path / 'run'}"], tmp_path, cache_dir)
    assert proc.returncode == 0, proc.stderr[-2000:]
    rows = list(csv.DictReader((tmp_path / "run" / "results.csv").open()))
    assert len(rows) == 10
    assert all(0 <= float(r["ma"]) <= 1 and 0 <= float(r["aa"]) <= 1 and float(r["psnr"]) > 15 for r in rows)
