"""Plan a sweep before its first trial starts.

Hydra launches the jobs of ``-m a=1,2 b=x,y`` one by one (or hands them to SLURM). :class:`PlanSweep`, a
Hydra callback registered in ``conf/config.yaml``, runs once at the start of every multirun:

- it names the sweep folder after the command (``multirun/<experiment>-<hash of the overrides>``, leaving out
  those that change no trial, such as ``progress`` or ``logger``) unless ``hydra.sweep.dir`` is set, so
  relaunching the same command resumes the same sweep;
- it composes and validates every trial's config, stopping the sweep if any has problems (naming the trial
  and the key), so a typo in the last value does not surface after hours of compute;
- it writes ``trials.json`` (each trial's identity and overrides) for progress and reports, and says how many
  trials are already done.
"""

from __future__ import annotations

import json
import logging
import sys
from pathlib import Path
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig, open_dict

from fedpriv.config.validate import config_problems
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


class PlanSweep(Callback):
    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        from hydra.core.global_hydra import GlobalHydra

        jobs = sweep_overrides(config)
        if not jobs:
            return
        if not _sweep_dir_was_chosen(config):
            directory = str(sweep_dir_of(config))
            with open_dict(config):
                config.hydra.sweep.dir = directory
                # Jobs are composed afresh from the master's Hydra overrides: this makes them use the same folder.
                config.hydra.overrides.hydra.append(f"hydra.sweep.dir={directory}")
        loader = GlobalHydra.instance().config_loader()
        problems, trials = [], []
        for overrides in jobs:
            label = " ".join(overrides) or "(no overrides)"
            try:
                job_cfg = loader.load_sweep_config(config, overrides)
            except Exception as err:
                problems.append(f"[{label}] {err}")
                continue
            found = config_problems(job_cfg)
            problems += [f"[{label}] {p}" for p in found]
            if not found:
                trials.append({"id": trial_identity(job_cfg), "overrides": overrides})
        if problems:
            lines = "\n".join(f"  - {p}" for p in problems)
            print(f"fedpriv: {len(problems)} problem(s) in the sweep's {len(jobs)} trials; none was run:\n{lines}",
                  file=sys.stderr)
            raise SystemExit(2)
        sweep_dir = Path(str(config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        atomic_write_text(sweep_dir / MANIFEST, json.dumps({"trials": trials}, indent=1))
        results = str(config.record.results_file)
        unique = len({t["id"] for t in trials})
        done = len({t["id"] for t in trials} & finished_ids(sweep_dir, results))
        log.info("sweep %s: %d trials (%d distinct), %d done already, %d to run", sweep_dir, len(trials), unique, done,
                 unique - done)
