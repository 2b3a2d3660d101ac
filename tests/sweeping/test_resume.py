"""A sweep killed with SIGKILL halfway and relaunched with the same command finishes only what is missing."""

from __future__ import annotations

import pytest

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from fedpriv.record import read_results

GRID = ["defense=augment", "defense.op=invert,solarize", "defense.magnitude=1,3,5,7,9"]  # 10 trials
SMALL = ["attack.iterations=5", "targets.classes=[0]", "record.grid=false", "progress=false"]


def _command(sweep_dir: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "fedpriv.sweep", "-m", *GRID, *SMALL, *extra, f"hydra.sweep.dir={sweep_dir}"]


def _env(cache_dir):
    return {**os.environ, "FEDPRIV_CACHE_DIR": str(cache_dir), "OMP_NUM_THREADS": "1"}


def _finished(sweep_dir: Path) -> dict[str, tuple[int, bytes]]:
    return {p.parent.name: (p.stat().st_mtime_ns, p.read_bytes()) for p in sweep_dir.glob("trial-*/results.csv")}


@pytest.mark.slow  # a real subprocess sweep/trial: the fast suite keeps one small sweep
def test_killed_parallel_sweep_resumes_without_rerunning_finished_trials(tmp_path, cache_dir):
    sweep_dir = tmp_path / "sweep"
    command = _command(sweep_dir, "hydra/launcher=submitit_local", "hydra.launcher.max_parallel=2")
    with open(tmp_path / "first.log", "w") as log:
        first = subprocess.Popen(command, cwd=tmp_path, env=_env(cache_dir), stdout=log, stderr=subprocess.STDOUT,
                                 start_new_session=True)
        deadline = time.monotonic() + 300
        while len(_finished(sweep_dir)) < 3 and first.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        os.killpg(first.pid, signal.SIGKILL)  # the launcher and its running jobs, mid-trial
        first.wait()
    before = _finished(sweep_dir)
    assert 3 <= len(before) < 10, (tmp_path / "first.log").read_text()[-3000:]

    again = subprocess.run(command, cwd=tmp_path, env=_env(cache_dir), capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stdout[-3000:] + again.stderr[-3000:]
    after = _finished(sweep_dir)
    assert len(after) == 10
    # the launcher knows finished trials from the plan and starts no process for them
    assert (again.stdout + again.stderr).count("finished in an earlier launch: skipped") == len(before)
    for name, stamp in before.items():
        assert after[name] == stamp, f"{name} finished before the kill but was run again"
    ids = [read_results(sweep_dir / name / "results.csv")[0]["trial_id"] for name in after]
    assert len(set(ids)) == 10 and all(name.startswith("trial-augment-") and name.endswith(f"-{i}")
                                       for name, i in zip(after, ids))

    report = subprocess.run([sys.executable, "-m", "fedpriv.report", str(sweep_dir)], cwd=tmp_path,
                            env=_env(cache_dir), capture_output=True, text=True, timeout=120)
    assert report.returncode == 0, report.stderr
    merged = read_results(sweep_dir / "report" / "merged_results.csv")
    assert sorted(r["trial_id"] for r in merged) == sorted(ids)  # one class per trial: every trial exactly once
