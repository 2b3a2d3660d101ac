"""Deep Leakage from Gradients (Zhu et al. 2019): images and soft labels optimised jointly by L-BFGS."""

from __future__ import annotations

from typing import Annotated

from fedpriv.attacks.engine import OPTIMIZERS, SCHEDULES
from fedpriv.attacks.objectives import DISTANCES
from fedpriv.attacks.optimization import LABEL_SOURCES, OptimizationAttack
from fedpriv.config.constraints import OneOf, Range


class DLG(OptimizationAttack):
    """Match the squared Euclidean distance between gradients with L-BFGS, recovering labels on the way.

    The defaults are the paper's: random normal dummy images and dummy label logits optimised together
    (``labels=optimize``; the dummy label is the softmax of the logits), L-BFGS with step size 1 for 300
    iterations, no image prior and no box constraint. DLG works best on small, twice-differentiable models
    such as its sigmoid LeNet (``model=lenet``). Setting ``labels=infer`` gives iDLG (Zhao et al. 2020): the
    label read from the last layer's gradient, the images optimised alone. With L-BFGS each problem is
    optimised on its own (its line search couples everything it optimises), so ``parallel`` applies only with
    ``optimizer=adam`` or ``sgd``. All options: :class:`~fedpriv.attacks.optimization.OptimizationAttack`.
    """

    name = "dlg"

    def __init__(
        self,
        *,
        optimizer: Annotated[str, OneOf(OPTIMIZERS)] = "lbfgs",
        lr: Annotated[float, Range(0, None, low_open=True)] = 1.0,
        schedule: Annotated[str, OneOf(SCHEDULES)] = "none",
        box: bool = False,
        distance: Annotated[str, OneOf(tuple(DISTANCES))] = "euclidean",
        tv_weight: Annotated[float, Range(0)] = 0.0,
        labels: Annotated[str, OneOf(LABEL_SOURCES)] = "optimize",
        **common,
    ):
        """The paper's defaults where they differ from :class:`OptimizationAttack`'s; every other key is its."""
        super().__init__(optimizer=optimizer, lr=lr, schedule=schedule, box=box, distance=distance,
                         tv_weight=tv_weight, labels=labels, **common)
