"""Recover the labels of a shared batch from the gradient of the last linear layer."""

from __future__ import annotations

import torch
from torch import Tensor, nn


def last_linear(model: nn.Module) -> tuple[int, int | None]:
    """Positions (in ``model.parameters()`` order) of the last linear layer's weight and bias (None if absent)."""
    linear = [m for m in model.modules() if isinstance(m, nn.Linear)]
    if not linear:
        raise ValueError(f"{type(model).__name__} has no linear layer to read labels from")
    layer = linear[-1]
    ids = {id(p): i for i, p in enumerate(model.parameters())}
    return ids[id(layer.weight)], (ids[id(layer.bias)] if layer.bias is not None else None)


def idlg_label(model: nn.Module, gradients: list[Tensor]) -> Tensor:
    """The iDLG rule (Zhao et al. 2020) for one image under softmax cross-entropy.

    The last layer's bias gradient is ``softmax - onehot``: only the true class is negative. Without a bias the
    weight rows carry the same sign (``(p_i - y_i) * h`` with non-negative features ``h``).
    """
    weight_pos, bias_pos = last_linear(model)
    if bias_pos is not None:
        return gradients[bias_pos].argmin().view(1)
    return gradients[weight_pos].sum(dim=1).argmin().view(1)
