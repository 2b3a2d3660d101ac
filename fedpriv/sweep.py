"""Entry point: ``python -m fedpriv.sweep [overrides]`` runs one trial; ``-m`` turns comma lists into a sweep.

Returns the trial's objective (``objective=...``, a mean over classes) so that Hydra sweepers can optimise it.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

import fedpriv.config.schema  # noqa: F401  (registers the config schema)
from fedpriv.config.validate import ConfigError
from fedpriv.errors import FedprivError
from fedpriv.trial import run_trial

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
    hydra_cfg = HydraConfig.get()
    try:
        output = run_trial(cfg, output_dir=hydra_cfg.runtime.output_dir, overrides=list(hydra_cfg.overrides.task))
    except (ConfigError, FedprivError) as err:
        # A problem the user can fix: say what it is, without a traceback, and stop (exit code 2).
        print(f"fedpriv: {err}", file=sys.stderr)
        raise SystemExit(2) from None
    log.info("results: %s", output.results_path)
    return output.objective


if __name__ == "__main__":
    main()
