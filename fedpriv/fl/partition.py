"""Split a training set among FL clients: IID, by label shards, by disjoint label sets, or by Dirichlet proportions.

Each function takes the training labels and returns one tensor of indices per client. Every index appears in
exactly one client, and the split depends only on its arguments (``seed`` included), so a sweep that reuses a
seed reuses the federation. These are the three partitions the FL privacy literature reports on:

- ``iid``: a seeded shuffle cut into near-equal parts (sizes differ by at most one image);
- ``shards``: McMahan et al.'s pathological non-IID split; the images of each class are cut into shards and every
  client receives ``shards_per_client`` of them, so it sees at most that many classes (seed 002: 2 per client);
- ``dirichlet``: each class is spread over the clients in proportions drawn from Dir(alpha) (Hsu et al. 2019);
  a small alpha gives each class to few clients, a large alpha approaches the IID split;
- ``labels``: clients hold disjoint label sets (seed 004's non-IID setting): no two clients share a class, so a
  client's update speaks only of its own classes. Classes left over when ``labels_per_client`` is set belong to
  no client (the one exception to "every index appears once").
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

PARTITIONS = ("iid", "shards", "dirichlet", "labels")


def iid_partition(labels: Tensor, num_clients: int, *, seed: int) -> list[Tensor]:
    """A seeded shuffle of all indices cut into ``num_clients`` parts of near-equal size."""
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed))
    return list(torch.tensor_split(order, num_clients))


def shard_partition(labels: Tensor, num_clients: int, *, shards_per_client: int, seed: int) -> list[Tensor]:
    """Each client receives ``shards_per_client`` shards, and every shard holds images of one class only.

    Shards are allotted to classes in proportion to their size (each class at least one), so no shard straddles
    two classes, and a client never sees more classes than it holds shards; it may see fewer when two of its
    shards come from the same class, as in McMahan et al.'s sort-and-cut split.
    """
    generator = torch.Generator().manual_seed(seed)
    classes, counts = labels.unique(return_counts=True)
    total = num_clients * shards_per_client
    if total < len(classes) or total > len(labels):
        raise ValueError(f"num_clients x shards_per_client = {total} shards cannot cover {len(classes)} classes "
                         f"and {len(labels)} images; it must lie between those two numbers")
    per_class = _allot(counts, total)
    shards = []
    for c, k in zip(classes.tolist(), per_class.tolist()):
        members = (labels == c).nonzero().flatten()
        members = members[torch.randperm(len(members), generator=generator)]
        shards += list(torch.tensor_split(members, k))
    order = torch.randperm(total, generator=generator).tolist()
    return [torch.cat([shards[s] for s in order[i * shards_per_client:(i + 1) * shards_per_client]])
            for i in range(num_clients)]


def _allot(counts: Tensor, total: int) -> Tensor:
    """Shards per class: at least one each, at most one per image, the rest by largest remainder."""
    share = counts.double() / counts.sum() * total
    allotted = share.floor().long().clamp(min=1)
    allotted = torch.minimum(allotted, counts)
    while allotted.sum() > total:  # the minimum of one pushed us over: take from the best-served class
        surplus = torch.where(allotted > 1, allotted.double() - share, torch.full_like(share, -1e9))
        allotted[surplus.argmax()] -= 1
    while allotted.sum() < total:
        room = torch.where(allotted < counts, share - allotted.double(), torch.full_like(share, -1e9))
        allotted[room.argmax()] += 1
    return allotted


def dirichlet_partition(labels: Tensor, num_clients: int, *, alpha: float, seed: int) -> list[Tensor]:
    """Each class is divided among the clients in proportions drawn from a symmetric Dirichlet(alpha).

    Clients may end up with no images when alpha is small; FedAvg weights clients by their data, so an empty
    client contributes nothing to a round.
    """
    rng = np.random.default_rng(seed)
    generator = torch.Generator().manual_seed(seed)
    parts: list[list[Tensor]] = [[] for _ in range(num_clients)]
    for c in labels.unique().tolist():
        members = (labels == c).nonzero().flatten()
        members = members[torch.randperm(len(members), generator=generator)]
        # Gamma draws normalised to sum one are a Dirichlet draw; for a tiny alpha they can all underflow to zero,
        # which is the limit of one client taking the whole class.
        weights = rng.standard_gamma(alpha, num_clients)
        if not np.isfinite(weights).all() or weights.sum() <= 0:
            weights = np.eye(num_clients)[rng.integers(num_clients)]
        edges = np.round(np.cumsum(weights / weights.sum()) * len(members)).astype(int)
        edges[-1] = len(members)
        start = 0
        for client, end in enumerate(edges.tolist()):
            parts[client].append(members[start:end])
            start = end
    return [torch.cat(p) for p in parts]


def label_partition(labels: Tensor, num_clients: int, *, labels_per_client: int | None = None,
                    seed: int) -> list[Tensor]:
    """Each client holds every image of its own classes, and no class belongs to two clients.

    The classes are shuffled with ``seed`` and dealt out: ``labels_per_client`` each (the rest unused), or, when
    it is None, all of them in near-equal groups (10 classes over 3 clients: 4, 3 and 3).
    """
    classes = labels.unique()
    needed = num_clients * (labels_per_client or 1)
    if needed > len(classes):
        raise ValueError(f"{num_clients} clients x {labels_per_client or 1} labels each need {needed} distinct "
                         f"classes; the training split has {len(classes)}")
    generator = torch.Generator().manual_seed(seed)
    classes = classes[torch.randperm(len(classes), generator=generator)]
    if labels_per_client is None:
        groups = list(torch.tensor_split(classes, num_clients))
    else:
        groups = [classes[i * labels_per_client:(i + 1) * labels_per_client] for i in range(num_clients)]
    return [torch.isin(labels, group).nonzero().flatten() for group in groups]
