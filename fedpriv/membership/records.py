"""A membership trial's per-record scores (``membership.csv``) and ROC curves on log-log axes.

The ROC curve is read at low FPR, where a privacy attack matters (Carlini et al.): log-log axes stretch the
region below 1% FPR that linear axes squash into a corner. The report redraws the curves of a whole sweep from
each trial's ``membership.csv``.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import torch
from torch import Tensor

from fedpriv.membership.metrics import roc_curve
from fedpriv.utils.io import atomic_path, atomic_write_text

SCORES_FILE = "membership.csv"


def write_scores(path: str | os.PathLike, *, records: Tensor, labels: Tensor, is_member: Tensor,
                 columns: dict[str, Tensor]) -> Path:
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(["record", "class_id", "is_member", *columns])
    for i in range(len(records)):
        writer.writerow([int(records[i]), int(labels[i]), int(is_member[i]),
                         *(repr(round(float(v[i]), 6)) for v in columns.values())])
    atomic_write_text(path, out.getvalue())
    return Path(path)


def read_scores(path: str | os.PathLike) -> tuple[Tensor, dict[str, Tensor]]:
    """``is_member`` and each score column of a ``membership.csv``."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    is_member = torch.tensor([int(r["is_member"]) for r in rows]).bool()
    names = [k for k in (rows[0] if rows else {}) if k not in ("record", "class_id", "is_member")]
    return is_member, {k: torch.tensor([float(r[k]) for r in rows]) for k in names}


def plot_roc(path: str | os.PathLike, curves: dict[str, tuple[Tensor, Tensor]], title: str = "") -> Path:
    """ROC curves ``{label: (scores, is_member)}`` on log-log axes with the chance diagonal."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(4.8, 4.4))
    floor = 1e-4
    for label, (scores, is_member) in curves.items():
        fpr, tpr = roc_curve(scores, is_member)
        ax.plot(fpr.clamp_min(floor).numpy(), tpr.clamp_min(floor).numpy(), label=label, lw=1.2)
    ax.plot([floor, 1], [floor, 1], ls="--", color="grey", lw=0.8, label="chance")
    ax.set(xscale="log", yscale="log", xlim=(floor, 1), ylim=(floor, 1), xlabel="false positive rate",
           ylabel="true positive rate")
    ax.set_title(title, fontsize=7, wrap=True)
    ax.legend(fontsize=6, loc="lower right")
    fig.tight_layout()
    with atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=130, format="png")
    plt.close(fig)
    return Path(path)
