"""How well membership scores separate members from non-members: accuracy, AUC and TPR at low FPR.

Average accuracy hides what matters for privacy: an attack that is sure about a few records and guesses on the
rest has near-chance accuracy yet exposes those few records. So every membership row also carries the true
positive rate at 0.1% and 1% false positives (Carlini et al., "Membership Inference Attacks From First
Principles"), read off the ROC curve that torchmetrics computes. At n non-members an FPR below 1/n cannot be
resolved; the TPR there is the rate at the smallest FPR the data resolve (often 0).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor
from torchmetrics.functional.classification import binary_auroc, binary_roc

LOW_FPRS = {"tpr_at_0.1pct_fpr": 1e-3, "tpr_at_1pct_fpr": 1e-2}


def as_unit(scores: Tensor) -> Tensor:
    """Scores mapped onto [0, 1] by their rank, ties kept: torchmetrics reads scores outside [0, 1] as logits
    and squashes them with a sigmoid, which ties large scores (a LiRA z of 40 and of 60 both become 1)."""
    _, rank = torch.unique(scores.detach().cpu().double(), return_inverse=True)
    return rank.double() / max(int(rank.max()) if len(rank) else 0, 1)


def roc_curve(scores: Tensor, is_member: Tensor) -> tuple[Tensor, Tensor]:
    """FPR and TPR at every threshold of ``scores`` (higher: more likely a member)."""
    fpr, tpr, _ = binary_roc(as_unit(scores), is_member.long(), thresholds=None)
    return fpr, tpr


def tpr_at(fpr: Tensor, tpr: Tensor, level: float) -> float:
    """The highest TPR whose FPR does not exceed ``level``."""
    ok = fpr <= level + 1e-12
    return float(tpr[ok].max()) if ok.any() else 0.0


def auc_interval(auc: float, members: int, non_members: int) -> tuple[float, float]:
    """A 95% interval for the AUC (Hanley and McNeil's standard error): the score's uncertainty from n alone."""
    q1, q2 = auc / (2 - auc), 2 * auc * auc / (1 + auc)
    var = (auc * (1 - auc) + (members - 1) * (q1 - auc * auc) + (non_members - 1) * (q2 - auc * auc))
    se = math.sqrt(max(var, 0.0) / max(members * non_members, 1))
    return max(0.0, auc - 1.96 * se), min(1.0, auc + 1.96 * se)


def accuracy_interval(acc: float, n: int) -> tuple[float, float]:
    """Wilson's 95% interval of an accuracy measured on ``n`` records."""
    if n == 0:
        return float("nan"), float("nan")
    z = 1.96
    centre = (acc + z * z / (2 * n)) / (1 + z * z / n)
    half = z * math.sqrt(acc * (1 - acc) / n + z * z / (4 * n * n)) / (1 + z * z / n)
    return centre - half, centre + half


def membership_metrics(scores: Tensor, is_member: Tensor, decisions: Tensor | None = None,
                       prefix: str = "mia") -> dict[str, float]:
    """The row columns of one attack: ``<prefix>_acc`` (its own decisions; the best threshold's accuracy when
    it makes none), ``<prefix>_acc_best`` (the best threshold on these very records: an upper bound),
    ``<prefix>_auc`` with its interval, and the TPR at 0.1% and 1% FPR (``tpr_at_...`` for ``mia``,
    ``<prefix>_tpr_at_...`` otherwise)."""
    scores, is_member = scores.detach().cpu().double(), is_member.detach().cpu().bool()
    fpr, tpr = roc_curve(scores, is_member)
    members, non_members = int(is_member.sum()), int((~is_member).sum())
    # Balanced sets: accuracy at a threshold is the mean of TPR and TNR.
    best = float(((tpr + 1 - fpr) / 2).max())
    acc = best if decisions is None else float((decisions.cpu().bool() == is_member).double().mean())
    auc = float(binary_auroc(as_unit(scores), is_member.long()))
    lo, hi = auc_interval(auc, members, non_members)
    acc_lo, acc_hi = accuracy_interval(acc, members + non_members)
    tprs = {(name if prefix == "mia" else f"{prefix}_{name}"): tpr_at(fpr, tpr, level)
            for name, level in LOW_FPRS.items()}
    return {f"{prefix}_acc": acc, f"{prefix}_acc_lo": acc_lo, f"{prefix}_acc_hi": acc_hi,
            f"{prefix}_acc_best": best, f"{prefix}_auc": auc, f"{prefix}_auc_lo": lo, f"{prefix}_auc_hi": hi, **tprs}
