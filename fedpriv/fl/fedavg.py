"""FedAvg: the client trains locally for a few SGD steps and shares how far its weights moved.

Attacking such an update (Geiping et al. 2020, section 6) means simulating the whole local run on candidate
images: ``simulate`` unrolls the same steps with ``torch.func.grad`` so the attack differentiates through them.
"""

from __future__ import annotations

import copy
from typing import Annotated, Optional

import torch
from torch import Tensor, nn
from torch.func import grad

from fedpriv.config.constraints import Range
from fedpriv.defenses.base import UpdateDefense
from fedpriv.fl.base import Protocol, SharedUpdate, batch_gradients, functional_loss


class FedAvg(Protocol):
    """``local_epochs`` epochs of plain SGD at ``local_lr`` over the client's batch, shared as a weight difference.

    Update convention: the client shares ``theta_start - theta_end``, the sum of its ``local_lr``-scaled step
    gradients. It has the sign of a gradient (the server applies it as ``theta - server_lr * mean(updates)``),
    and with one local step it equals ``local_lr`` times the FedSGD gradient. :meth:`gradient_equivalent`
    divides by ``local_lr`` times the number of steps, giving the mean gradient over the local steps.

    Mini-batches: each epoch visits the batch in the order the client holds it, in consecutive slices of
    ``local_batch_size`` (the last one may be smaller), with no shuffling. The attacker is assumed to know this
    rule (it knows the protocol), so ``simulate`` cuts its candidates the same way; it does not know which image
    sits where, which matters when a batch of mixed classes is cut into several mini-batches and the attack
    infers labels: it gives its candidates the inferred labels sorted by class, so its mini-batches hold other
    labels than the client's did, and most of the leakage is lost. ``attack.labels=given`` (labels in the
    client's order), ``targets.batching=by_class`` or one mini-batch per epoch avoid this.

    Defense: the update-side defense acts on every local step's gradient, as a DP-SGD client clips and noises
    each step; ``simulate`` replays the undefended computation, as for FedSGD.

    Args:
        batch_size: images the client holds in the attacked round.
        local_epochs: passes over those images.
        local_lr: the client's SGD learning rate.
        local_batch_size: images per local step; null uses the whole batch, one step per epoch.
        **federation: the FedAvg run before the attacked round (``rounds`` etc.), see :class:`Protocol`.
    """

    name = "fedavg"

    def __init__(
        self,
        *,
        batch_size: Annotated[int, Range(1, 4096)] = 1,
        local_epochs: Annotated[int, Range(1, 100)] = 4,
        local_lr: Annotated[float, Range(0, None, low_open=True)] = 0.1,
        local_batch_size: Annotated[Optional[int], Range(1, 4096)] = None,
        **federation,
    ):
        super().__init__(batch_size=batch_size, **federation)
        self.local_epochs, self.local_lr, self.local_batch_size = local_epochs, local_lr, local_batch_size

    @classmethod
    def config_problems(cls, *, batch_size: int = 1, local_batch_size: Optional[int] = None, **rest) -> list[str]:
        problems = super().config_problems(**rest)
        if local_batch_size is not None and local_batch_size > batch_size:
            problems.append(f"local_batch_size={local_batch_size} exceeds batch_size={batch_size}; the client "
                            "cannot take more images per step than it holds (null takes the whole batch)")
        return problems

    def steps(self, n: int) -> list[slice]:
        """The local steps over ``n`` images, each as the slice of the batch it trains on, in order."""
        size = self.local_batch_size or n
        return [slice(start, start + size) for _ in range(self.local_epochs) for start in range(0, n, size)]

    def shared_update(self, model, x, targets, *, defense=None, population=None, generator=None):
        defense = defense or UpdateDefense()
        client = copy.deepcopy(model)  # the client trains its own copy of the model the server sent
        start = [p.detach().clone() for p in client.parameters()]
        steps = self.steps(len(targets))
        for step in steps:
            xb, yb = x[step], targets[step]
            gradients = defense(batch_gradients(client, xb, yb), model=client, inputs=xb, targets=yb)
            with torch.no_grad():
                for p, g in zip(client.parameters(), gradients):
                    p.sub_(self.local_lr * g)
        difference = [s - p.detach() for s, p in zip(start, client.parameters())]
        return SharedUpdate(difference, batch_size=len(targets), kind="weight_difference",
                            info={"local_steps": len(steps), "local_lr": self.local_lr})

    def simulate(self, model: nn.Module, params: dict[str, Tensor], buffers: dict[str, Tensor], x: Tensor,
                 labels: Tensor) -> list[Tensor]:
        current = params
        for step in self.steps(x.shape[0]):
            gradients = grad(lambda p: functional_loss(model, p, buffers, x[step], labels[step]))(current)
            current = {name: current[name] - self.local_lr * gradients[name] for name in current}
        return [params[name] - current[name] for name in params]

    def gradient_equivalent(self, update: SharedUpdate) -> list[Tensor]:
        scale = self.local_lr * update.info.get("local_steps", len(self.steps(update.batch_size)))
        return [d / scale for d in update.gradients]
