"""Pair reconstructions with the private images they belong to.

An attacker recovers a batch as an unordered set (and an aggregate of several clients yields more images than
the target holds), so each private image is scored against its own best reconstruction: a one-to-one
assignment minimising the total mean squared error (the Hungarian method, scipy's linear_sum_assignment).
"""

from __future__ import annotations

import torch
from scipy.optimize import linear_sum_assignment
from torch import Tensor


def match_reconstructions(reconstructions: Tensor, references: Tensor) -> Tensor:
    """Index into ``reconstructions`` for each of ``references`` (``len(references) <= len(reconstructions)``)."""
    if len(reconstructions) < len(references):
        raise ValueError(f"{len(reconstructions)} reconstructions cannot cover {len(references)} images")
    cost = (references.float()[:, None] - reconstructions.float()[None]).pow(2).flatten(2).mean(-1)
    rows, cols = linear_sum_assignment(cost.cpu().numpy())
    order = torch.empty(len(references), dtype=torch.long)
    order[torch.as_tensor(rows)] = torch.as_tensor(cols, dtype=torch.long)
    return order
