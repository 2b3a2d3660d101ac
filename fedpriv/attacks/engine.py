"""The batched attack engine: K independent gradient-matching problems optimised together in one module.

Each problem k has candidate inputs ``x_k`` (B, C, H, W), labels and a target update. A per-problem loss
function ``problem_loss(x_k, labels_k, *target_k) -> (total_k, objective_k)`` is written with ``torch.func``,
so :func:`torch.func.vmap` evaluates all K problems in one vectorised computation. The problems share no
terms, so the gradient of the summed loss with respect to ``x_k`` is problem k's own gradient, and Adam (and
its sign variant) acts elementwise: optimising K problems together gives the same iterates as optimising them
one by one. L-BFGS couples all parameters through its line search and curvature estimate, so it is only ever
run on a single problem.
"""

from __future__ import annotations

import time
from typing import Callable, Optional, Sequence

import lightning as L
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import vmap
from torch.utils.data import DataLoader, IterableDataset

from fedpriv.utils.runtime import quiet_lightning, trainer_kwargs

ProblemLoss = Callable[..., tuple[Tensor, Tensor]]
OPTIMIZERS = ("adam", "sgd", "lbfgs")
SCHEDULES = ("step", "cosine", "none")


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


class MatchingModule(L.LightningModule):
    """Candidates for K problems as the module's parameters; one training step is one attack iteration.

    Args:
        problem_loss: per-problem loss, see the module docstring.
        targets: the shared updates, one tensor per parameter stacked over problems: ``(K, *param.shape)``.
        labels: ``(K, B)`` class indices, or ``(K, B, classes)`` initial logits when ``optimize_labels``.
        init: starting candidates ``(K, B, C, H, W)`` in model space.
        bounds: model-space (low, high) per channel, ``(1, C, 1, 1)`` each; used when ``box``.
        optimizer / lr / schedule / signed: the optimiser, its step size and schedule, and whether Adam/SGD
            step on the sign of the gradient.
        joint_penalty: optional term over all candidates (e.g. a consistency prior across restarts).
        vectorize: evaluate problems with ``vmap`` (else one after another in a loop).
    """

    def __init__(self, *, problem_loss: ProblemLoss, targets: Sequence[Tensor], labels: Tensor, init: Tensor,
                 bounds: tuple[Tensor, Tensor], iterations: int, optimizer: str = "adam", lr: float = 0.1,
                 schedule: str = "step", signed: bool = True, box: bool = True, optimize_labels: bool = False,
                 joint_penalty: Optional[Callable[[Tensor], Tensor]] = None, vectorize: bool = True):
        super().__init__()
        self.automatic_optimization = False
        self.problem_loss = problem_loss
        self.candidate = nn.Parameter(init.detach().clone())
        self.optimize_labels = optimize_labels
        if optimize_labels:
            self.label_logits = nn.Parameter(labels.detach().clone().float())
        else:
            self.register_buffer("labels", labels.detach().clone(), persistent=False)
        self._n_targets = len(targets)
        for i, t in enumerate(targets):
            self.register_buffer(f"target_{i}", t.detach().clone(), persistent=False)
        self.register_buffer("low", bounds[0].detach().clone().unsqueeze(0), persistent=False)
        self.register_buffer("high", bounds[1].detach().clone().unsqueeze(0), persistent=False)
        self.iterations, self.optimizer_name, self.lr = iterations, optimizer, lr
        self.schedule, self.signed, self.box = schedule, signed, box
        self.joint_penalty = joint_penalty
        self.vectorize = vectorize
        self.final_objective: Optional[Tensor] = None
        # Per-problem matching objective at the start of every step, kept on the device and stacked at the end
        # (no synchronisation per step): the convergence curve behind ``converged_at``.
        self._curve: list[Tensor] = []
        self.objective_curve: Optional[Tensor] = None

    @property
    def targets(self) -> list[Tensor]:
        return [getattr(self, f"target_{i}") for i in range(self._n_targets)]

    def current_labels(self) -> Tensor:
        return F.softmax(self.label_logits, dim=-1) if self.optimize_labels else self.labels

    def losses(self) -> tuple[Tensor, Tensor]:
        """Per-problem (total, objective), each of shape (K,)."""
        labels, targets = self.current_labels(), self.targets
        if self.vectorize:
            # "different": a stochastic model (PRECODE's bottleneck draws from its own generator) draws fresh noise
            # for every problem; deterministic models are unaffected.
            return vmap(self.problem_loss, randomness="different")(self.candidate, labels, *targets)
        pairs = [self.problem_loss(self.candidate[k], labels[k], *[t[k] for t in targets])
                 for k in range(self.candidate.shape[0])]
        return torch.stack([p[0] for p in pairs]), torch.stack([p[1] for p in pairs])

    def _step_loss(self) -> Tensor:
        total, objective = self.losses()
        self._last_objective = objective.detach()
        loss = total.sum()
        if self.joint_penalty is not None:
            loss = loss + self.joint_penalty(self.candidate)
        return loss

    def _trainable(self) -> list[Tensor]:
        return [self.candidate] + ([self.label_logits] if self.optimize_labels else [])

    def configure_optimizers(self):
        params = self._trainable()
        if self.optimizer_name == "lbfgs":
            return torch.optim.LBFGS(params, lr=self.lr, line_search_fn="strong_wolfe")
        optimizer = (torch.optim.SGD(params, lr=self.lr, momentum=0.9) if self.optimizer_name == "sgd"
                     else torch.optim.Adam(params, lr=self.lr))
        if self.schedule == "step":
            scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, step_milestones(self.iterations), gamma=0.1)
        elif self.schedule == "cosine":
            scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=self.iterations)
        else:
            return optimizer
        return [optimizer], [scheduler]

    def training_step(self, batch, batch_idx):
        optimizer = self.optimizers()
        params = self._trainable()

        def closure():
            optimizer.zero_grad()
            loss = self._step_loss()
            # Only the candidates need gradients; skipping the victim's weights saves a second-order pass.
            self.manual_backward(loss, inputs=params)
            if self.signed and self.optimizer_name != "lbfgs":
                for p in params:
                    p.grad.sign_()
            return loss

        if self.optimizer_name == "lbfgs":
            # L-BFGS evaluates the closure at the current iterate first, then along its line search.
            calls = []

            def recorded():
                value = closure()
                if not calls:
                    self._curve.append(self._last_objective)
                calls.append(1)
                return value

            loss = optimizer.step(closure=recorded)
        else:
            loss = closure()
            self._curve.append(self._last_objective)
            optimizer.step()
        scheduler = self.lr_schedulers()
        if scheduler is not None:
            scheduler.step()
        if self.box:
            with torch.no_grad():
                self.candidate.copy_(torch.maximum(torch.minimum(self.candidate, self.high), self.low))
        self.log("rec_loss", loss.detach(), prog_bar=True, on_step=True, on_epoch=False, batch_size=1)

    def on_train_end(self):
        with torch.enable_grad():
            self.final_objective = self.losses()[1].detach()
        # Row t: each problem's objective after t steps; the last row is the final objective.
        self.objective_curve = torch.stack([*self._curve, self.final_objective]).float().cpu()
        self._curve = []


def run_matching(module: MatchingModule, *, device: torch.device, progress: Optional[L.Callback] = None,
                 steps: Optional[int] = None) -> float:
    """Fit ``module`` for its iterations (or only ``steps`` of them) with a Lightning Trainer, reporting to the
    ``progress`` callback (see :mod:`fedpriv.utils.bars`); returns the seconds spent."""
    quiet_lightning()
    trainer = L.Trainer(max_steps=steps or module.iterations, **trainer_kwargs(device, progress=progress))
    start = time.perf_counter()
    trainer.fit(module, train_dataloaders=DataLoader(_Steps(), batch_size=None))
    return time.perf_counter() - start


def initial_images(kind: str, shape: tuple[int, ...], bounds: tuple[Tensor, Tensor], generator: torch.Generator) -> Tensor:
    """Starting candidates: standard normal in model space, or uniform within the valid pixel box."""
    if kind == "uniform":
        u = torch.rand(shape, generator=generator)
        return bounds[0].cpu() + u * (bounds[1].cpu() - bounds[0].cpu())
    return torch.randn(shape, generator=generator)
