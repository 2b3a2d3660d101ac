"""Partitions with a fixed amount of data per client, as FedAvg utility experiments set them up (seed 002):
IID clients of ``per_client`` images each, and non-IID clients holding ``labels_per_client`` classes with
``per_label`` images of each, classes shared between clients (unlike :func:`fedpriv.fl.partition.label_partition`,
whose label sets are disjoint and so cannot give 10 clients 2 of MNIST's 10 classes each). No image belongs to two
clients; images left over belong to none.
"""

from __future__ import annotations

import torch
from torch import Tensor


def fixed_iid_partition(labels: Tensor, num_clients: int, *, per_client: int, seed: int) -> list[Tensor]:
    """``num_clients`` disjoint random draws of ``per_client`` images each."""
    needed = num_clients * per_client
    if needed > len(labels):
        raise ValueError(f"{num_clients} clients x {per_client} images = {needed} images; the training split "
                         f"has {len(labels)}")
    order = torch.randperm(len(labels), generator=torch.Generator().manual_seed(seed))
    return list(order[:needed].split(per_client))


def label_share_partition(labels: Tensor, num_clients: int, *, labels_per_client: int, per_label: int,
                          seed: int) -> list[Tensor]:
    """Client ``c`` holds classes ``c, c+1, ..., c+labels_per_client-1`` (modulo the class count, in a seeded
    order of the classes), ``per_label`` images of each; every class is spread over as few clients as that
    rotation allows (10 clients with 2 of 10 classes: each class on exactly 2 clients)."""
    generator = torch.Generator().manual_seed(seed)
    classes = labels.unique()
    if labels_per_client > len(classes):
        raise ValueError(f"labels_per_client={labels_per_client} exceeds the {len(classes)} classes")
    classes = classes[torch.randperm(len(classes), generator=generator)]
    pools = {int(c): (labels == c).nonzero().flatten() for c in classes}
    pools = {c: idx[torch.randperm(len(idx), generator=generator)] for c, idx in pools.items()}
    used = {c: 0 for c in pools}
    clients = []
    for client in range(num_clients):
        parts = []
        for j in range(labels_per_client):
            c = int(classes[(client + j) % len(classes)])
            if used[c] + per_label > len(pools[c]):
                raise ValueError(f"class {c} has {len(pools[c])} training images, too few for every client that "
                                 f"holds it to get {per_label}")
            parts.append(pools[c][used[c]:used[c] + per_label])
            used[c] += per_label
        clients.append(torch.cat(parts))
    return clients
