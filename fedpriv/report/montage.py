"""Reconstructions across magnitudes, one PNG per op, from the ``samples.pt`` each trial saves.

Rows: the private originals on top, then the reconstruction at each magnitude (lowest first). Columns: the
saved images, matched across trials by label, so a column shows the same class in every row even when trials
saved their samples in different orders.
"""

from __future__ import annotations

import os
from collections import defaultdict
from pathlib import Path

import numpy as np
import torch
from matplotlib.figure import Figure

from fedpriv.report.collect import Trial
from fedpriv.report.figures import save_figure
from fedpriv.report.scores import magnitude_of, number

MAX_COLUMNS = 10
PAD = 2


def montage_trials(trials: list[Trial]) -> dict[str, dict[object, Trial]]:
    """Per op, per magnitude: the trial whose samples are shown (the lowest seed, then trial id, among the
    single-op ``augment`` trials that saved samples)."""
    out: dict[str, dict[object, Trial]] = defaultdict(dict)
    ordered = sorted(trials, key=lambda t: (number(t.rows[0].get("seed")) or 0.0, t.trial_id))
    for trial in ordered:
        first = trial.rows[0]
        magnitude = magnitude_of(first.get("magnitude"))
        if first.get("defense") != "augment" or not first.get("op") or magnitude is None or trial.samples is None:
            continue
        out[first["op"]].setdefault(magnitude, trial)
    return {op: dict(sorted(by_magnitude.items())) for op, by_magnitude in sorted(out.items())}


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


def op_montage(op: str, by_magnitude: dict[object, Trial], path: str | os.PathLike, *,
               class_names: dict[int, str]) -> None:
    samples = {m: load_samples(t.samples) for m, t in by_magnitude.items()}
    first = samples[next(iter(samples))]
    columns = _positions([int(x) for x in first["labels"]])[:MAX_COLUMNS]
    rows = [(columns, _rgb(first["original"][:len(columns)]))]
    names = ["original"]
    for magnitude, payload in samples.items():
        rows.append((_positions([int(x) for x in payload["labels"]]), _rgb(payload["reconstruction"])))
        names.append(f"M{magnitude}")
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
    axes.set_title(f"{op}: reconstructions by magnitude", fontsize=10)
    save_figure(figure, path)


def montages(trials: list[Trial], out_dir: Path) -> list[tuple[str, str]]:
    """Write ``montage_<op>.png`` for every op with saved samples; returns (file name, caption) pairs."""
    class_names = {}
    for trial in trials:
        for row in trial.rows:
            class_id = number(row.get("class_id"))
            if class_id is not None:
                class_names[int(class_id)] = row.get("class", "")
    written = []
    for op, by_magnitude in montage_trials(trials).items():
        name = f"montage_{op}.png"
        op_montage(op, by_magnitude, out_dir / name, class_names=class_names)
        written.append((name, f"Reconstructions under {op}, by magnitude"))
    return written
