"""The first stages of Carlini et al.'s attack on instance encodings, for an attacker not told the mixing.

"Is Private Learning Possible with Instance Encoding?" (Carlini et al. 2021) breaks InstaHide in three steps:
(1) a similarity graph between encodings that tells which pairs share a private image, (2) a clustering of that
graph into one group per private image, (3) recovering each private image and the mixing weights by solving the
mixture over the groups. Here (1) is the cosine similarity of the centred, high-passed encodings (of their
absolute values ``|2x - 1|`` for a sign-flipped encoding, which the flips leave unchanged) instead of the paper's
trained similarity network; (2) uses what the defense guarantees, that every private image leads one encoding per epoch
(its own, largest-on-average component), as a one-to-one assignment of each epoch's encodings to the groups;
(3) alternates least squares for the images with a support-restricted, simplex-normalised least squares for
each encoding's ``k`` weights, regrouping each epoch's encodings by the estimated weights every round.
:mod:`fedpriv.attacks.decoders` then solves a sign-flipped encoding as for a known mapping, with these weights.
"""

from __future__ import annotations

from typing import Optional

import torch
from scipy.optimize import linear_sum_assignment
from torch import Tensor


def high_pass(images: Tensor, size: int = 5) -> Tensor:
    """``(M, C, H, W)`` images less their local mean over ``size x size`` windows: edges and texture tell private
    images apart, while the smooth low frequencies natural images share blur every pair into looking alike
    (measured on CIFAR-10 Mixup k=6: 55% of encodings grouped right with the high-pass, 35% without)."""
    padded = torch.nn.functional.pad(images, (size // 2,) * 4, mode="replicate")
    return images - torch.nn.functional.avg_pool2d(padded, size, stride=1)


def similarity_graph(features: Tensor) -> Tensor:
    """``(M, M)`` cosine similarities of ``(M, D)`` features centred on their mean: pixels every image shares
    (the dataset's mean image) say nothing about which private image two encodings share."""
    centred = features - features.mean(0, keepdim=True)
    unit = centred / centred.norm(dim=1, keepdim=True).clamp_min(1e-12)
    return unit @ unit.T


def cluster_by_epoch(similarity: Tensor, epoch: Tensor, *, passes: int = 3) -> Tensor:
    """One group per encoding of the first epoch; every other epoch's encodings are assigned one-to-one to the
    groups (Hungarian matching on the mean similarity to each group's current members), then all epochs are
    reassigned against the grown groups ``passes`` times. Returns the group of every encoding."""
    epochs = epoch.unique(sorted=True)
    groups = torch.full((len(epoch),), -1, dtype=torch.long)
    first = (epoch == epochs[0]).nonzero()[:, 0]
    groups[first] = torch.arange(len(first))
    for sweep in range(passes):
        for e in epochs if sweep else epochs[1:]:
            rows = (epoch == e).nonzero()[:, 0]
            if sweep:
                groups[rows] = -1
            score = group_affinity(similarity[rows], groups, len(first))
            r, c = linear_sum_assignment(score.numpy(), maximize=True)
            groups[rows[torch.as_tensor(r)]] = torch.as_tensor(c, dtype=torch.long)
    return groups


def cluster_greedy(similarity: Tensor, groups: int) -> Tensor:
    """Without epochs: seeds chosen farthest-first (least similar to the seeds so far), every encoding joins the
    seed it is most similar to."""
    seeds = [int(similarity.sum(1).argmax())]
    while len(seeds) < groups:
        seeds.append(int(similarity[:, seeds].max(1).values.argmin()))
    return similarity[:, seeds].argmax(1)


def group_affinity(similarity_rows: Tensor, groups: Tensor, count: int) -> Tensor:
    """``(R, count)`` mean similarity of each row to the assigned members of each group."""
    member = torch.zeros(len(groups), count)
    assigned = groups >= 0
    member[assigned.nonzero()[:, 0], groups[assigned]] = 1
    return (similarity_rows @ member) / member.sum(0).clamp_min(1)


def estimate_weights(features: Tensor, images: Tensor, groups: Tensor, k: int) -> Tensor:
    """``(M, n)`` mixing weights: each encoding's own group plus the ``k - 1`` other images whose unconstrained
    least-squares coefficients are largest, refitted on that support, clipped at 0 and normalised to sum to 1
    (the attacker knows a mixture is convex). Solved through the ``n x n`` Gram matrix of the images, so the cost
    does not grow with the pixel count beyond one product."""
    count = images.shape[0]
    gram = images @ images.T + 1e-6 * torch.eye(count)
    projections = features @ images.T  # (M, n)
    coefficients = torch.linalg.solve(gram, projections.T).T
    rows = torch.arange(len(features))
    coefficients[rows, groups] = float("inf")  # the own group is always in the support
    support = coefficients.topk(min(k, count), dim=1).indices  # (M, k)
    fit = torch.linalg.solve(gram[support[:, :, None], support[:, None, :]], projections.gather(1, support))
    fit = fit.clamp_min(0)
    fit = fit / fit.sum(1, keepdim=True).clamp_min(1e-12)
    return torch.zeros(len(features), count).scatter_(1, support, fit)


def regroup_by_epoch(weights: Tensor, epoch: Tensor) -> Tensor:
    """Each epoch's encodings matched one-to-one to the images they weigh most (every image leads one encoding
    per epoch, with concentration 3 against 1 for its partners)."""
    groups = torch.empty(len(weights), dtype=torch.long)
    for e in epoch.unique():
        rows = (epoch == e).nonzero()[:, 0]
        r, c = linear_sum_assignment(weights[rows].numpy(), maximize=True)
        groups[rows[torch.as_tensor(r)]] = torch.as_tensor(c, dtype=torch.long)
    return groups


def solve_mixture(features: Tensor, groups: Tensor, k: int, *, epoch: Optional[Tensor] = None, rounds: int = 10,
                  box: Optional[tuple[float, float]] = (0.0, 1.0)) -> tuple[Tensor, Tensor, Tensor]:
    """Alternate images and weights, starting from each group's mean; with ``epoch``, the groups are matched
    again to the estimated weights every round. Returns ``(n, D)`` images, ``(M, n)`` weights and the groups."""
    count = int(groups.max()) + 1
    member = torch.nn.functional.one_hot(groups, count).float()
    images = (member.T @ features) / member.sum(0)[:, None].clamp_min(1)
    weights = member
    for _ in range(rounds):
        weights = estimate_weights(features, images, groups, k)
        images = torch.linalg.lstsq(weights, features, driver="gelsd").solution
        if box is not None:
            images = images.clamp(*box)
        if epoch is not None:
            groups = regroup_by_epoch(weights, epoch)
    return images, weights, groups
