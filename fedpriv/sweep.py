"""Entry point: ``python -m fedpriv.sweep [overrides]`` runs one trial; ``-m`` turns comma lists into a sweep.

``--help`` lists the config groups, their options and the presets (:mod:`fedpriv.cli_help`). Before Hydra
composes anything, the command's overrides are checked and every problem is listed at once
(:mod:`fedpriv.config.overrides`).

Returns the trial's objective (``objective=...``, a mean over classes) so that Hydra sweepers can optimise it.
In a sweep, each trial runs in ``<sweep dir>/trial-<label>-<identity>``; a trial whose ``results.csv`` is there
already is skipped, so relaunching an interrupted sweep (same command, same folder) runs only what is missing.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from hydra.types import RunMode
from omegaconf import DictConfig

import fedpriv.config.schema  # noqa: F401  (registers the config schema)
import fedpriv.sweeping.identity  # noqa: F401  (registers ${fedpriv.trial_dir:})
from fedpriv.config.validate import ConfigError
from fedpriv.errors import FedprivError
from fedpriv.sweeping import finished_results, trial_identity
from fedpriv.sweeping.interrupt import exit_on_signals
from fedpriv.sweeping.progress import running_marker, trial_position

log = logging.getLogger("fedpriv")


def config_dir() -> str:
    """``conf/`` of a source checkout, or the copy installed inside the package."""
    here = Path(__file__).resolve().parent
    for candidate in (here.parent / "conf", here / "conf"):
        if (candidate / "config.yaml").is_file():
            return str(candidate)
    raise FileNotFoundError(f"no conf/config.yaml next to {here}")


@hydra.main(version_base="1.3", config_path=config_dir(), config_name="config")
def main(cfg: DictConfig) -> float:
    # Imported here so that --help and configuration errors answer before torch has loaded.
    from fedpriv.record.results import objective_of
    from fedpriv.trial import run_trial
    from fedpriv.utils.runtime import apply_thread_budget

    hydra_cfg = HydraConfig.get()
    output_dir = Path(hydra_cfg.runtime.output_dir)
    apply_thread_budget()
    in_sweep = hydra_cfg.mode == RunMode.MULTIRUN
    results = output_dir / cfg.record.results_file
    if in_sweep:
        # Also under the folder name the trial had before folders carried labels.
        finished = finished_results(hydra_cfg.sweep.dir, trial_identity(cfg), cfg.record.results_file)
        if finished is not None:
            log.info("trial %s finished in an earlier launch: skipped", finished.parent.name)
            return objective_of(finished, cfg.objective, baseline=cfg.baseline.results)
        log.info("%s", trial_position(hydra_cfg.sweep.dir, output_dir, cfg.record.results_file))
    # Alone, a trial stops on Ctrl-C/SIGTERM by itself; in a sweep, the launching process reports (ReportInterrupts).
    stoppable = contextlib.nullcontext() if in_sweep else exit_on_signals(
        lambda signame: f"trial interrupted by {signame}; it wrote no {results.name} in {output_dir}")
    try:
        with stoppable, running_marker(output_dir):
            output = run_trial(cfg, output_dir=output_dir, overrides=list(hydra_cfg.overrides.task),
                               run_group=Path(hydra_cfg.sweep.dir).name if in_sweep else None)
    except BlockingIOError:
        log.warning("trial %s is being run by another job: skipped", output_dir.name)
        return float("nan")
    except (ConfigError, FedprivError) as err:
        # A problem the user can fix: say what it is, without a traceback, and stop (exit code 2).
        print(f"fedpriv: {err}", file=sys.stderr)
        raise SystemExit(2) from None
    log.info("results: %s", output.results_path)
    return output.objective


def cli() -> None:
    """``--help`` shows fedpriv's choices; a command's overrides are checked, all problems listed, before Hydra."""
    from fedpriv.cli_help import HELP_FLAGS, help_text
    from fedpriv.config.overrides import check_command_line

    if any(arg in HELP_FLAGS for arg in sys.argv[1:]):
        print(help_text(config_dir()))
        return
    check_command_line(sys.argv[1:], config_dir())
    main()


if __name__ == "__main__":
    cli()
