"""Find the finished trials of one or more sweeps, merge their rows, and count what is still missing.

A trial is finished when its job directory holds ``results.csv`` (trials write it atomically, so a file that
exists is complete). Job directories may be named by job number, by trial hash, or by a label and the trial hash,
and may sit at any depth, so the search is recursive. The expected trials of a sweep come from the ``trials.json`` manifest that fedpriv writes
at every launch (trial identities of the current plan), or else from Hydra's ``multirun.yaml``. With a manifest,
results of trials that are not in the current plan (left by a launch whose config has since changed) are left
out of the report, with a note, rather than averaged with the current ones.
"""

from __future__ import annotations

import os
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from omegaconf import OmegaConf

from fedpriv.errors import FedprivError
from fedpriv.record import read_results

RESULTS_FILE = "results.csv"
SAMPLES_FILE = "samples.pt"


class ReportError(FedprivError):
    """A problem with the report's arguments or inputs that the user can fix; the message names the argument."""


@dataclass
class Trial:
    trial_id: str
    directory: Path
    rows: list[dict[str, str]]

    @property
    def samples(self) -> Path | None:
        path = self.directory / SAMPLES_FILE
        return path if path.is_file() else None


@dataclass
class SweepCount:
    """How far one sweep directory got. ``expected`` is None when ``multirun.yaml`` cannot tell."""

    directory: Path
    found: int
    expected: int | None
    missing_jobs: list[str] = field(default_factory=list)
    why_unknown: str = ""

    @property
    def missing(self) -> int | None:
        return None if self.expected is None else len(self.missing_jobs)


@dataclass
class Collection:
    trials: list[Trial]
    counts: list[SweepCount]
    notes: list[str]

    @property
    def rows(self) -> list[dict[str, str]]:
        return [row for trial in self.trials for row in trial.rows]


def _value(text: str) -> object:
    """Normalise an override value so ``1`` matches ``1.0`` and ``False`` matches ``false``."""
    try:
        return float(text)
    except ValueError:
        pass
    lowered = text.strip().lower()
    return lowered if lowered in ("true", "false", "null", "none") else text.strip()


def override_tokens(text: str) -> list[tuple[str, object]]:
    """``"a=1 b.c=x"`` -> ``[("a", 1.0), ("b.c", "x")]``; tokens without ``=`` keep an empty key."""
    tokens = []
    for token in text.split():
        key, sep, value = token.partition("=")
        # "+key=value" (Hydra's "add a key") sets the same key as "key=value".
        tokens.append((key.lstrip("+"), _value(value)) if sep else ("", token))
    return tokens


def _job_key(tokens: list[tuple[str, object]]) -> tuple:
    return tuple(sorted(tokens, key=repr))


def find_results(sweep_dir: Path) -> list[Path]:
    # Sorted so that which copy of a duplicated trial is kept does not depend on the file system's order.
    return sorted(p for p in sweep_dir.rglob(RESULTS_FILE) if p.is_file())


def expected_jobs(sweep_dir: Path) -> tuple[list[str] | None, str]:
    """The override string of every job ``multirun.yaml`` describes, or None and the reason it cannot tell."""
    from fedpriv.sweeping.plan import sweep_overrides

    path = sweep_dir / "multirun.yaml"
    if not path.is_file():
        return None, f"no multirun.yaml in {sweep_dir}"
    try:
        config = OmegaConf.load(path)
        jobs = sweep_overrides(config)
    except Exception as err:  # a damaged or foreign file should not stop the report
        return None, f"{path} could not be read ({type(err).__name__}: {err})"
    if jobs is None:
        return None, f"{path} names a sweeper other than Hydra's basic sweeper"
    return [" ".join(job) for job in jobs], ""


def _count(sweep_dir: Path, trials: list[Trial]) -> SweepCount:
    from fedpriv.sweeping.plan import read_manifest

    manifest = read_manifest(sweep_dir)
    if manifest is not None:
        done = {t.trial_id for t in trials}
        planned = {}
        for entry in manifest:
            planned.setdefault(entry["id"], " ".join(entry["overrides"]))
        return SweepCount(sweep_dir, len(trials), len(planned), [o for i, o in planned.items() if i not in done])
    jobs, why = expected_jobs(sweep_dir)
    if jobs is None:
        return SweepCount(sweep_dir, len(trials), None, why_unknown=why)
    # Match finished trials to jobs by their overrides, so the report can say which jobs to relaunch.
    done = Counter(_job_key(override_tokens(t.rows[0].get("overrides") or "")) for t in trials if t.rows)
    missing = []
    for job in jobs:
        key = _job_key(override_tokens(job))
        if done[key] > 0:
            done[key] -= 1
        else:
            missing.append(job)
    return SweepCount(sweep_dir, len(trials), len(jobs), missing)


def collect(sweep_dirs: list[Path]) -> Collection:
    """Every finished trial under ``sweep_dirs``, each ``trial_id`` once (the first copy found is kept)."""
    from fedpriv.sweeping.plan import read_manifest

    trials: dict[str, Trial] = {}
    counts, notes = [], []
    for sweep_dir in sweep_dirs:
        here: dict[str, Trial] = {}
        manifest = read_manifest(sweep_dir)
        planned = None if manifest is None else {entry["id"] for entry in manifest}
        stale = 0
        for path in find_results(sweep_dir):
            rows = read_results(path)
            if not rows:
                notes.append(f"{path} has no rows; skipped")
                continue
            ids = {row.get("trial_id") or "" for row in rows}
            # Files written before trial ids existed still count once each, identified by where they are.
            trial_id = ids.pop() if len(ids) == 1 and "" not in ids else f"path:{os.fspath(path.parent)}"
            if trial_id.startswith("path:"):
                notes.append(f"{path} has no single trial_id; identified by its directory")
            if planned is not None and trial_id not in planned:
                stale += 1
                continue
            trial = Trial(trial_id, path.parent, rows)
            if trial_id in trials:
                notes.append(f"trial {trial_id} in {path.parent} duplicates {trials[trial_id].directory}; "
                             f"kept the first")
            else:
                trials[trial_id] = trial
            here.setdefault(trial_id, trial)
        if stale:
            notes.append(f"{stale} finished trial(s) in {sweep_dir} are not in its current plan (trials.json): "
                         "their config changed since; left out")
        counts.append(_count(sweep_dir, list(here.values())))
    return Collection(list(trials.values()), counts, notes)


def check_sweep_dirs(paths: list[str]) -> list[Path]:
    dirs = []
    for text in paths:
        path = Path(text).expanduser()
        if not path.exists():
            raise ReportError(f"sweep_dir '{text}' does not exist")
        if not path.is_dir():
            raise ReportError(f"sweep_dir '{text}' is not a directory")
        dirs.append(path)  # as given: tables and report.md name the folders the way the user did
    return dirs
