"""Reconstructions across a defense's settings, from the ``samples.pt`` each trial saves.

One PNG per defense and values of its describing columns but one: the last numeric column that varies (an
augmentation's magnitude, pruning's ``p``), so seed 000's grid gives one montage per op. Rows: the private
originals on top, then the reconstruction at each value (lowest first). Columns: the saved images, matched across
trials by label, so a column shows the same class in every row even when trials saved their samples in different
orders. Trials whose classes were defended differently (a per-class policy) are not shown.
"""

from __future__ import annotations

import os
import re
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure

from fedpriv.report.cells import number
from fedpriv.report.collect import Trial
from fedpriv.report.figures import save_figure
from fedpriv.report.settings import describing_columns, short_label

MAX_COLUMNS = 10
PAD = 2


@dataclass
class MontageGroup:
    """The trials one montage shows: one defense at fixed values of all its columns but ``axis``, a row per
    value of ``axis`` (or per setting when no numeric column varies)."""

    defense: str
    fixed: str                      # short labels of the fixed values: "invert", "p=0.9", ""
    axis: str | None
    rows: dict[str, Trial] = field(default_factory=dict)     # row name ("M5", "p=0.7") -> trial

    @property
    def title(self) -> str:
        return " ".join(part for part in (self.defense, self.fixed) if part)


def _trial_setting(trial: Trial, columns: tuple[str, ...]) -> dict[str, str] | None:
    """The values of the trial's describing columns, or None when its classes differ (a per-class policy)."""
    seen = {tuple((c, str(row.get(c) or "").strip()) for c in columns) for row in trial.rows}
    return {c: v for c, v in seen.pop() if v} if len(seen) == 1 else None


def _axis(settings: list[dict[str, str]], columns: tuple[str, ...]) -> str | None:
    """The last describing column that is numeric in every setting and takes several values."""
    numeric = [c for c in columns if all(number(s.get(c)) is not None for s in settings)
               and len({number(s[c]) for s in settings}) > 1]
    return numeric[-1] if numeric else None


def montage_groups(trials: list[Trial]) -> list[MontageGroup]:
    """The montages the trials that saved samples give, defenses in order of appearance; within a row the lowest
    seed, then trial id, is shown."""
    columns = describing_columns([row for trial in trials for row in trial.rows])
    ordered = sorted((t for t in trials if t.samples is not None and t.rows),
                     key=lambda t: (number(t.rows[0].get("seed")) or 0.0, t.trial_id))
    by_defense: dict[str, list[tuple[Trial, dict[str, str]]]] = defaultdict(list)
    for trial in ordered:
        defense = trial.rows[0].get("defense") or ""
        setting = _trial_setting(trial, columns.get(defense, ()))
        if setting is not None:
            by_defense[defense].append((trial, setting))
    groups: dict[tuple, MontageGroup] = {}
    for defense in (d for d in columns if d in by_defense):
        found = by_defense[defense]
        axis = _axis([setting for _, setting in found], columns[defense])
        sort = lambda item: number(item[1].get(axis)) if axis else 0.0
        for trial, setting in sorted(found, key=sort):
            label = " ".join(short_label(c, v) for c, v in setting.items() if c != axis)
            # Without a numeric axis all the defense's settings share one montage, a row each.
            fixed = label if axis else ""
            group = groups.setdefault((defense, fixed), MontageGroup(defense, fixed, axis))
            name = short_label(axis, setting[axis]) if axis else (label or "as run")
            group.rows.setdefault(name, trial)
    return list(groups.values())


def load_samples(path: Path) -> dict[str, torch.Tensor]:
    # weights_only: a results folder may come from elsewhere; never unpickle arbitrary objects from it.
    return torch.load(path, map_location="cpu", weights_only=True)


def _rgb(images: torch.Tensor) -> np.ndarray:
    """uint8 (N, C, H, W) -> uint8 (N, H, W, 3)."""
    if images.shape[1] == 1:
        images = images.repeat(1, 3, 1, 1)
    return images[:, :3].permute(0, 2, 3, 1).numpy()


