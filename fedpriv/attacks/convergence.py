"""Convergence of gradient matching, as DLG reports it: when the matching loss reaches ~0, where it ends, and
whether the attack succeeded.

The engine records every problem's matching objective at each step (:class:`~fedpriv.attacks.engine.MatchingModule`
``objective_curve``); :func:`converged_at` reads the first step below the attack's ``converged_below``. A shared
update is one problem, so all images of a batch share its values. A run "succeeds" on an image when it converged
and the reconstruction's PSNR exceeds the attack's ``success_psnr``: a matching loss near zero alone can also be
reached by a wrong image when the update does not determine its inputs (large batches, defended updates).
"""

from __future__ import annotations

import math
from typing import Optional

import torch
from torch import Tensor

SUCCESS_PSNR = 20.0  # dB on [0, 1] pixels: a mean squared error of 0.01, where digits and objects are recognisable


def converged_at(curve: Tensor, below: float) -> Optional[int]:
    """The first step after which the objective is below ``below`` (0: already at the start), None if never.

    ``curve[t]`` is the objective after t steps (its last entry the final one)."""
    hits = torch.nonzero(curve < below).flatten()
    return int(hits[0]) if len(hits) else None


def per_image(info: dict, n: int) -> dict[str, Tensor]:
    """A reconstruction's convergence values repeated for the ``n`` images of its batch (NaN where unknown:
    never converged, or an attack without a matching loss)."""
    at, loss = info.get("converged_at"), info.get("matching_loss")
    return {"converged_at": torch.full((n,), math.nan if at is None else float(at)),
            "matching_loss": torch.full((n,), math.nan if loss is None else float(loss))}


def convergence_columns(attack, images: dict[str, Tensor], mask: Tensor, psnr: Tensor) -> dict:
    """The convergence columns of one results row (the images in ``mask``); empty for attacks that do not
    match gradients. ``converged_iter`` is the median step at which the converged images got there (empty when
    none did), ``converged`` and ``success`` are fractions of the row's images, ``matching_loss`` the median
    final objective (it spans orders of magnitude between converged and failed runs)."""
    if getattr(attack, "converged_below", None) is None or "converged_at" not in images:
        return {}
    at, loss = images["converged_at"][mask], images["matching_loss"][mask]
    converged = ~torch.isnan(at)
    success = converged & (psnr[mask] > attack.success_psnr)
    finite = loss[~torch.isnan(loss)]
    return {
        "converged_iter": float(at[converged].median()) if converged.any() else None,
        "converged": float(converged.float().mean()),
        "matching_loss": float(finite.median()) if len(finite) else None,
        "success": float(success.float().mean()),
        "converged_below": attack.converged_below, "success_psnr": attack.success_psnr,
    }
