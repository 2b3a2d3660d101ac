"""Deep Leakage from Gradients (Zhu et al. 2019): images and soft labels optimised jointly by L-BFGS."""

from __future__ import annotations

from typing import Annotated

from fedpriv.attacks.engine import OPTIMIZERS, SCHEDULES
from fedpriv.attacks.objectives import DISTANCES, LAYER_WEIGHTS
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
        iterations: Annotated[int, Range(1)] = 300,
        restarts: Annotated[int, Range(1, 256)] = 1,
        optimizer: Annotated[str, OneOf(OPTIMIZERS)] = "lbfgs",
        lr: Annotated[float, Range(0, None, low_open=True)] = 1.0,
        schedule: Annotated[str, OneOf(SCHEDULES)] = "none",
        signed: bool = False,
        box: bool = False,
        distance: Annotated[str, OneOf(tuple(DISTANCES))] = "euclidean",
        layer_weights: Annotated[str, OneOf(LAYER_WEIGHTS)] = "equal",
        tv_weight: Annotated[float, Range(0)] = 0.0,
        init: Annotated[str, OneOf(("randn", "uniform"))] = "randn",
        labels: Annotated[str, OneOf(LABEL_SOURCES)] = "optimize",
        parallel: Annotated[int, Range(1, 4096)] = 1,
    ):
        super().__init__(iterations=iterations, restarts=restarts, optimizer=optimizer, lr=lr, schedule=schedule,
                         signed=signed, box=box, distance=distance, layer_weights=layer_weights, tv_weight=tv_weight,
                         init=init, labels=labels, parallel=parallel)