def _positions(labels: list[int]) -> list[tuple[int, int]]:
    """(label, occurrence) per image: the second image of class 3 is (3, 1)."""
    seen: dict[int, int] = defaultdict(int)
    out = []
    for label in labels:
        out.append((label, seen[label]))
        seen[label] += 1
    return out


def compose(rows: list[tuple[list[tuple[int, int]], np.ndarray]], columns: list[tuple[int, int]]) -> np.ndarray:
    """Tile ``rows`` (each: positions and RGB images) into one image, a white gap between tiles; a tile whose
    class a trial did not save stays light grey."""
    height, width = rows[0][1].shape[1:3]
    canvas = np.full((len(rows) * (height + PAD) + PAD, len(columns) * (width + PAD) + PAD, 3), 255, np.uint8)
    for r, (positions, images) in enumerate(rows):
        where = {p: i for i, p in enumerate(positions)}
        for c, position in enumerate(columns):
            top, left = PAD + r * (height + PAD), PAD + c * (width + PAD)
            tile = images[where[position]] if position in where and images.shape[1:3] == (height, width) else 220
            canvas[top:top + height, left:left + width] = tile
    return canvas


def group_montage(group: MontageGroup, path: str | os.PathLike, *, class_names: dict[int, str]) -> None:
    samples = {name: load_samples(t.samples) for name, t in group.rows.items()}
    first = samples[next(iter(samples))]
    columns = _positions([int(x) for x in first["labels"]])[:MAX_COLUMNS]
    rows = [(columns, _rgb(first["original"][:len(columns)]))]
    names = ["original"]
    for name, payload in samples.items():
        rows.append((_positions([int(x) for x in payload["labels"]]), _rgb(payload["reconstruction"])))
        names.append(name)
    canvas = compose(rows, columns)
    height, width = rows[0][1].shape[1:3]
    scale = 0.9 / max(height, width)    # about 0.9 inch per tile whatever the image size
    figure = Figure(figsize=(max(4.5, 1.2 + canvas.shape[1] * scale), 0.8 + canvas.shape[0] * scale),
                    layout="constrained")
    axes = figure.add_subplot()
    axes.imshow(canvas, interpolation="nearest")
    axes.set_yticks([PAD + r * (height + PAD) + height / 2 for r in range(len(names))], names)
    axes.set_xticks([PAD + c * (width + PAD) + width / 2 for c in range(len(columns))],
                    [class_names.get(label, str(label)) for label, _ in columns], fontsize=8)
    axes.tick_params(length=0)
    for side in axes.spines.values():
        side.set_visible(False)
    axes.set_title(f"{group.title}: reconstructions by {group.axis or 'setting'}", fontsize=10)
    save_figure(figure, path)


def _stem(group: MontageGroup, taken: set[str]) -> str:
    # A fixed value that reads as a name (seed 000's op: montage_invert.png) names the file alone; otherwise the
    # defense comes first (montage_prune.png, montage_dpsgd_max_grad_norm-1.0.png), and on a clash in any case.
    bare = group.fixed and "=" not in group.fixed
    stem = _slug(group.fixed if bare else f"{group.defense} {group.fixed}")
    if stem in taken:
        stem = _slug(f"{group.defense} {group.fixed}")
    taken.add(stem)
    return stem


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._+-]+", "_", text.replace("=", "-")).strip("_") or "montage"


def montages(trials: list[Trial], out_dir: Path) -> list[tuple[str, str]]:
    """Write ``montage_<name>.png`` for every group of trials with saved samples; returns (file name, caption)."""
    class_names = {}
    for trial in trials:
        for row in trial.rows:
            class_id = number(row.get("class_id"))
            if class_id is not None:
                class_names[int(class_id)] = row.get("class", "")
    written, taken = [], set()
    for group in montage_groups(trials):
        name = f"montage_{_stem(group, taken)}.png"
        group_montage(group, out_dir / name, class_names=class_names)
        written.append((name, f"Reconstructions under {group.title}, by {group.axis or 'setting'}"))
    return written
