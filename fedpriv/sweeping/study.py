"""Sweeps driven by an Optuna study (``hydra/sweeper=optuna``, the hydra-optuna-sweeper plugin).

Hydra's Optuna sweeper asks its study for trials one batch at a time, so the trials of such a sweep are not known
before it starts. :class:`fedpriv.sweeping.PlanSweep` still checks and resumes it, through this module:

- **Checked before compute.** Every searched key's values (each choice; both ends of an interval) are composed
  and validated in a few trial configs, each value in at least one, so a typo stops the sweep before the first
  trial trains anything.
- **Resumed on relaunch.** The study is kept in the sweep folder (``storage: sqlite:///${hydra.sweep.dir}/
  study.db`` with a fixed ``study_name``), and ``hydra.sweeper.n_trials`` is the study's total budget: a
  relaunch asks only for the trials still missing. Trials a killed launch left running are marked failed and
  queued again with the same parameters, so they land in the same ``trial-<identity>`` folder: rerun if their
  ``results.csv`` is missing, answered from it at once otherwise (``fedpriv.sweep``). Raising ``n_trials`` on a
  relaunch extends the search.
- ``study.json`` in the sweep folder records the study (name, storage, budget, searched keys, baseline) for the
  report (:mod:`fedpriv.report.policy`).

A study's sampler draws afresh after a relaunch (its random state is not stored), so an interrupted search can
differ from an uninterrupted one after the interruption; the trials already done are kept either way.
"""

from __future__ import annotations

import json
import logging
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from omegaconf import DictConfig, OmegaConf, open_dict

from fedpriv.utils.io import atomic_write_text

log = logging.getLogger("fedpriv")
STUDY_MANIFEST = "study.json"


def is_study(config: DictConfig) -> bool:
    return str(config.hydra.sweeper.get("_target_", "")).endswith("OptunaSweeper")


def _arguments(config: DictConfig) -> list[str]:
    params = [f"{k}={v}" for k, v in (config.hydra.sweeper.get("params") or {}).items()]
    return params + list(config.hydra.overrides.task)


def search_space(config: DictConfig) -> tuple[dict[str, list], list[str]]:
    """(searched key -> the values to check, fixed overrides), read as the Optuna sweeper reads them: its
    ``params`` then the command's overrides, a fixed value on the command line overriding a searched one."""
    from hydra.core.override_parser.overrides_parser import OverridesParser
    from hydra.core.override_parser.types import Transformer

    searched: dict[str, list] = {}
    fixed: dict[str, str] = {}
    for override in OverridesParser.create().parse_overrides(_arguments(config)):
        key = override.get_key_element()
        if not override.is_sweep_override():
            fixed[key] = f"{key}={override.get_value_element_as_str()}"
            searched.pop(key, None)
        elif override.is_interval_sweep():
            interval = override.value()
            searched[key] = [interval.start, interval.end]
        else:
            searched[key] = list(override.sweep_iterator(transformer=Transformer.encode))
    return {k: v for k, v in searched.items() if k not in fixed}, list(fixed.values())


def check_jobs(config: DictConfig) -> list[list[str]]:
    """Override lists of the trials to validate: job ``i`` sets every searched key to its ``i``-th value
    (cycling through shorter lists), so every value is in one job and the number of jobs is the longest list."""
    searched, fixed = search_space(config)
    count = max((len(values) for values in searched.values()), default=1)
    return [fixed + [f"{key}={values[i % len(values)]}" for key, values in searched.items()] for i in range(count)]


def study_problems(config: DictConfig) -> list[str]:
    sweeper = config.hydra.sweeper
    problems = []
    if sweeper.get("storage") and not sweeper.get("study_name"):
        problems.append("hydra.sweeper.study_name: must be set when hydra.sweeper.storage is (a relaunch finds "
                        "its study by name)")
    direction = sweeper.get("direction")
    if str(direction) not in ("maximize", "Direction.maximize", "minimize", "Direction.minimize"):
        problems.append(f"hydra.sweeper.direction={direction!r}: one objective only (maximize or minimize)")
    return problems


@dataclass
class StudyState:
    done: int
    requeued: int
    to_run: int


def resume_study(config: DictConfig) -> StudyState:
    """Open the sweep's study if a launch left one, requeue its interrupted trials, and lower
    ``hydra.sweeper.n_trials`` (read by the sweeper after this runs) to the trials still missing."""
    sweeper = config.hydra.sweeper
    budget = int(sweeper.n_trials)
    if not sweeper.get("storage"):
        return StudyState(0, 0, budget)     # an in-memory study: nothing to resume
    import optuna
    from optuna.trial import TrialState

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        study = optuna.load_study(study_name=str(sweeper.study_name), storage=str(sweeper.storage))
    except KeyError:    # no such study yet: a first launch
        return StudyState(0, 0, budget)
    requeued = 0
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)     # enqueue_trial in optuna 2
        for trial in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
            study.tell(trial.number, state=TrialState.FAIL)
            study.enqueue_trial(trial.params)
            requeued += 1
    done = len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))
    state = StudyState(done, requeued, max(0, budget - done))
    with open_dict(sweeper):
        sweeper.n_trials = state.to_run
        # A seeded sampler restarted with its first seed would propose the first launch's trials again.
        if isinstance(sweeper.get("sampler"), DictConfig) and sweeper.sampler.get("seed") is not None:
            sweeper.sampler.seed = int(sweeper.sampler.seed) + len(study.trials)
    return state


def write_study_manifest(config: DictConfig, budget: int) -> None:
    sweeper = config.hydra.sweeper
    searched, _ = search_space(config)
    baseline = OmegaConf.select(config, "baseline.results")
    manifest: dict[str, Any] = {
        "study_name": sweeper.get("study_name"), "storage": sweeper.get("storage"), "n_trials": budget,
        "direction": str(sweeper.get("direction")), "searched": sorted(searched),
        "objective": config.get("objective"),
        # absolute, so that a report run from another folder finds it
        "baseline": str(Path(str(baseline)).expanduser().resolve()) if baseline else None,
    }
    atomic_write_text(Path(str(config.hydra.sweep.dir)) / STUDY_MANIFEST, json.dumps(manifest, indent=1))


def read_study_manifest(sweep_dir: str | Path) -> dict | None:
    path = Path(sweep_dir) / STUDY_MANIFEST
    return json.loads(path.read_text()) if path.is_file() else None
