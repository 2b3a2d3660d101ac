"""A trial's identity: a hash of its resolved config, so a sweep finds finished trials whatever job number they had.

Keys that change how a trial is run or reported but not what it measures (logging, progress bars, paths, where
the data and weights files live, the device, the returned objective and the baseline it is scored against) are
left out, so moving a sweep to a GPU, to another machine's data folder, or turning W&B on does not redo it.
"""

from __future__ import annotations

from omegaconf import DictConfig, OmegaConf

from fedpriv.config.members import hashable
from fedpriv.utils.io import stable_hash

NOT_IDENTITY = ("hydra", "logger", "progress", "verbose", "estimate", "paths", "device", "record", "objective", "baseline")
# Where things live on this machine, not what they are.
LOCATIONS = ("dataset.root", "dataset.download", "metrics.lpips.backbone", "metrics.lpips.download")


def without(values: dict, dotted_keys) -> dict:
    """``values`` without the given dotted keys (a copy; missing keys are ignored)."""
    values = dict(values)
    for dotted in dotted_keys:
        head, _, rest = dotted.partition(".")
        if head in values:
            values[head] = without(values[head], [rest]) if rest and isinstance(values[head], dict) else None
            if not rest:
                del values[head]
    return values


def trial_identity(cfg: DictConfig) -> str:
    # Resolve before leaving keys out: identity keys may interpolate ones that do not count (``dataset.root`` is
    # ``${paths.data_dir}/cifar10``). Only ``hydra`` is masked first, as it names the trial's folder after this hash.
    trial = OmegaConf.masked_copy(cfg, [k for k in cfg.keys() if k != "hydra"])
    values = OmegaConf.to_container(trial, resolve=True)
    if "defense" in values:  # one defense keeps the identity it had before defenses named their members
        values["defense"] = hashable(values["defense"])
    if values.get("targets", {}).get("sensitive", 0) is None:  # trials from before the key keep their identity
        del values["targets"]["sensitive"]
    return stable_hash(without(values, (*NOT_IDENTITY, *LOCATIONS)))


def changes_identity(key: str) -> bool:
    """Whether a command-line override of ``key`` (``logger``, ``dataset.root``, ``+defense.x``) can change a
    trial's identity."""
    key = key.lstrip("+~").replace("/", ".")
    if key.split(".", 1)[0] in NOT_IDENTITY:
        return False
    return not any(key == where or key.startswith(where + ".") for where in LOCATIONS)


def register_resolvers() -> None:
    """``${fedpriv.trial_dir:}`` names a multirun job's folder after its trial (``hydra.sweep.subdir``)."""
    if not OmegaConf.has_resolver("fedpriv.trial_dir"):
        OmegaConf.register_new_resolver("fedpriv.trial_dir", lambda *, _root_: _trial_dir(_root_))


def _trial_dir(cfg: DictConfig) -> str:
    from fedpriv.sweeping.folders import trial_dirname

    return trial_dirname(cfg)


register_resolvers()
