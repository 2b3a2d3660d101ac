"""Plan a sweep before its first trial starts.

Hydra launches the jobs of ``-m a=1,2 b=x,y`` one by one (or hands them to SLURM). :class:`PlanSweep`, a
Hydra callback registered in ``conf/config.yaml``, runs once at the start of every multirun:

- when the command line replaces a config group that the preset sweeps (``experiment=<grid> defense=none``), it
  leaves out the preset's sweep over keys the new choice does not have, so a preset's baseline arm is one trial;
- it names the sweep folder after the command (``multirun/<experiment>-<hash of the overrides>``, leaving out
  those that change no trial, such as ``progress`` or ``logger``) unless ``hydra.sweep.dir`` is set, so
  relaunching the same command resumes the same sweep;
- a sweep driven by an Optuna study (``hydra/sweeper=optuna``) has no trial list to plan: its search space is
  checked and its study resumed instead (:mod:`fedpriv.sweeping.study`);
- it composes and validates every trial's config, stopping the sweep if any has problems (naming the trial
  and the key), so a typo in the last value does not surface after hours of compute;
- it writes ``trials.json`` (each trial's identity and overrides) for progress and reports, and says how many
  trials are already done.

A plan that cannot be made stops the sweep (exit code 2; 1 for an internal error) before any folder exists.
"""

from __future__ import annotations

import json
import logging
import sys
import traceback
from pathlib import Path
from typing import Any

from hydra.errors import HydraException
from hydra.experimental.callback import Callback
from omegaconf import DictConfig, OmegaConf, open_dict
from omegaconf.errors import OmegaConfBaseException

from fedpriv.config.overrides import hydra_message
from fedpriv.config.validate import config_problems
from fedpriv.errors import FedprivError
from fedpriv.sweeping.folders import finished_ids
from fedpriv.sweeping.identity import changes_identity, trial_identity
from fedpriv.utils.io import atomic_write_text, stable_hash

log = logging.getLogger("fedpriv")
MANIFEST = "trials.json"


def sweep_overrides(config: DictConfig) -> list[list[str]] | None:
    """The override list of every job the basic sweeper would launch, or None for other sweepers."""
    from hydra._internal.core_plugins.basic_sweeper import BasicSweeper
    from hydra.core.override_parser.overrides_parser import OverridesParser

    sweeper = config.hydra.sweeper
    if not str(sweeper.get("_target_", "")).endswith("BasicSweeper"):
        return None
    arguments = [f"{k}={v}" for k, v in (sweeper.get("params") or {}).items()]
    arguments += list(config.hydra.overrides.task)
    parsed = OverridesParser.create().parse_overrides(arguments)
    jobs = []
    for batch in BasicSweeper.split_arguments(parsed, None):
        jobs += [list(job) for job in batch]
    return jobs


_ABSENT = object()


def drop_replaced_grids(config: DictConfig) -> list[str]:
    """Leave out sweeper parameters ``<group>.<key>`` of a group chosen on the command line whose new choice has
    no ``<key>``: a preset's grid over ``defense.op`` means nothing for ``defense=none``. Returns the keys left
    out. Parameters of groups the command line did not choose stay, so a typo in a preset is still an error."""
    chosen = {o.split("=", 1)[0].lstrip("+~") for o in config.hydra.overrides.task if "=" in o}
    params = config.hydra.sweeper.get("params") or {}
    dropped = []
    for key in list(params):
        group, _, rest = str(key).partition(".")
        if rest and group in chosen and OmegaConf.select(config, str(key), default=_ABSENT) is _ABSENT:
            dropped.append(str(key))
    if dropped:
        with open_dict(config):
            for key in dropped:
                del config.hydra.sweeper.params[key]
    return dropped


def sweep_name(config: DictConfig, *, every_override: bool = False) -> str:
    """``<experiment or "sweep">-<hash>`` of the command's overrides and the sweeper's parameters.

    Overrides that cannot change any trial's identity (``progress``, ``logger``, ``paths``, ``device``,
    ``record``, ``objective``, where data and weights live, the launcher) are left out, so relaunching an
    interrupted sweep with ``progress=false`` or on another launcher resumes the same folder.
    ``every_override=True`` gives the name sweeps had before, when every override counted.
    """
    counts = (lambda key: True) if every_override else changes_identity
    label = config.hydra.runtime.choices.get("experiment") or "sweep"
    params = {k: str(v) for k, v in (config.hydra.sweeper.get("params") or {}).items() if counts(k)}
    task = [o for o in config.hydra.overrides.task if counts(o.split("=", 1)[0])]
    key = {"task": sorted(task), "params": params}
    return f"{str(label).replace('/', '_')}-{stable_hash(key, length=8)}"


