"""GradInversion (Yin et al. 2021, "See through Gradients"): gradient matching with BatchNorm, image and group priors.

Matching gradients alone becomes badly under-determined as the batch grows: many batches of noise-like images
average to nearly the same gradient. GradInversion adds what the server knows about natural inputs of this model.
Each BatchNorm layer stores running means and variances of its input over the training data; a batch of real
images produces statistics close to those at every layer, while noise does not. Penalising the distance between
the candidate batch's per-channel statistics and the stored ones (a DeepInversion-style prior) steers all layers
at once, which is what lets the attack resolve large batches on deep BatchNorm networks such as ResNets. Two
cheap image priors (total variation and a small L2 norm) keep pixels smooth and bounded, and several restarts
optimised together are pulled towards their common mean (group consistency), so that details that only some
restarts found reinforce each other while artefacts peculiar to one start fade.
"""

from __future__ import annotations

import logging
import math
from typing import Annotated, Callable, Optional

import torch
from torch import Tensor, nn
from torch.func import functional_call
from torch.nn.modules.batchnorm import _BatchNorm

from fedpriv.attacks.base import AttackProblem
from fedpriv.attacks.engine import OPTIMIZERS, SCHEDULES
from fedpriv.attacks.labels import last_linear
from fedpriv.attacks.optimization import LABEL_SOURCES, OptimizationAttack
from fedpriv.config.constraints import OneOf, Range

log = logging.getLogger(__name__)

Statistics = dict[str, tuple[Tensor, Tensor, float]]


def running_statistics(model: nn.Module) -> Statistics:
    """Running mean, running variance and eps of every BatchNorm layer that tracks them, by module name."""
    return {name: (m.running_mean.detach().clone(), m.running_var.detach().clone(), m.eps)
            for name, m in model.named_modules()
            if isinstance(m, _BatchNorm) and m.running_mean is not None and m.running_var is not None}


def _relative(mean: Tensor, var: Tensor, ref_mean: Tensor, ref_var: Tensor, eps: float) -> Tensor:
    """Squared deviations in units of the stored statistics, averaged over channels: every layer counts about
    the same whatever its width or activation scale, and the pull fades near the stored values, which a batch of
    a few images legitimately misses by sampling error."""
    scale = ref_var + eps
    return ((mean - ref_mean).pow(2) / scale).mean() + ((var - ref_var) / scale).pow(2).mean()


def _l2(mean: Tensor, var: Tensor, ref_mean: Tensor, ref_var: Tensor, eps: float) -> Tensor:
    """The paper's form: plain L2 norms of the mean and variance differences; wide, large-activation layers
    dominate the sum."""
    return (mean - ref_mean).norm() + (var - ref_var).norm()


BN_DISTANCES = {"relative": _relative, "l2": _l2}


def batchnorm_distance(model: nn.Module, params: dict, buffers: dict, x: Tensor, reference: Statistics,
                       distance: str = "relative") -> Tensor:
    """Sum over BatchNorm layers of the distance between the batch's per-channel mean and variance of the layer's
    input and the stored ones (``reference``, by module name). Functional, so it runs under ``vmap``.

    The batch variance is the unbiased one: running variances average unbiased batch variances, so for a batch
    drawn from the training distribution the two agree in expectation whatever the batch size.
    """
    modules = dict(model.named_modules())
    seen: dict[str, Tensor] = {}
    # Hooks are the only way to read a layer's input without rewriting the model's forward; they live for this
    # one call, so the protocol's own forward passes never see them.
    handles = [modules[name].register_forward_pre_hook(lambda module, args, name=name: seen.__setitem__(name, args[0]))
               for name in reference]
    try:
        functional_call(model, (params, buffers), (x,))
    finally:
        for handle in handles:
            handle.remove()
    layer_distance = BN_DISTANCES[distance]
    total = x.new_zeros(())
    for name, (mean, var, eps) in reference.items():
        a = seen[name]
        dims = [0, *range(2, a.dim())]
        total = total + layer_distance(a.mean(dims), a.var(dims, correction=1), mean, var, eps)
    return total


def yin_labels(model: nn.Module, gradients: list[Tensor], batch_size: int) -> Tensor:
    """GradInversion's label rule: the classes whose row of the last layer's weight gradient has the most negative
    entry (with non-negative features, only classes present in the batch get negative entries).

    The rule assumes a batch of distinct labels (its ImageNet setting); when the batch is larger than the class
    count, classes repeat in the order of that ranking. The counting rule (``labels=infer``) handles repeats.
    """
    _, weight_pos, _ = last_linear(model)
    ranking = gradients[weight_pos].min(dim=1).values.argsort()
    return ranking[torch.arange(batch_size, device=ranking.device) % len(ranking)].sort().values


