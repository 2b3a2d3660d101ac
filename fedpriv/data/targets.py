"""Choose the private images the target client holds, and group them into the batches whose updates are shared."""

from __future__ import annotations

import math

import torch
from torch import Tensor

from fedpriv.config.validate import ConfigError


def resolve_classes(wanted: list[str] | None, classes: list[str]) -> list[int]:
    """Class indices for ``targets.classes`` given as names or index strings; every class when None."""
    if wanted is None:
        return list(range(len(classes)))
    out, unknown = [], []
    for item in wanted:
        item = str(item)
        if item in classes:
            out.append(classes.index(item))
        elif item.isdigit() and int(item) < len(classes):
            out.append(int(item))
        else:
            unknown.append(item)
    if unknown:
        raise ConfigError([f"targets.classes has unknown classes {unknown}; allowed: {', '.join(classes)} or 0..{len(classes) - 1}"])
    return sorted(set(out))


def select_targets(labels: Tensor, class_ids: list[int], *, per_class: int | None, fraction: float | None, seed: int) -> Tensor:
    """Indices into the test set: per class, ``fraction`` of its images (rounded up) or ``per_class`` of them."""
    generator = torch.Generator().manual_seed(seed)
    chosen = []
    for c in class_ids:
        idx = (labels == c).nonzero().flatten()
        count = math.ceil(fraction * len(idx)) if fraction is not None else min(per_class or 1, len(idx))
        chosen.append(idx[torch.randperm(len(idx), generator=generator)[:count]])
    return torch.cat(chosen) if chosen else torch.empty(0, dtype=torch.long)


def make_batches(indices: Tensor, labels: Tensor, *, batch_size: int, batching: str, seed: int) -> list[Tensor]:
    """Split target indices into client batches: within one class (``by_class``) or across classes (``shuffled``)."""
    if batching == "shuffled":
        order = indices[torch.randperm(len(indices), generator=torch.Generator().manual_seed(seed + 1))]
        return list(order.split(batch_size))
    batches = []
    for c in labels[indices].unique(sorted=True).tolist():
        batches += list(indices[labels[indices] == c].split(batch_size))
    return batches
