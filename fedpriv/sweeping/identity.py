"""A trial's identity: a hash of its resolved config, so a sweep finds finished trials whatever job number they had.

Keys that change how a trial is run or reported but not what it measures (logging, progress bars, paths, the
device, the returned objective) are left out, so moving a sweep to a GPU or turning W&B on does not redo it.
"""

from __future__ import annotations

from omegaconf import DictConfig, OmegaConf

from fedpriv.utils.io import stable_hash

NOT_IDENTITY = ("hydra", "logger", "progress", "paths", "device", "record", "objective")
TRIAL_PREFIX = "trial-"


def trial_identity(cfg: DictConfig) -> str:
    trial = OmegaConf.masked_copy(cfg, [k for k in cfg.keys() if k not in NOT_IDENTITY])
    return stable_hash(OmegaConf.to_container(trial, resolve=True))


def trial_dirname(cfg: DictConfig) -> str:
    return TRIAL_PREFIX + trial_identity(cfg)


def register_resolvers() -> None:
    """``${fedpriv.trial_dir:}`` names a multirun job's folder after its trial (``hydra.sweep.subdir``)."""
    if not OmegaConf.has_resolver("fedpriv.trial_dir"):
        OmegaConf.register_new_resolver("fedpriv.trial_dir", lambda *, _root_: trial_dirname(_root_))


register_resolvers()