class GradInversion(OptimizationAttack):
    """GradInversion: gradient matching + BatchNorm statistics prior + total variation + L2 norm + group consistency.

    Defaults are chosen for CPU runs of a few hundred iterations; the paper's settings (ResNet-50 on ImageNet on a
    GPU) are given after each key.

    Args:
        distance: ``cosine`` by default. The paper matched gradients with an L2 (``euclidean``) fidelity, whose
            scale follows the size of the victim's gradients (large for an untrained model, tiny for a trained
            one), so the prior weights would need retuning per victim; the cosine distance lies in [0, 2] and keeps
            the weights below meaningful across models and training stages.
        layer_weights: ``equal`` (the paper weights all layers alike).
        optimizer / lr / schedule / signed: Adam, 0.1, ``cosine``, unsigned steps (the paper: Adam at 0.1 with
            cosine decay, unsigned, 20,000 iterations).
        iterations: 300 (paper: 20,000).
        bn_weight: weight of the BatchNorm statistics prior, 0.01 (paper: 0.1 on its L2 fidelity scale). It needs
            BatchNorm layers with running statistics (any mode: the server sent them); without them it is zero.
        l2_weight: weight of the mean squared pixel value in model space, 1e-4 (paper: 1e-6 on the batch's norm).
        tv_weight: total variation, 1e-4 (paper: 1e-4).
        group_weight: weight of group consistency, 0 (off) by default since it needs ``restarts`` > 1 (paper: 0.01
            with several restarts). Each restart is pulled towards the pixel-wise mean of its problem's restarts,
            measured as the mean squared difference. The paper first registers the members onto the mean (image
            alignment with RANSAC-flow) so that shifted copies of the same object average sharply; here the mean is
            plain, which is exact when the restarts agree on where objects sit and blurs the pull where they do
            not. The kept reconstruction is still one member: the restart with the lowest matching objective.
            The pull needs all restarts of a problem in one computation, so ``parallel`` is rounded up to a
            multiple of ``restarts`` when it is on (memory grows accordingly), and it cannot be combined with
            L-BFGS, which optimises one restart at a time.
        labels: ``given``, ``infer`` (iDLG at batch size 1, the counting rule above it; default), ``yin`` (the
            paper's rule, :func:`yin_labels`: distinct labels only) or ``optimize``.
        Others: see :class:`~fedpriv.attacks.optimization.OptimizationAttack`.

    Not reproduced: the paper's Langevin noise on the candidates and its registration step (see above).
    """

    name = "gradinversion"

    def __init__(
        self,
        *,
        restarts: Annotated[int, Range(1, 256)] = 1,
        optimizer: Annotated[str, OneOf(OPTIMIZERS)] = "adam",
        schedule: Annotated[str, OneOf(SCHEDULES)] = "cosine",
        signed: bool = False,
        bn_weight: Annotated[float, Range(0)] = 1e-2,
        bn_distance: Annotated[str, OneOf(tuple(BN_DISTANCES))] = "relative",
        l2_weight: Annotated[float, Range(0)] = 1e-4,
        group_weight: Annotated[float, Range(0)] = 0.0,
        labels: Annotated[str, OneOf((*LABEL_SOURCES, "yin"))] = "infer",
        parallel: Annotated[int, Range(1, 4096)] = 1,
        **common,
    ):
        problems = self.config_problems(optimizer=optimizer, restarts=restarts, group_weight=group_weight)
        if problems:
            from fedpriv.config.validate import ConfigError

            raise ConfigError([f"attack.{p}" for p in problems])
        super().__init__(restarts=restarts, optimizer=optimizer, schedule=schedule, signed=signed, labels=labels,
                         parallel=parallel, **common)
        self.bn_weight, self.bn_distance = bn_weight, bn_distance
        self.l2_weight, self.group_weight = l2_weight, group_weight
        if self.grouped:
            self.parallel = restarts * math.ceil(parallel / restarts)
        self._reference: Statistics = {}

    @staticmethod
    def config_problems(optimizer: str = "adam", restarts: int = 1, group_weight: float = 0.0, **_) -> list[str]:
        if group_weight > 0 and restarts > 1 and optimizer == "lbfgs":
            return [f"group_weight={group_weight!r} needs the restarts optimised together, which optimizer=lbfgs "
                    "cannot do (it runs one restart at a time); use optimizer=adam or sgd, or group_weight=0"]
        return []

    @property
    def grouped(self) -> bool:
        return self.group_weight > 0 and self.restarts > 1

    def problem_labels(self, problem: AttackProblem) -> Tensor:
        if self.label_source == "yin":
            return yin_labels(problem.model, problem.update.gradients, problem.reconstruct_size)
        return super().problem_labels(problem)

    def problem_loss(self, problem: AttackProblem):
        # Read the statistics from the model the server sent: in train mode the base class optimises against a
        # copy whose BatchNorm layers no longer hold running buffers.
        self._reference = running_statistics(problem.model) if self.bn_weight > 0 else {}
        if self.bn_weight > 0 and not self._reference:
            log.warning("attack.bn_weight=%g has no effect: %s has no BatchNorm running statistics",
                        self.bn_weight, type(problem.model).__name__)
        return super().problem_loss(problem)

    def penalty(self, model: nn.Module, params: dict, buffers: dict, x: Tensor) -> Tensor | float:
        total = x.new_zeros(())
        if self.l2_weight > 0:
            total = total + self.l2_weight * x.pow(2).mean()
        if self.bn_weight > 0 and self._reference:
            total = total + self.bn_weight * batchnorm_distance(model, params, buffers, x, self._reference,
                                                                 self.bn_distance)
        return total

    def joint_penalty(self, problems: list[int]) -> Optional[Callable[[Tensor], Tensor]]:
        if not self.grouped:
            return None
        members = [[k for k, p in enumerate(problems) if p == problem] for problem in dict.fromkeys(problems)]
        members = [torch.tensor(m) for m in members if len(m) > 1]
        weight = self.group_weight

        def consistency(candidates: Tensor) -> Tensor:
            total = candidates.new_zeros(())
            for index in members:
                group = candidates[index.to(candidates.device)]
                # For a squared distance, detaching the mean leaves each member's gradient unchanged (the members'
                # deviations sum to zero); detaching just skips that redundant path.
                centre = group.mean(0, keepdim=True).detach()
                total = total + weight * (group - centre).pow(2).flatten(1).mean(1).sum()
            return total

        return consistency
