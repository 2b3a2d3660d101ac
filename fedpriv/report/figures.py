"""The report's charts (PNG): the advantage heatmap, MA/AA against magnitude, and the advantage split per class.

Figures are drawn on :class:`matplotlib.figure.Figure` objects without pyplot, so nothing depends on (or
changes) the process-wide backend; Matplotlib renders them with Agg.
"""

from __future__ import annotations

import math
import os

import numpy as np
from matplotlib.colors import TwoSlopeNorm
from matplotlib.figure import Figure

from fedpriv.report.scores import rank_key
from fedpriv.report.tables import policy
from fedpriv.utils.io import atomic_path

DPI = 120


def save_figure(figure: Figure, path: str | os.PathLike) -> None:
    with atomic_path(path) as tmp:
        figure.savefig(tmp, format="png", dpi=DPI)


def best_magnitudes(scores: list[dict]) -> dict[tuple[str, str], dict]:
    """Per (class, op): the score of the best magnitude, in the order of :func:`scores.rank_key` (equal scores:
    lower AA, then higher MA, then the lower magnitude)."""
    best: dict[tuple[str, str], dict] = {}
    for s in sorted(scores, key=rank_key):
        best.setdefault((s["class"], s["op"]), s)
    return best


def _undecided(score: dict) -> bool:
    """Whether the score's 95% interval contains 0: the data do not tell the policy from the DP baseline."""
    interval = score.get("advantage_ci")
    return interval is not None and interval.contains(0.0)


def advantage_heatmap(scores: list[dict], classes: list[str], path: str | os.PathLike) -> Figure:
    """Seed 000 Figs 10 and 13: classes (rows) by ops (columns). Each cell keeps the op's best magnitude for that
    class: its colour is that advantage score and its text the score and the magnitude. Each class's best
    cell is boxed. Cells whose 95% interval contains 0 are grey (their text stays, in grey), as are cells with no
    score (no text). Returns the figure."""
    ops = sorted({s["op"] for s in scores})
    classes = [c for c in classes if any(s["class"] == c for s in scores)]
    best = best_magnitudes(scores)
    grid = np.full((len(classes), len(ops)), np.nan)
    shown = np.full_like(grid, np.nan)
    for i, name in enumerate(classes):
        for j, op in enumerate(ops):
            if (name, op) in best:
                grid[i, j] = best[(name, op)]["advantage"]
                if not _undecided(best[(name, op)]):
                    shown[i, j] = grid[i, j]
    reach = max(float(np.nanmax(np.abs(grid))), 1e-6)
    figure = Figure(figsize=(max(5.5, 2.0 + 0.85 * len(ops)), 1.6 + 0.5 * len(classes)), layout="constrained")
    axes = figure.add_subplot()
    image = axes.imshow(np.ma.masked_invalid(shown), cmap=_diverging(), norm=TwoSlopeNorm(0.0, -reach, reach),
                        aspect="auto")
    figure.colorbar(image, ax=axes).set_label("advantage over DP (pp)")
    for i, name in enumerate(classes):
        row = grid[i]
        top = int(np.nanargmax(row)) if not np.all(np.isnan(row)) else -1
        for j, op in enumerate(ops):
            if math.isnan(row[j]):
                continue
            cell = best[(name, op)]
            axes.text(j, i, f"{cell['advantage']:.1f}\nM{cell['magnitude']}", ha="center", va="center",
                      fontsize=7, fontweight="bold" if j == top else "normal",
                      color="#555555" if _undecided(cell) else "black")
        if top >= 0:
            axes.add_patch(_box(top, i))
    axes.set_xticks(range(len(ops)), ops, rotation=45, ha="right")
    axes.set_yticks(range(len(classes)), classes)
    axes.set_title("Advantage over DP: best magnitude per class and op\n(grey: 95% interval contains 0)", fontsize=10)
    save_figure(figure, path)
    return figure


def _diverging():
    from matplotlib import colormaps

    return colormaps["RdYlGn"].with_extremes(bad="#dddddd")


def _box(x: int, y: int):
    from matplotlib.patches import Rectangle

    return Rectangle((x - 0.5, y - 0.5), 1, 1, fill=False, edgecolor="black", linewidth=1.5)