def sweep_dir_of(config: DictConfig) -> Path:
    """Where the command's sweep lives: its folder under the current naming, or a folder the same command
    started under the older naming (so it resumes there)."""
    parent = Path(str(config.hydra.sweep.dir)).parent
    current, legacy = parent / sweep_name(config), parent / sweep_name(config, every_override=True)
    if not current.exists() and (legacy / MANIFEST).is_file():
        return legacy
    return current


def _sweep_dir_was_chosen(config: DictConfig) -> bool:
    return any(o.split("=", 1)[0].lstrip("+~") == "hydra.sweep.dir" for o in config.hydra.overrides.hydra)


def read_manifest(sweep_dir: str | Path) -> list[dict] | None:
    path = Path(sweep_dir) / MANIFEST
    if not path.is_file():
        return None
    return json.loads(path.read_text())["trials"]


def _check(config: DictConfig, jobs: list[list[str]], what: str, problems: list[str] | None = None,
           labels: list[str] | None = None) -> list[dict]:
    """Compose and validate every job; stop the sweep listing all problems, or return each job's identity.
    A problem that several jobs share is listed once, under the first job's label."""
    from hydra.core.global_hydra import GlobalHydra

    loader = GlobalHydra.instance().config_loader()
    problems, trials, seen = list(problems or []), [], set()
    for i, overrides in enumerate(jobs):
        label = labels[i] if labels else " ".join(overrides) or "(no overrides)"
        try:
            job_cfg = loader.load_sweep_config(config, overrides)
            found = config_problems(job_cfg)
        except Exception as err:
            found = [hydra_message(err)]
            job_cfg = None
        problems += [f"[{label}] {p}" for p in found if p not in seen]
        seen.update(found)
        if job_cfg is not None and not found:
            trials.append({"id": trial_identity(job_cfg), "overrides": overrides})
    if problems:
        lines = "\n".join(f"  - {p}" for p in problems)
        print(f"fedpriv: {len(problems)} problem(s) in the sweep's {what}; none was run:\n{lines}", file=sys.stderr)
        raise SystemExit(2)
    return trials


def _plan_study(config: DictConfig) -> None:
    from fedpriv.sweeping import study

    jobs = study.check_jobs(config)
    searched = len(study.search_space(config)[0])
    labels = [" ".join(job[len(job) - searched:]) or "(no searched key)" for job in jobs]
    _check(config, jobs, f"search space (checked in {len(jobs)} trials covering every value)",
           study.study_problems(config), labels)
    Path(str(config.hydra.sweep.dir)).mkdir(parents=True, exist_ok=True)
    budget = int(config.hydra.sweeper.n_trials)
    study.write_study_manifest(config, budget)
    state = study.resume_study(config)
    log.info("sweep %s: study of %d trials, %d done already (%d interrupted ones queued again), %d to run",
             config.hydra.sweep.dir, budget, state.done, state.requeued, state.to_run)


class PlanSweep(Callback):
    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        # Hydra turns a callback's exception into a warning and launches the sweep anyway: a plan that cannot be
        # made stops the sweep here, before any folder or trial exists.
        try:
            self._plan(config)
        except (FedprivError, OmegaConfBaseException, HydraException) as err:
            print(f"fedpriv: the sweep could not be planned; none of its trials was run: {hydra_message(err)}",
                  file=sys.stderr)
            raise SystemExit(2) from None
        except Exception:
            traceback.print_exc()
            print("fedpriv: the sweep could not be planned; none of its trials was run (an internal error: the "
                  "traceback above)", file=sys.stderr)
            raise SystemExit(1) from None

    def _plan(self, config: DictConfig) -> None:
        from fedpriv.sweeping.study import is_study

        dropped = drop_replaced_grids(config)
        if dropped:
            log.info("the preset's sweep over %s does not apply to the %s chosen on the command line: left out",
                     ", ".join(dropped), " and ".join(sorted({k.split(".")[0] for k in dropped})))
        jobs = sweep_overrides(config)
        if not jobs and not is_study(config):
            return
        if not _sweep_dir_was_chosen(config):
            directory = str(sweep_dir_of(config))
            with open_dict(config):
                config.hydra.sweep.dir = directory
                # Jobs are composed afresh from the master's Hydra overrides: this makes them use the same folder.
                config.hydra.overrides.hydra.append(f"hydra.sweep.dir={directory}")
        if not jobs:
            _plan_study(config)
            return
        trials = _check(config, jobs, f"{len(jobs)} trials")
        sweep_dir = Path(str(config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(sweep_dir / MANIFEST, json.dumps({"trials": trials}, indent=1))
        results = str(config.record.results_file)
        unique = len({t["id"] for t in trials})
        done = len({t["id"] for t in trials} & finished_ids(sweep_dir, results))
        log.info("sweep %s: %d trials (%d distinct), %d done already, %d to run", sweep_dir, len(trials), unique, done,
                 unique - done)
