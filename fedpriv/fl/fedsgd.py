"""FedSGD: the client shares the gradient of its loss on one batch (the threat model of DLG and Inverting Gradients)."""

from __future__ import annotations

from typing import Annotated

from fedpriv.config.constraints import Range
from fedpriv.defenses.base import UpdateDefense
from fedpriv.fl.base import Protocol, SharedUpdate, batch_gradients


class FedSGD(Protocol):
    """One gradient of the mean cross-entropy over a batch of the client's images.

    Args:
        batch_size: images per shared gradient (the attacker reconstructs them jointly); default 1.
        **federation: the FedAvg run before the attacked round (``rounds`` etc.), see :class:`Protocol`.
    """

    name = "fedsgd"

    def __init__(self, *, batch_size: Annotated[int, Range(1, 4096)] = 1, **federation):
        super().__init__(batch_size=batch_size, **federation)

    def shared_update(self, model, x, targets, *, defense=None, population=None, generator=None):
        defense = defense or UpdateDefense()
        gradients = defense(batch_gradients(model, x, targets), model=model, inputs=x, targets=targets)
        return SharedUpdate([g.detach() for g in gradients], batch_size=len(targets), kind="gradient")