def accuracy_curves(curves: dict[str, list[tuple]], path: str | os.PathLike, *,
                    references: dict[str, tuple[float, float]] | None = None) -> None:
    """Seed 000 Figs 6-9: MA (left) and AA (right) in percent against magnitude, one line per op, each point the
    mean over classes. ``references`` maps a label (the DP baseline, no defense) to its (MA, AA) means, drawn
    as horizontal lines."""
    figure = Figure(figsize=(12, 4.8), layout="constrained")
    panels = figure.subplots(1, 2, sharey=True)
    styles = _op_styles(list(curves))
    for panel, column, title in ((panels[0], 1, "Model accuracy (MA)"), (panels[1], 2, "Attack accuracy (AA)")):
        for op, points in curves.items():
            xs = [p[0] for p in points]
            ys = [100.0 * p[column] for p in points]
            panel.plot(xs, ys, marker="o", markersize=3, linewidth=1.2, label=op, **styles[op])
        for (label, values), style in zip((references or {}).items(), ("--", ":", "-.")):
            panel.axhline(100.0 * values[column - 1], color="black", linestyle=style, linewidth=1, label=label)
        panel.set_title(title)
        panel.set_xlabel("magnitude")
        panel.grid(alpha=0.3)
        magnitudes = sorted({p[0] for points in curves.values() for p in points})
        panel.set_xticks(magnitudes)
    panels[0].set_ylabel("accuracy (%), mean over classes")
    panels[1].legend(loc="center left", bbox_to_anchor=(1.02, 0.5), fontsize=8)
    save_figure(figure, path)


def _op_styles(ops: list[str]) -> dict[str, dict]:
    from matplotlib import colormaps

    # Ten clearly different hues, then the same hues dashed: seed 000's 14 ops stay apart in print.
    palette = colormaps["tab10"]
    return {op: {"color": palette(i % 10), "linestyle": ("-", "--", ":")[(i // 10) % 3]}
            for i, op in enumerate(sorted(ops))}


def advantage_components(best: dict[str, list[dict]], classes: list[str], path: str | os.PathLike) -> None:
    """Seed 000 Figs 11-12: for each class's best policy, the model-accuracy advantage and the attack-accuracy
    advantage side by side, with their sum (the advantage score) as a diamond and its 95% interval."""
    classes = [c for c in classes if best.get(c)]
    firsts = [best[c][0] for c in classes]
    x = np.arange(len(classes))
    figure = Figure(figsize=(max(7.0, 0.9 * len(classes) + 2), 4.8), layout="constrained")
    axes = figure.add_subplot()
    axes.bar(x - 0.2, [s["ma_advantage"] for s in firsts], 0.4, label="MA advantage (MA - MA DP)",
             color="#4c72b0")
    axes.bar(x + 0.2, [s["aa_advantage"] for s in firsts], 0.4, label="AA advantage (AA DP - AA)",
             color="#dd8452")
    axes.scatter(x, [s["advantage"] for s in firsts], marker="D", color="black", zorder=3, label="advantage score")
    ranged = [i for i, s in enumerate(firsts) if s.get("advantage_ci") is not None]
    if ranged:
        cis = [firsts[i]["advantage_ci"] for i in ranged]
        axes.errorbar(x[ranged], [c.value for c in cis], yerr=[[c.value - c.low for c in cis],
                                                               [c.high - c.value for c in cis]],
                      fmt="none", ecolor="black", capsize=3, linewidth=1, zorder=3, label="95% interval")
    axes.axhline(0.0, color="black", linewidth=0.8)
    labels = [f"{c}\n{policy(s['op'], s['magnitude'])}" for c, s in zip(classes, firsts)]
    axes.set_xticks(x, labels, fontsize=8, rotation=30 if len(classes) > 8 else 0)
    axes.set_ylabel("percentage points over DP")
    axes.set_title("Best augmentation per class: model- and attack-accuracy advantage", fontsize=10)
    axes.grid(axis="y", alpha=0.3)
    axes.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    save_figure(figure, path)


_REFERENCE_STYLES = ("--", ":", "-.", (0, (5, 1)), (0, (1, 3)), (0, (3, 1, 1, 1, 1, 1)))


def similarity_curves(curves: dict[str, list[tuple]], path: str | os.PathLike, *, label: str, leaks_when: str,
                      references: dict[str, float] | None = None) -> None:
    """One image-similarity metric (PSNR, SSIM or LPIPS) against magnitude, one line per op, each point the mean
    over classes; ``references`` (no defense, each DP-SGD setting) drawn as horizontal lines."""
    figure = Figure(figsize=(7.5, 4.8), layout="constrained")
    axes = figure.add_subplot()
    styles = _op_styles(list(curves))
    for op, points in curves.items():
        axes.plot([p[0] for p in points], [p[1] for p in points], marker="o", markersize=3, linewidth=1.2, label=op,
                  **styles[op])
    for i, (name, value) in enumerate((references or {}).items()):
        grey = 0.0 if i == 0 else min(0.55, 0.12 * i)
        axes.axhline(value, color=str(grey), linestyle=_REFERENCE_STYLES[i % len(_REFERENCE_STYLES)], linewidth=1,
                     label=name)
    axes.set_title(f"{label.split(' (')[0]} of the reconstructions ({leaks_when} = more leakage)", fontsize=10)
    axes.set_xlabel("magnitude")
    axes.set_ylabel(f"{label}, mean over classes")
    axes.grid(alpha=0.3)
    axes.set_xticks(sorted({p[0] for points in curves.values() for p in points}))
    axes.legend(loc="center left", bbox_to_anchor=(1.02, 0.5), fontsize=8)
    save_figure(figure, path)
