"""Trained weights cached on disk, keyed by a hash of everything that defines them.

A sweep of 45 trials that share a victim trains it once: the first job to need it takes a file lock, trains and
writes the weights atomically (temporary file, then rename); the others wait on the lock and load the result, so
no job ever reads a half-written file. A killed job releases its lock and leaves no partial file behind.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any, Callable

import torch
from torch import nn

from fedpriv.errors import CheckpointError
from fedpriv.utils.io import atomic_path, file_lock, stable_hash

log = logging.getLogger(__name__)
CACHE_FORMAT = 1


class ModelCache:
    def __init__(self, root: str | os.PathLike):
        self.root = Path(os.path.expanduser(str(root))) / "models"

    def path(self, role: str, key: dict[str, Any]) -> Path:
        return self.root / f"{role}-{stable_hash({'format': CACHE_FORMAT, **key})}.pt"

    def get_or_train(self, role: str, key: dict[str, Any], model: nn.Module, train: Callable[[nn.Module], dict]) -> dict:
        """Load ``model``'s weights for ``key`` or train them with ``train(model) -> meta``; returns the meta."""
        path = self.path(role, key)
        with file_lock(path.with_suffix(".lock")):
            if path.exists():
                try:
                    meta = load_weights(model, path)
                    log.info("%s: cached weights %s", role, path)
                    return meta
                except CheckpointError as err:
                    log.warning("%s; training again", err)
            log.info("%s: training (cache key %s)", role, path.name)
            meta = train(model)
            payload = {"state_dict": model.state_dict(), "meta": meta, "key": json.dumps(key, sort_keys=True, default=str)}
            with atomic_path(path) as tmp:
                torch.save(payload, tmp)
            return meta


def load_weights(model: nn.Module, path: str | os.PathLike) -> dict:
    """Load a file written by :class:`ModelCache` (or a bare state_dict) into ``model``; returns its meta.

    Raises :class:`CheckpointError` naming the file when it is missing, unreadable or does not fit the model.
    """
    path = Path(path)
    if not path.is_file():
        raise CheckpointError(f"weights file {str(path)!r} does not exist")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:
        raise CheckpointError(f"weights file {str(path)!r} is unreadable ({type(err).__name__}: {err})") from err
    if not isinstance(payload, dict):
        raise CheckpointError(f"weights file {str(path)!r} holds a {type(payload).__name__}, not a state_dict")
    state = payload.get("state_dict", payload)
    try:
        model.load_state_dict(state)
    except (RuntimeError, KeyError, TypeError) as err:
        first = str(err).splitlines()[0] if str(err) else type(err).__name__
        raise CheckpointError(f"weights file {str(path)!r} does not fit {type(model).__name__}: {first}") from err
    meta = payload.get("meta", {})
    return meta if isinstance(meta, dict) else {}
