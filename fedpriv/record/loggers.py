"""Where a trial reports besides its results files: nowhere (``logger=none``) or Weights & Biases."""

from __future__ import annotations

import logging
import os
from pathlib import Path
from typing import Annotated, Any, Optional

from fedpriv.config.constraints import OneOf

log = logging.getLogger(__name__)


class NoLogger:
    """Log nothing beyond ``results.csv`` and the grid PNG."""

    name = "none"

    def start(self, *, config: dict, run_name: str, output_dir: Path, group: Optional[str] = None,
              labels: Optional[dict] = None) -> None:
        """``group``: the sweep's name (runs of one sweep share it); ``labels``: ``job_type`` and ``tags``."""

    def log_trial(self, *, rows: list[dict], grid: Optional[Path], summary: dict[str, float]) -> None:
        pass

    def finish(self, *, failed: bool = False) -> None:
        pass


class WandbLogger(NoLogger):
    """Log the config, the per-class table, a summary and the image grid to W&B.

    Runs offline by default: nothing leaves the machine and no API key is needed; ``wandb sync <dir>`` uploads
    later. ``mode=online`` uses the key from ``wandb login`` or ``WANDB_API_KEY`` (never from the config).

    Args:
        project / entity: where runs go.
        group: the W&B group; null: the sweep's name, so all trials of one sweep share a group.
        job_type: null: the trial's defense.
        tags: added to the trial's own tags (dataset, model, protocol, defense, attack, op, magnitude...).
        mode: ``offline``, ``online`` or ``disabled``.
    """

    name = "wandb"

    def __init__(
        self,
        *,
        project: str = "fedpriv",
        entity: Optional[str] = None,
        group: Optional[str] = None,
        job_type: Optional[str] = None,
        tags: Optional[list[str]] = None,
        mode: Annotated[str, OneOf(("offline", "online", "disabled"))] = "offline",
    ):
        self.project, self.entity, self.group = project, entity, group
        self.job_type, self.tags, self.mode = job_type, list(tags or []), mode
        self.run = None

    def start(self, *, config, run_name, output_dir, group=None, labels=None):
        import wandb

        labels = labels or {}
        os.environ.setdefault("WANDB_SILENT", "true")
        self.run = wandb.init(
            project=self.project, entity=self.entity, group=self.group or group,
            job_type=self.job_type or labels.get("job_type"), tags=[*labels.get("tags", []), *self.tags],
            mode=self.mode, name=run_name, config=_without_secrets(config), dir=str(output_dir),
            reinit="finish_previous",
        )

    def log_trial(self, *, rows, grid, summary):
        import wandb

        if self.run is None:
            return
        columns = list(rows[0].keys()) if rows else []
        table = wandb.Table(columns=columns, data=[[_plain(r.get(c)) for c in columns] for r in rows])
        payload: dict[str, Any] = {"per_class": table, **{f"mean/{k}": v for k, v in summary.items()}}
        if grid is not None and Path(grid).exists():
            payload["reconstructions"] = wandb.Image(str(grid))
        self.run.log(payload)
        for key, value in summary.items():
            self.run.summary[key] = value

    def finish(self, *, failed=False):
        if self.run is not None:
            self.run.finish(exit_code=1 if failed else 0)
            self.run = None


def _plain(value):
    return "" if value is None else value


_SECRET_WORDS = ("key", "token", "secret", "password")


def _without_secrets(config: dict) -> dict:
    """Drop any entry whose name looks like a credential, at every depth."""
    if isinstance(config, dict):
        return {k: _without_secrets(v) for k, v in config.items() if not any(w in str(k).lower() for w in _SECRET_WORDS)}
    if isinstance(config, list):
        return [_without_secrets(v) for v in config]
    return config
