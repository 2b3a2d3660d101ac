"""Check every trial of a sweep before the first one starts.

Hydra launches the jobs of ``-m a=1,2 b=x,y`` one by one; without this check a typo in the last value would
surface only after the earlier trials had trained and attacked. :class:`ValidateSweep` (registered under
``hydra.callbacks`` in ``conf/config.yaml``) enumerates the jobs the basic sweeper will launch, composes each
config and stops the sweep when any has problems, naming the trial and the key.
"""

from __future__ import annotations

import sys
from typing import Any

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

from fedpriv.config.validate import config_problems


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


class ValidateSweep(Callback):
    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        from hydra.core.global_hydra import GlobalHydra

        jobs = sweep_overrides(config)
        if not jobs:
            return
        loader = GlobalHydra.instance().config_loader()
        problems = []
        for overrides in jobs:
            label = " ".join(overrides) or "(no overrides)"
            try:
                job_cfg = loader.load_sweep_config(config, overrides)
            except Exception as err:
                problems.append(f"[{label}] {err}")
                continue
            problems += [f"[{label}] {p}" for p in config_problems(job_cfg)]
        if problems:
            lines = "\n".join(f"  - {p}" for p in problems)
            print(f"fedpriv: {len(problems)} problem(s) in the sweep's {len(jobs)} trials; none was run:\n{lines}",
                  file=sys.stderr)
            raise SystemExit(2)
