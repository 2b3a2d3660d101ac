"""Choose the private images the target client holds, and group them into the batches whose updates are shared."""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import Tensor

from fedpriv.config.validate import ConfigError
from fedpriv.defenses.client import ClientBatch, ClientContext


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


def other_data(images: Tensor, labels: Tensor, pool: Tensor):
    """More of a client's own data for data-side defenses (mixing partners, concealing starts): ``draw(n,
    generator)`` returns ``n`` of the uint8 ``images[pool]`` as floats in [0, 1] and their labels, distinct while
    the pool lasts, picked with ``generator`` alone. None when the pool is empty."""
    if len(pool) == 0:
        return None

    def draw(n: int, generator: torch.Generator) -> tuple[Tensor, Tensor]:
        if n <= len(pool):
            pick = pool[torch.randperm(len(pool), generator=generator)[:n]]
        else:
            pick = pool[torch.randint(len(pool), (n,), generator=generator)]
        return images[pick].float() / 255, labels[pick].clone()

    return draw


@dataclass
class TargetBatch:
    """One shared update's private images: their test-split indices, the uint8 originals, and the batch the
    client computes on after its data-side defense (images in [0, 1], targets maybe soft, hard labels)."""

    index: Tensor
    originals: Tensor
    batch: ClientBatch


def defended_batches(data, class_ids: list[int], targets_cfg, *, batch_size: int, defense,
                     seed: int) -> list[TargetBatch]:
    """The target client's batches (``targets.*`` keys), passed through ``defense``'s data side with a seeded
    generator; the client's other data (for mixing or concealing defenses) is the rest of the test split, never
    another target."""
    targets = select_targets(data.test.labels, class_ids, per_class=targets_cfg.per_class,
                             fraction=targets_cfg.fraction, seed=seed)
    batches = make_batches(targets, data.test.labels, batch_size=batch_size, batching=targets_cfg.batching,
                           seed=seed)
    pool = torch.ones(len(data.test), dtype=torch.bool)
    pool[targets] = False
    context = ClientContext(generator=torch.Generator().manual_seed(seed), num_classes=data.num_classes,
                            purpose="update", other_data=other_data(data.test.images, data.test.labels,
                                                                    pool.nonzero().flatten()))
    out = []
    for index in batches:
        originals, labels = data.test.images[index], data.test.labels[index]
        defended = defense.defend_batch(ClientBatch.from_uint8(originals, labels), context)
        out.append(TargetBatch(index, originals, defended))
    return out
