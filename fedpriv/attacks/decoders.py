"""Decoders an adaptive attacker runs after gradient inversion, to undo a data-side encoding (``attack.decode``).

``mixup``: Carlini et al.'s attack on instance encodings ("Is Private Learning Possible with Instance Encoding?",
2021) as GradAttack runs it for seed 003. A client that trains with Mixup or InstaHide shares updates of fresh
encodings every epoch; gradient inversion recovers the encodings, not the private images. Each private image
takes part in about ``k`` encodings per epoch, so over several epochs the encodings form an over-determined
linear system in the private images, and solving it recovers them: seed 003 reports Mixup broken this way
(29 dB, better than no defense) and InstaHide, whose sign flips leave only absolute values, badly weakened.

What is implemented of Carlini's pipeline:

- known mixing (GradAttack's strong attacker, seed 003's setting: the mapping and weights of every encoding are
  granted): for Mixup the exact least-squares solution of ``W X = E`` (the minimiser of GradAttack's objective,
  which it approaches with 1000 Adam steps); for InstaHide GradAttack's objective ``|| |W X| - |E| ||^2`` on
  zero-centred images, boxed to [-1, 1], solved pixel by pixel with restarts (:func:`solve_signed`; GradAttack's
  Adam run stalls in local minima);
- unknown mixing: the similarity graph, clustering and mixture solving of :mod:`fedpriv.attacks.mixing_clusters`,
  then the same final step with the estimated weights. Carlini's trained similarity network and colour
  correction are not implemented (a cosine similarity of centred encodings stands in for the network).

InstaHide's absolute values hide one sign per pixel shared by all private images (flipping pixel p of every image
leaves every ``|W X|`` unchanged); the decoder aligns these signs so neighbouring pixels agree across the
dataset (natural images are smooth), which leaves a single global sign: the decoded images are either the
private images or all their negatives ``1 - x``, and the decoder cannot tell which.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Optional

import torch
from torch import Tensor

from fedpriv.attacks.mixing_clusters import (cluster_by_epoch, cluster_greedy, high_pass, similarity_graph,
                                             solve_mixture)
from fedpriv.config.constraints import OneOf
from fedpriv.defenses.client import DefenseKnowledge

DECODERS = ("none", "mixup", "loda_inverse")
Decode = Annotated[str, OneOf(DECODERS)]


@dataclass
class DecodedImages:
    """The decoder's estimates ``images`` ``(n, C, H, W)`` in [0, 1], one per private image; ``weights``
    ``(M, n)`` the mixing it assumed for every encoding (columns are the estimates); ``groups`` ``(M,)`` the
    estimate each encoding weighs most when the mixing was estimated, else None;
    ``sign_ambiguous``: the estimates may as well be ``1 - images`` (InstaHide, see the module)."""

    images: Tensor
    weights: Tensor
    groups: Optional[Tensor] = None
    sign_ambiguous: bool = False


def dense_weights(mix_index: Tensor, mix_weight: Tensor, count: int) -> Tensor:
    """``(M, count)`` weights from per-encoding component indices and weights ``(M, k)``."""
    weights = torch.zeros(len(mix_index), count)
    return weights.scatter_add_(1, mix_index.long().cpu(), mix_weight.float().cpu())


def decode_mixup(encodings: Tensor, *, signed: bool = False, mix_index: Optional[Tensor] = None,
                 mix_weight: Optional[Tensor] = None, num_private: Optional[int] = None, k: int = 4,
                 epoch: Optional[Tensor] = None, starts: int = 4, restarts: int = 16, iterations: int = 30,
                 generator: Optional[torch.Generator] = None) -> DecodedImages:
    """Private images behind ``encodings`` ``(M, C, H, W)`` (pixel space, [0, 1]; InstaHide's as its defense keeps
    them) of one client's dataset over several epochs.

    Args:
        signed: the encodings are sign-flipped (InstaHide): solve on absolute values of ``2x - 1``.
        mix_index / mix_weight: ``(M, k)`` the components (indices into the client's dataset) and weights of
            every encoding, when the threat model grants them; otherwise the mixing is estimated from the
            encodings (then ``epoch`` per encoding, or ``num_private``, and ``k`` are needed); the estimates are
            then an unordered set (pair them with the private images by matching, as the trial does).
        starts: seed epochs tried when estimating the mixing (:func:`best_start`).
        restarts / iterations: of the sign-flipped solver (:func:`solve_signed`).
        generator: seeds the random starts of the sign-flipped solver.
    """
    shape = encodings.shape[1:]
    flat = encodings.detach().float().cpu().flatten(1)
    target = (2 * flat - 1).abs() if signed else flat
    groups = None
    if mix_index is not None and mix_weight is not None:
        count = num_private or int(mix_index.max()) + 1
        weights = dense_weights(mix_index, mix_weight, count)
        images = None if signed else torch.linalg.lstsq(weights, target, driver="gelsd").solution.clamp(0, 1)
    else:
        similarity = similarity_graph(high_pass(target.reshape(-1, *shape)).flatten(1))
        if epoch is not None:
            images, weights, groups = best_start(similarity, target, epoch.cpu(), k, starts)
        elif num_private is not None:
            images, weights, groups = solve_mixture(target, cluster_greedy(similarity, num_private), k)
        else:
            raise ValueError("decoding without the mixing needs each encoding's epoch or the number of private images")
    if signed:
        centred = solve_signed(weights, target, restarts=restarts, iterations=iterations, generator=generator)
        images = (align_signs(centred.reshape(-1, *shape)).flatten(1) + 1) / 2
    return DecodedImages(images=images.reshape(-1, *shape), weights=weights, groups=groups, sign_ambiguous=signed)


def best_start(similarity: Tensor, target: Tensor, epoch: Tensor, k: int, starts: int
               ) -> tuple[Tensor, Tensor, Tensor]:
    """Cluster and solve with each of ``starts`` epochs (evenly spaced) seeding the groups, and keep the solution
    that explains the encodings best (smallest residual): the clustering is the fragile step, and which seed
    epoch groups well varies from dataset to dataset."""
    rank = torch.searchsorted(epoch.unique(sorted=True), epoch)
    count = int(rank.max()) + 1
    best, best_residual = None, float("inf")
    for first in torch.linspace(0, count, max(1, min(starts, count)) + 1)[:-1].long().tolist():
        shifted = (rank - first) % count
        solution = solve_mixture(target, cluster_by_epoch(similarity, shifted), k, epoch=shifted)
        residual = float((target - solution[1] @ solution[0]).pow(2).mean())
        if residual < best_residual:
            best, best_residual = solution, residual
    return best


def solve_signed(weights: Tensor, magnitudes: Tensor, *, restarts: int = 16, iterations: int = 30,
                 generator: Optional[torch.Generator] = None) -> Tensor:
    """Zero-centred images ``X`` ``(n, D)`` in [-1, 1] minimising ``(|W X| - |E|)^2`` (GradAttack's InstaHide
    objective), pixel by pixel: every pixel is its own small sign-retrieval problem (``n`` unknowns, one
    measurement per encoding). Each is solved by alternating the signs of ``W X`` and least squares for ``X``
    (the classic method for real phase retrieval) from ``restarts`` random starts, keeping per pixel the start
    with the smallest residual. GradAttack's 1000 Adam steps at lr 0.01 on the same objective stall in local
    minima here (about 15 dB even with the signs set right), which restarts avoid."""
    pinv = torch.linalg.pinv(weights)
    images = torch.rand(restarts, weights.shape[1], magnitudes.shape[1], generator=generator) * 2 - 1
    for _ in range(iterations):
        signs = torch.where(weights @ images >= 0, 1.0, -1.0)
        images = (pinv @ (signs * magnitudes)).clamp(-1, 1)
    residual = ((weights @ images).abs() - magnitudes).pow(2).mean(1)  # (restarts, D)
    best = residual.argmin(0)
    return images[best, :, torch.arange(magnitudes.shape[1])].T


def align_signs(images: Tensor) -> Tensor:
    """Flip, per pixel position, the sign of all ``(n, C, H, W)`` zero-centred images together so that each
    position agrees with its already aligned neighbours (left, above, same pixel of channel 0): a shared flip is
    invisible to ``|W X|``, and natural images correlate across neighbouring pixels."""
    out = images.clone()
    _, channels, height, width = out.shape
    for c in range(channels):
        for h in range(height):
            for w in range(width):
                reference = torch.zeros(len(out))
                if w:
                    reference += out[:, c, h, w - 1]
                if h:
                    reference += out[:, c, h - 1, w]
                if c:
                    reference += out[:, 0, h, w]
                if (reference * out[:, c, h, w]).sum() < 0:
                    out[:, c, h, w] *= -1
    return out


class MixupDecoder:
    """The ``decode=mixup`` stage: turns an attack's reconstructions of a client's encodings (pixel space) into
    estimates of its private images, with what the defense knowledge grants (``extra['mix_index']``,
    ``extra['mix_weight']``, ``extra['epoch']``, ``extra['num_private']``; ``extra['signed']`` for InstaHide)."""

    name = "mixup"

    def __init__(self, *, starts: int = 4, restarts: int = 16, iterations: int = 30, seed: int = 0):
        self.starts = starts
        self.restarts = restarts
        self.iterations = iterations
        self.seed = seed

    def __call__(self, reconstructions: Tensor, knowledge: DefenseKnowledge) -> DecodedImages:
        extra = knowledge.extra
        return decode_mixup(
            reconstructions, signed=bool(extra.get("signed", knowledge.name == "instahide")),
            mix_index=extra.get("mix_index"), mix_weight=extra.get("mix_weight"),
            num_private=extra.get("num_private"), k=int(knowledge.params.get("k", 4)), epoch=extra.get("epoch"),
            starts=self.starts, restarts=self.restarts, iterations=self.iterations,
            generator=torch.Generator().manual_seed(self.seed))


def mixing_knowledge(knowledge: DefenseKnowledge, encoded_info: dict, *, mapping: bool) -> DefenseKnowledge:
    """``knowledge`` extended with what an attacker watching a client's encodings over several epochs has: each
    encoding's epoch and the dataset size, and with ``mapping`` (GradAttack's strong attacker, seed 003) the
    components and weights of every encoding (``encoded_info`` as :func:`fedpriv.defenses.mixing.encode_epochs`
    returns it)."""
    extra = {**knowledge.extra, "epoch": encoded_info["epoch"],
             "num_private": int(encoded_info["mix_index"][:, 0].max()) + 1}
    if mapping:
        extra.update(mix_index=encoded_info["mix_index"], mix_weight=encoded_info["mix_weight"])
    return DefenseKnowledge(name=knowledge.name, params=dict(knowledge.params), mask=knowledge.mask, extra=extra)


def paired_with(decoded: DecodedImages, private: Tensor) -> Tensor:
    """The estimates in the order of ``private`` (``(n, C, H, W)`` in [0, 1]) for scoring: one-to-one matching
    by squared error, as the trial pairs reconstructions; for sign-ambiguous estimates, whichever of ``images``
    and ``1 - images`` matches better overall (the attacker's two candidates, credited with the better one, as
    GradAttack credits its strong attacker)."""
    from fedpriv.metrics.matching import match_reconstructions

    candidates = [decoded.images, 1 - decoded.images] if decoded.sign_ambiguous else [decoded.images]
    best, best_error = None, float("inf")
    for images in candidates:
        ordered = images[match_reconstructions(images, private)].to(private.device)
        error = float((ordered - private).pow(2).mean())
        if error < best_error:
            best, best_error = ordered, error
    return best


def build_decoder(decode: str, **options) -> Optional[MixupDecoder]:
    """The decoder named by ``attack.decode`` (None for ``none``)."""
    if decode == "none":
        return None
    if decode == "mixup":
        return MixupDecoder(**options)
    raise ValueError(f"attack.decode={decode!r}; allowed: {', '.join(DECODERS)}")
