"""Optimisation attacks as Lightning modules: the dummy images are the parameters, one step per attack iteration."""

from __future__ import annotations

import copy
import time
from typing import Callable, Sequence

import lightning as L
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader, IterableDataset

from fedpriv.attacks.objectives import total_variation
from fedpriv.utils.runtime import quiet_lightning, trainer_kwargs

Objective = Callable[[Sequence[Tensor], Sequence[Tensor]], Tensor]


class _Steps(IterableDataset):
    """An endless stream of step indices; the Trainer's ``max_steps`` sets the number of attack iterations."""

    def __iter__(self):
        step = 0
        while True:
            yield step
            step += 1


def step_milestones(iterations: int) -> list[int]:
    """Learning-rate drops at 3/8, 5/8 and 7/8 of the run (Inverting Gradients' step schedule)."""
    return sorted({max(1, int(iterations * f)) for f in (3 / 8, 5 / 8, 7 / 8)})


class GradientMatchingModule(L.LightningModule):
    """Find inputs whose gradient on ``model`` matches the shared one.

    Args:
        model: the victim, in the client's mode; a private copy is kept.
        target: the shared gradients, one per parameter.
        labels: labels used to compute candidate gradients.
        init: model-space starting images ``(B, C, H, W)``.
        bounds: model-space (low, high) per channel; candidates are projected into this box after every step.
        objective: distance between candidate and target gradients.
        tv_weight: weight of the total-variation prior.
        lr / iterations / schedule: Adam's step size and its schedule (``step``, ``cosine`` or ``none``).
        signed: step on the sign of the gradient (Inverting Gradients' choice; robust to its scale).
    """

    def __init__(self, *, model: nn.Module, target: Sequence[Tensor], labels: Tensor, init: Tensor,
                 bounds: tuple[Tensor, Tensor], objective: Objective, tv_weight: float, lr: float, iterations: int,
                 schedule: str = "step", signed: bool = True):
        super().__init__()
        self.automatic_optimization = False
        self.candidate = nn.Parameter(init.detach().clone())
        self.victim = copy.deepcopy(model)
        self.victim.train(model.training)
        for p in self.victim.parameters():
            p.requires_grad_(True)
        self.register_buffer("low", bounds[0].detach().clone(), persistent=False)
        self.register_buffer("high", bounds[1].detach().clone(), persistent=False)
        self.register_buffer("labels", labels.detach().clone(), persistent=False)
        for i, t in enumerate(target):
            self.register_buffer(f"target_{i}", t.detach().clone(), persistent=False)
        self._n_target = len(target)
        self.objective = objective
        self.tv_weight = tv_weight
        self.lr = lr
        self.iterations = iterations
        self.schedule = schedule
        self.signed = signed
        self.final_loss = float("nan")

    @property
    def target(self) -> list[Tensor]:
        return [getattr(self, f"target_{i}") for i in range(self._n_target)]

    def matching_loss(self, x: Tensor) -> Tensor:
        params = list(self.victim.parameters())
        loss = F.cross_entropy(self.victim(x), self.labels)
        grads = torch.autograd.grad(loss, params, create_graph=True)
        total = self.objective(grads, self.target)
        if self.tv_weight > 0:
            total = total + self.tv_weight * total_variation(x)
        return total

    def configure_optimizers(self):
        optimizer = torch.optim.Adam([self.candidate], lr=self.lr)
        if self.schedule == "step":
            scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, step_milestones(self.iterations), gamma=0.1)
        elif self.schedule == "cosine":
            scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=self.iterations)
        else:
            return optimizer
        return [optimizer], [scheduler]

    def training_step(self, batch, batch_idx):
        optimizer = self.optimizers()
        optimizer.zero_grad()
        loss = self.matching_loss(self.candidate)
        # Only the candidate needs a gradient; skipping the victim's weights saves a second-order pass.
        self.manual_backward(loss, inputs=[self.candidate])
        if self.signed:
            self.candidate.grad.sign_()
        optimizer.step()
        scheduler = self.lr_schedulers()
        if scheduler is not None:
            scheduler.step()
        with torch.no_grad():
            self.candidate.copy_(torch.maximum(torch.minimum(self.candidate, self.high), self.low))
        self.log("rec_loss", loss.detach(), prog_bar=True, on_step=True, on_epoch=False, batch_size=1)

    def on_train_end(self):
        with torch.enable_grad():
            self.final_loss = float(self.matching_loss(self.candidate.detach().requires_grad_(True)).detach())


def run_module(module: L.LightningModule, *, iterations: int, device: torch.device, progress: bool) -> float:
    """Fit ``module`` for ``iterations`` steps with a Lightning Trainer; returns the seconds spent."""
    quiet_lightning()
    trainer = L.Trainer(max_steps=iterations, **trainer_kwargs(device, progress=progress))
    start = time.perf_counter()
    trainer.fit(module, train_dataloaders=DataLoader(_Steps(), batch_size=None))
    return time.perf_counter() - start


def initial_images(kind: str, shape: tuple[int, ...], bounds: tuple[Tensor, Tensor], generator: torch.Generator) -> Tensor:
    """Starting points of the optimisation: standard normal in model space, or uniform within the pixel box."""
    if kind == "uniform":
        u = torch.rand(shape, generator=generator)
        return bounds[0].cpu() + u * (bounds[1].cpu() - bounds[0].cpu())
    return torch.randn(shape, generator=generator)
