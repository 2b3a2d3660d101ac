"""Inverting Gradients (Geiping et al. 2020): cosine gradient matching, total variation, signed Adam, restarts."""

from __future__ import annotations

from typing import Annotated

import torch

from fedpriv.attacks.base import Attack, AttackProblem, Reconstruction
from fedpriv.attacks.labels import idlg_label
from fedpriv.attacks.objectives import cosine_distance
from fedpriv.attacks.optimization import GradientMatchingModule, initial_images, run_module
from fedpriv.config.constraints import OneOf, Range


class InvertingGradients(Attack):
    """Reconstruct a batch from its gradient by maximising cosine similarity between gradients.

    Args:
        iterations: optimisation steps per restart (the paper ran 4,800 to 24,000; CPU runs use fewer).
        restarts: independent random starts; the reconstruction with the lowest final objective is kept.
        lr: Adam step size (0.1 in the paper) with drops by 10x at 3/8, 5/8 and 7/8 of the run (``step``).
        tv_weight: weight of the total-variation prior on the model-space images.
        signed: use the sign of the image gradient, as the paper does.
        init: ``randn`` (standard normal in model space) or ``uniform`` (uniform over valid pixels).
        labels: ``given`` (the server knows the batch labels) or ``infer`` (iDLG's rule, batch size 1).
        schedule: ``step``, ``cosine`` or ``none``.
    """

    name = "inverting_gradients"

    def __init__(
        self,
        *,
        iterations: Annotated[int, Range(1)] = 300,
        restarts: Annotated[int, Range(1, 64)] = 1,
        lr: Annotated[float, Range(0, None, low_open=True)] = 0.1,
        tv_weight: Annotated[float, Range(0)] = 1e-4,
        signed: bool = True,
        init: Annotated[str, OneOf(("randn", "uniform"))] = "randn",
        labels: Annotated[str, OneOf(("given", "infer"))] = "infer",
        schedule: Annotated[str, OneOf(("step", "cosine", "none"))] = "step",
    ):
        self.iterations = iterations
        self.restarts = restarts
        self.lr = lr
        self.tv_weight = tv_weight
        self.signed = signed
        self.init = init
        self.label_source = labels
        self.schedule = schedule

    def infer_labels(self, problem: AttackProblem) -> torch.Tensor:
        if self.label_source == "given" and problem.labels is not None:
            return problem.labels
        if problem.batch_size != 1:
            from fedpriv.config.validate import ConfigError

            raise ConfigError([f"attack.labels=infer needs fl.batch_size=1 (iDLG's rule); got {problem.batch_size}. "
                               "Use attack.labels=given for larger batches"])
        return idlg_label(problem.model, problem.update.gradients)

    def reconstruct(self, problem: AttackProblem) -> Reconstruction:
        device = problem.device
        labels = self.infer_labels(problem).to(device)
        target = [g.to(device) for g in problem.update.gradients]
        bounds = tuple(b.to(device) for b in problem.bounds)
        generator = torch.Generator().manual_seed(problem.seed)
        best, seconds = None, 0.0
        for restart in range(self.restarts):
            init = initial_images(self.init, (problem.batch_size, *problem.shape), problem.bounds, generator).to(device)
            module = GradientMatchingModule(
                model=problem.model, target=target, labels=labels, init=init, bounds=bounds,
                objective=cosine_distance, tv_weight=self.tv_weight, lr=self.lr, iterations=self.iterations,
                schedule=self.schedule, signed=self.signed,
            )
            seconds += run_module(module, iterations=self.iterations, device=device, progress=problem.progress)
            if best is None or module.final_loss < best[0]:
                best = (module.final_loss, module.candidate.detach().clone(), init.clamp(bounds[0], bounds[1]), restart)
        loss, images, initial, restart = best
        return Reconstruction(
            images=images, labels=labels.detach(), loss=loss, initial=initial,
            info={"attack_seconds": seconds, "best_restart": restart, "iterations": self.iterations * self.restarts},
        )
