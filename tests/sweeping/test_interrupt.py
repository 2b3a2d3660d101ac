"""Ctrl-C and SIGTERM: a sweep says how far it got and how to resume, a lone trial says it wrote nothing."""

from __future__ import annotations

import os
import shlex
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

# Long enough attacks that the signal lands inside a trial; one-epoch models keep a cold cache cheap.
SMALL = ["defense=augment", "defense.op=invert", "attack.iterations=1000", "targets.classes=[1]", "progress=false",
         "record.grid=false", "training.epochs=1", "evaluator.training.epochs=1"]


def _env(cache_dir):
    return {**os.environ, "FEDPRIV_CACHE_DIR": str(cache_dir), "OMP_NUM_THREADS": "1", "PYTHONUNBUFFERED": "1"}


def _wait_until(condition, process, seconds=300):
    deadline = time.monotonic() + seconds
    while not condition():
        assert process.poll() is None, "the command ended before it could be interrupted"
        assert time.monotonic() < deadline, "timed out waiting for the command"
        time.sleep(0.1)


def _attacking(folder: Path) -> bool:
    log = folder / "sweep.log"
    return log.is_file() and "attacking" in log.read_text()


@pytest.mark.slow
def test_ctrl_c_stops_the_sweep_and_says_how_to_resume(tmp_path, cache_dir):
    args = ["-m", *SMALL, "defense.magnitude=2,4,6"]
    process = subprocess.Popen([sys.executable, "-m", "fedpriv.sweep", *args], cwd=tmp_path, env=_env(cache_dir),
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    multirun = tmp_path / "multirun"
    _wait_until(lambda: len(list(multirun.glob("*/trial-*/results.csv"))) == 1, process)
    _wait_until(lambda: sum(_attacking(t) for t in multirun.glob("*/trial-*")) == 2, process)  # the second trial
    process.send_signal(signal.SIGINT)
    _, stderr = process.communicate(timeout=120)

    assert process.returncode == 130, stderr[-3000:]
    (sweep,) = multirun.iterdir()
    finished = list(sweep.glob("trial-*/results.csv"))
    assert len(finished) == 1  # the interrupted trial left no results file, the third never started
    assert len(list(sweep.glob("trial-*"))) == 2
    expected = (f"sweep multirun/{sweep.name}: 1 of 3 trials done, 2 left; relaunch the same command to resume: "
                f"python -m fedpriv.sweep {shlex.join(args)}")
    assert expected in stderr, stderr[-3000:]
    assert "Traceback" not in stderr


@pytest.mark.slow
def test_sigterm_stops_a_lone_trial_without_results(tmp_path, cache_dir):
    run_dir = tmp_path / "run"
    process = subprocess.Popen([sys.executable, "-m", "fedpriv.sweep", *SMALL, f"hydra.run.dir={run_dir}"],
                               cwd=tmp_path, env=_env(cache_dir), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    _wait_until(lambda: _attacking(run_dir), process)
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 143, stderr[-3000:]
    assert f"trial interrupted by SIGTERM; it wrote no results.csv in {run_dir}" in stderr
    assert not (run_dir / "results.csv").exists() and not (run_dir / "running.lock").exists()
