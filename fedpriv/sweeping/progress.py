"""How far a sweep has got: trials done, running and left, read from its folder.

``python -m fedpriv.progress multirun/<sweep>`` works while the sweep runs (locally or on SLURM) or after it
died. A trial is done when its ``results.csv`` exists (written last, atomically); it is running while its job
holds the lock on ``running.lock`` (the operating system drops the lock if the job dies).
"""

from __future__ import annotations

import contextlib
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Iterator

from fedpriv.sweeping.folders import identity_of, trial_folders
from fedpriv.sweeping.plan import read_manifest

try:
    import fcntl
except ImportError:
    fcntl = None

RUNNING = "running.lock"


@dataclass
class Progress:
    total: int
    done: int
    running: int

    @property
    def left(self) -> int:
        return self.total - self.done - self.running

    def __str__(self) -> str:
        return f"{self.done}/{self.total} trials done, {self.running} running, {self.left} left"


@contextlib.contextmanager
def running_marker(job_dir: str | os.PathLike) -> Iterator[None]:
    """Hold ``running.lock`` in ``job_dir`` while the block runs."""
    path = Path(job_dir) / RUNNING
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+") as handle:
        if fcntl is not None:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        try:
            yield
        finally:
            path.unlink(missing_ok=True)


def is_running(job_dir: Path) -> bool:
    path = job_dir / RUNNING
    if not path.exists() or fcntl is None:
        return False
    with open(path, "a+") as handle:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            return True
        fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
        return False


def sweep_progress(sweep_dir: str | os.PathLike, results_file: str = "results.csv") -> Progress:
    sweep_dir = Path(sweep_dir)
    manifest = read_manifest(sweep_dir)
    if manifest is not None:
        # A trial may have a folder under each naming (started before folders had labels, rerun after).
        folders = trial_folders(sweep_dir)
        trials = [folders.get(i, []) for i in sorted({t["id"] for t in manifest})]
    else:
        trials = [[p.parent] for p in sorted(sweep_dir.glob("*/.hydra"))]
    finished = [any((d / results_file).is_file() for d in dirs) for dirs in trials]
    running = sum(any(is_running(d) for d in dirs) for dirs, done in zip(trials, finished) if not done)
    return Progress(total=len(trials), done=sum(finished), running=running)


def trial_position(sweep_dir: str | os.PathLike, job_dir: str | os.PathLike, results_file: str = "results.csv") -> str:
    """Where a starting trial stands in its sweep: "trial 7/126 (trial-<id>); sweep <dir>: 6/126 trials done, ...".
    The number is the trial's place in the sweep's plan, so it stays the same when a sweep is relaunched."""
    name = Path(job_dir).name
    progress = sweep_progress(sweep_dir, results_file)
    ids = list(dict.fromkeys(t["id"] for t in read_manifest(sweep_dir) or []))
    identity = identity_of(name)
    number = ids.index(identity) + 1 if identity in ids else None
    head = f"trial {number}/{progress.total} ({name})" if number else f"trial {name}"
    return f"{head}; sweep {sweep_dir}: {progress}"
