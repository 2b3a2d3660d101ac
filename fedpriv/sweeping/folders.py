"""Trial folders in a sweep: a readable label, then the trial's identity hash (``trial-augment-invert-m5-<hash>``).

The label says what a trial is at a glance in ``ls multirun/<sweep>``; only the hash, always the last ``-`` part,
identifies it. Everything that looks for a trial's folder goes through :func:`trial_folders`, which also finds
folders named ``trial-<hash>`` (sweeps started before folders had labels), so such sweeps resume where they were.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from omegaconf import DictConfig

from fedpriv.sweeping.identity import trial_identity

TRIAL_PREFIX = "trial-"
MAX_LABEL = 37  # "trial-" + label + "-" + 16-character hash stays within 60 characters


def slug(text: object) -> str:
    return re.sub(r"[^a-z0-9._]+", "-", str(text).lower()).strip("-._")


def _part(key: str, value: object) -> str:
    # Words (an operation's name) read by themselves; numbers need their key: m5 = magnitude 5, nm0.5 = noise
    # multiplier 0.5.
    if isinstance(value, str):
        return slug(value)
    if isinstance(value, bool):  # a switch reads as its name when on (noisy_update), and is left out when off
        return slug(key) if value else ""
    initials = "".join(word[0] for word in key.split("_") if word)
    return slug(f"{initials}{value}")


def _defense_label(cfg: DictConfig) -> list[str]:
    """The defense's name (members joined, ``augment+dpsgd``) and the values it reports in the results table
    (:meth:`Defense.describe`)."""
    from fedpriv.config.members import MEMBERS, has_component
    from fedpriv.defenses import build_defense

    node = cfg.get("defense")
    if node is None or not has_component(node):
        return []
    try:
        defense = build_defense(node)
    except Exception:  # a folder name must not stop a trial: the trial reports a bad defense itself
        names = list(node.get(MEMBERS) or []) or [str(node.get("_target_")).rsplit(".", 1)[-1]]
        return [slug("+".join(map(str, names)))]
    return [slug(defense.name)] + [_part(k, v) for k, v in defense.describe().items() if v not in ("", None)]


def trial_label(cfg: DictConfig) -> str:
    """``augment-invert-m5``, ``dpsgd-nm0.5-mgn1.0``, ``none``: short, lower case, safe in any file system."""
    label = ""
    for part in filter(None, _defense_label(cfg)):
        if len(label) + len(part) + 1 > MAX_LABEL:
            break
        label = f"{label}-{part}" if label else part
    return label


def trial_dirname(cfg: DictConfig) -> str:
    label = trial_label(cfg)
    return f"{TRIAL_PREFIX}{label + '-' if label else ''}{trial_identity(cfg)}"


def identity_of(folder_name: str) -> str | None:
    """The identity hash a trial folder's name ends with, or None for other folders."""
    if not folder_name.startswith(TRIAL_PREFIX):
        return None
    return folder_name.rsplit("-", 1)[-1]


def trial_folders(sweep_dir: str | os.PathLike) -> dict[str, list[Path]]:
    """Trial identity -> the folders of that trial in ``sweep_dir`` (labelled or bare-hash names)."""
    found: dict[str, list[Path]] = {}
    sweep_dir = Path(sweep_dir)
    if not sweep_dir.is_dir():
        return found
    for path in sorted(sweep_dir.iterdir()):
        identity = identity_of(path.name)
        if identity and path.is_dir():
            found.setdefault(identity, []).append(path)
    return found


def finished_results(sweep_dir: str | os.PathLike, trial_id: str, results_file: str = "results.csv",
                     folders: dict[str, list[Path]] | None = None) -> Path | None:
    """The results file of trial ``trial_id`` in ``sweep_dir`` if it finished, under either folder name."""
    folders = trial_folders(sweep_dir) if folders is None else folders
    for folder in folders.get(trial_id, []):
        if (folder / results_file).is_file():
            return folder / results_file
    return None


def finished_ids(sweep_dir: str | os.PathLike, results_file: str = "results.csv") -> set[str]:
    """Identities of the trials in ``sweep_dir`` whose results file exists."""
    folders = trial_folders(sweep_dir)
    return {i for i in folders if finished_results(sweep_dir, i, results_file, folders) is not None}
