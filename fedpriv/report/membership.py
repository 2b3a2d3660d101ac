"""The membership part of a report: per attack, a table of attack accuracy, AUC and TPR at low FPR next to the
target's accuracy for every setting of the swept knobs, and each setting's ROC curves on log-log axes.

Membership trials write one row each (``attack_family=membership``) and their per-record scores
(``membership.csv``); reconstruction trials write one row per class. A sweep may hold both, so the report takes
the membership trials out first (:func:`split_membership`) and reports them here, in a ``membership/`` folder
when reconstruction trials are reported next to them.
"""

from __future__ import annotations

import math
import re
from dataclasses import replace
from pathlib import Path

from fedpriv.membership.records import SCORES_FILE, plot_roc, read_scores
from fedpriv.record import format_rows
from fedpriv.report.collect import Collection, Trial, override_tokens
from fedpriv.sweeping.identity import changes_identity
from fedpriv.utils.io import atomic_write_text

REPORT = "membership.md"
# The attack's own knobs are not settings of the target: the tables compare attacks across them.
ATTACK_KEYS = ("attack",)
SHOWN = ("dataset", "model", "defense")


def is_membership(trial: Trial) -> bool:
    return any(row.get("attack_family") == "membership" for row in trial.rows)


def split_membership(collection: Collection) -> tuple[Collection, Collection]:
    """(reconstruction trials, membership trials); both keep the sweeps' counts and notes."""
    membership = [t for t in collection.trials if is_membership(t)]
    others = [t for t in collection.trials if not is_membership(t)]
    return replace(collection, trials=others), replace(collection, trials=membership)


def _setting(row: dict) -> dict[str, object]:
    """A trial's overrides without the attack's own and without where things live (data roots, paths): what
    defines the target and its data. The dataset, model and defense groups are columns of their own."""
    return {k: v for k, v in override_tokens(row.get("overrides") or "")
            if k and k.split(".")[0] not in ATTACK_KEYS and k not in SHOWN and changes_identity(k)}


def _varying(rows: list[dict]) -> list[str]:
    """Override keys whose value differs between trials: the swept knobs."""
    settings = [_setting(r) for r in rows]
    keys = sorted({k for s in settings for k in s})
    return [k for k in keys if len({repr(s.get(k)) for s in settings}) > 1]


def _label(row: dict, knobs: list[str]) -> str:
    setting = _setting(row)
    shown = [f"{k.split('.')[-1]}={_text(setting.get(k))}" for k in knobs]
    return " ".join([f"{row.get('dataset')} {row.get('model')} {row.get('defense')}", *shown])


def _text(value) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return "-" if value is None else str(value)


def _num(row: dict, key: str, pct: bool = True) -> str:
    text = row.get(key)
    try:
        value = float(text)
    except (TypeError, ValueError):
        return "-"
    if math.isnan(value):
        return "-"
    return f"{100 * value:.1f}" if pct else f"{value:.3g}"


def _interval(row: dict, key: str, digits: int = 1, scale: float = 100) -> str:
    try:
        value, lo, hi = (float(row[k]) for k in (key, f"{key}_lo", f"{key}_hi"))
    except (KeyError, TypeError, ValueError):
        return _num(row, key)
    return f"{scale * value:.{digits}f} [{scale * lo:.{digits}f}, {scale * hi:.{digits}f}]"


def _sort_key(label: str):
    # Numbers in labels sort as numbers (conv_width=4 before conv_width=16).
    return [(0, float(p)) if re.fullmatch(r"-?\d+(\.\d+)?", p) else (1, p) for p in re.split(r"[= ]", label)]


COLUMNS = ("setting", "n", "target train %", "target test %", "epsilon", "attack acc % [95% CI]", "AUC [95% CI]",
           "TPR@0.1%FPR %", "TPR@1%FPR %", "loss acc %", "loss AUC", "loss TPR@1%FPR %")


def membership_table(rows: list[dict], knobs: list[str]) -> list[list[str]]:
    lines = []
    for row in sorted(rows, key=lambda r: _sort_key(_label(r, knobs))):
        lines.append([_label(row, knobs), row.get("n", ""), _num(row, "target_train_acc"),
                      _num(row, "target_test_acc"), _num(row, "epsilon", pct=False), _interval(row, "mia_acc"),
                      _interval(row, "mia_auc", digits=3, scale=1), _num(row, "tpr_at_0.1pct_fpr"),
                      _num(row, "tpr_at_1pct_fpr"), _num(row, "loss_acc"), _num(row, "loss_auc", pct=False),
                      _num(row, "loss_tpr_at_1pct_fpr")])
    return lines


def _markdown(header, lines) -> str:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(str(c).replace("|", "\\|") for c in line) + " |" for line in lines]
    return "\n".join(out)


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._=-]+", "_", text).strip("_")[:120] or "setting"


def write_membership_report(collection: Collection, out_dir: Path, *, name: str = REPORT) -> list[str]:
    """Write ``name`` (``membership.md``), ``membership_results.csv`` and one ROC figure per setting; returns the files."""
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = [{**row, "source": str(t.directory)} for t in collection.trials for row in t.rows]
    written = ["membership_results.csv"]
    atomic_write_text(out_dir / written[0], format_rows(rows))
    knobs = _varying(rows)
    doc = ["# Membership inference", "",
           f"{len(collection.trials)} membership trial(s); swept: {', '.join(knobs) or 'nothing'}. Attack accuracy "
           "is on a balanced member/non-member set (50% = chance), with Wilson 95% intervals; AUC with Hanley-"
           "McNeil 95% intervals; TPR at 0.1% and 1% FPR read off the ROC curve (an FPR below 1/n non-members "
           "cannot be resolved). The loss-threshold attack (member when the target's loss is below the reference "
           "models' mean training loss) is the floor each row shows. A knob shown as - keeps its preset value.", ""]
    for attack in sorted({r.get("attack", "") for r in rows}):
        mine = [r for r in rows if r.get("attack") == attack]
        doc += [f"## {attack}", "", _markdown(COLUMNS, membership_table(mine, knobs)), ""]
    # ROC figures: one per setting, every attack of that setting plus the loss attack once.
    by_setting: dict[str, list[Trial]] = {}
    for trial in collection.trials:
        by_setting.setdefault(_label(trial.rows[0], knobs), []).append(trial)
    figures = []
    for label in sorted(by_setting, key=_sort_key):
        curves = {}
        for trial in by_setting[label]:
            path = trial.directory / SCORES_FILE
            if not path.is_file():
                continue
            is_member, columns = read_scores(path)
            row = trial.rows[0]
            curves[f"{row.get('attack')} (AUC {float(row.get('mia_auc') or 'nan'):.3f})"] = (columns["score"], is_member)
            if "loss_score" in columns and not any(k.startswith("loss") for k in curves):
                curves[f"loss (AUC {float(row.get('loss_auc') or 'nan'):.3f})"] = (columns["loss_score"], is_member)
        if curves:
            figure = f"roc-{_slug(label)}.png"
            plot_roc(out_dir / figure, curves, title=label)
            figures.append((label, figure))
            written.append(figure)
    if figures:
        doc += ["## ROC curves (log-log)", ""] + [f"- {label}: ![{label}]({figure})" for label, figure in figures] + [""]
    atomic_write_text(out_dir / name, "\n".join(doc))
    written.append(name)
    return written
