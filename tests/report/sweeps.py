"""Small hand-written sweeps for the report tests: results.csv files as trials write them, samples.pt files of
random images, and Hydra multirun.yaml files."""

from __future__ import annotations

import hashlib
from pathlib import Path

import torch

from fedpriv.record import IMAGES_FILE, write_outcomes, write_results

CLASSES = ["cat", "dog"]


def write_trial(directory: Path, overrides: str, accuracy: dict[str, tuple[float, float]], *, defense: str,
                op: str = "", magnitude: object = "", noise_multiplier: object = "", seed: int = 0,
                trial_id: str | None = None, samples: bool = False, classes: list[str] = CLASSES, n: int = 1,
                images: bool = False, **columns) -> Path:
    """One finished trial: a row per class of ``accuracy`` (class -> (ma, aa) fractions) over ``n`` images, and
    with ``images`` an images.csv whose outcomes give those rates (the first round(ma n) images MA-correct,
    the last round(aa n) AA-correct). ``columns`` adds cells to every row (``victim_trained=True``...)."""
    columns.update(columns.pop("columns", None) or {})  # also given as one dict: columns={...}
    trial_id = trial_id or hashlib.sha256(f"{overrides} seed={seed}".encode()).hexdigest()[:16]
    rows = [{"dataset": "toy", "model": "lenet", "fl": "fedsgd", "defense": defense, "op": op,
             "magnitude": magnitude, "attack": "inverting_gradients", "seed": seed, "class": name, "n": n,
             "ma": ma, "aa": aa, "overrides": overrides, "trial_id": trial_id, "class_id": classes.index(name),
             "noise_multiplier": noise_multiplier, **columns} for name, (ma, aa) in accuracy.items()]
    if images:
        write_image_outcomes(directory / IMAGES_FILE, accuracy, n=n, classes=classes, trial_id=trial_id)
    write_results(directory / "results.csv", rows)
    if samples:
        write_samples(directory / "samples.pt", n=len(accuracy), seed=int(trial_id, 16) % 10_000)
    return directory


def write_image_outcomes(path: Path, accuracy: dict[str, tuple[float, float]], *, n: int, classes: list[str],
                         trial_id: str) -> None:
    class_ids, ma, aa = [], [], []
    for name, (ma_rate, aa_rate) in accuracy.items():
        class_ids += [classes.index(name)] * n
        ma += [i < round(ma_rate * n) for i in range(n)]
        aa += [i >= n - round(aa_rate * n) for i in range(n)]
    count = len(class_ids)
    write_outcomes(path, {"class_id": torch.tensor(class_ids), "image_index": torch.arange(count),
                          "ma_correct": torch.tensor(ma), "aa_correct": torch.tensor(aa),
                          "label_correct": None, "psnr": torch.zeros(count), "ssim": None, "lpips": None,
                          "mse": None}, trial_id=trial_id)


def write_samples(path: Path, *, n: int, seed: int, shape=(3, 8, 8)) -> None:
    generator = torch.Generator().manual_seed(seed)
    images = {k: torch.randint(0, 256, (n, *shape), generator=generator, dtype=torch.uint8)
              for k in ("original", "defended", "reconstruction")}
    images["labels"] = torch.arange(n)
    torch.save(images, path)


BASIC_SWEEPER = "hydra._internal.core_plugins.basic_sweeper.BasicSweeper"


def write_multirun(sweep_dir: Path, task: list[str], *, sweeper: str = BASIC_SWEEPER) -> None:
    """The parts of Hydra's multirun.yaml that say which jobs a sweep launches."""
    sweep_dir.mkdir(parents=True, exist_ok=True)
    lines = ["hydra:", "  sweeper:", f"    _target_: {sweeper}", "    max_batch_size: null", "    params: null",
             "  overrides:", "    hydra: []", "    task:"] + [f"    - {t}" for t in task] + ["seed: 0"]
    (sweep_dir / "multirun.yaml").write_text("\n".join(lines) + "\n")
