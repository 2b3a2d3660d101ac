"""Defenses the report code has never heard of (pruning, noise, a stack) get their own rows, columns and montages,
from the columns each defense describes itself with; numbers worked out by hand."""

from __future__ import annotations

import csv

import numpy as np
import pytest
import torch
from PIL import Image

from fedpriv.record import IMAGES_FILE, write_outcomes
from fedpriv.report import main
from fedpriv.report.collect import collect
from fedpriv.report.defense_table import defense_table
from fedpriv.report.settings import defense_settings, describing_columns
from fedpriv.report.uncertainty import load_image_values, metric_mean
from tests.report.sweeps import write_trial

CLASSES = ["cat", "dog"]


def _table(path) -> dict[str, dict[str, str]]:
    """defense_settings.csv keyed by defense and its setting ("prune p=0.7")."""
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    key = lambda r: " ".join([r["defense"], *(f"{c}={r[c]}" for c in ("p", "scale", "k") if r.get(c))])
    return {key(r): r for r in rows}


@pytest.fixture
def unknown_defenses(tmp_path):
    """prune at p = 0.7 and 0.99 (two seeds each, rows naming their columns), noise at one scale (rows written
    before they named their columns), a prune+mixup stack, and no defense."""
    root = tmp_path / "sweep"
    for p, seeds in ((0.7, (0, 1)), (0.99, (0,))):
        for seed in seeds:
            # MA 0.9 - 0.2 p; AA 0.8 - 0.5 p + 0.1 seed; PSNR 20 - 5 p + 2 seed; one image per class is best.
            write_trial(root / f"prune{p}-{seed}", f"defense=prune defense.p={p} seed={seed}",
                        {"cat": (0.9 - 0.2 * p, 0.8 - 0.5 * p + 0.1 * seed), "dog": (0.5, 0.4)}, defense="prune",
                        seed=seed, classes=CLASSES, n=4, samples=True,
                        columns={"p": p, "defense_columns": "p", "psnr": 20 - 5 * p + 2 * seed,
                                 "psnr_defended": 20 - 5 * p + 2 * seed, "psnr_max": 30 - 5 * p + seed,
                                 "lpips": 0.4, "lpips_min": 0.2 - 0.1 * seed})
    write_trial(root / "noise", "defense=noise defense.scale=0.1", {c: (0.85, 0.5) for c in CLASSES},
                defense="noise", classes=CLASSES, n=4, columns={"scale": 0.1, "psnr": 15.0, "psnr_defended": 15.0})
    write_trial(root / "stack", "defense=[prune,mixup] defense.p=0.9 defense.k=4", {c: (0.7, 0.2) for c in CLASSES},
                defense="prune+mixup", classes=CLASSES, n=4,
                columns={"p": 0.9, "k": 4, "defense_columns": "p k", "psnr": 10.0, "psnr_defended": 25.0})
    write_trial(root / "none", "defense=none", {c: (0.95, 0.9) for c in CLASSES}, defense="none", classes=CLASSES,
                n=4, columns={"psnr": 30.0, "psnr_defended": 30.0})
    return root


def test_unknown_defenses_get_their_own_rows_and_columns(unknown_defenses, tmp_path, capsys):
    assert main([str(unknown_defenses), "--out", str(tmp_path / "r")]) == 0
    out = tmp_path / "r"
    table = _table(out / "defense_settings.csv")
    assert sorted(table) == ["noise scale=0.1", "none", "prune p=0.7", "prune p=0.99", "prune+mixup p=0.9 k=4"]
    header = (out / "defense_settings.csv").read_text().splitlines()[0].split(",")
    assert {"p", "scale", "k", "PSNR max", "LPIPS min", "AA worst class"} <= set(header)

    pruned = table["prune p=0.7"]
    assert pruned["trials"] == "2" and pruned["images"] == "16"
    # MA: cat 0.76 in both seeds, dog 0.5 -> 63 %; AA: cat (0.45 + 0.55) / 2, dog 0.4 -> 45 %.
    assert float(pruned["MA"]) == pytest.approx(63.0) and float(pruned["AA"]) == pytest.approx(45.0)
    assert float(pruned["AA worst class"]) == pytest.approx(50.0)        # cat
    # PSNR 16.5 and 18.5 over the two seeds: mean 17.5, t interval over 2 trials 17.5 +- 12.706 * 1.414 / 1.414.
    assert float(pruned["PSNR"]) == pytest.approx(17.5)
    assert float(pruned["PSNR low"]) == pytest.approx(17.5 - 12.706, abs=1e-3)
    assert float(pruned["PSNR max"]) == pytest.approx(27.5)              # seed 1's best image, not a mean
    assert float(pruned["LPIPS min"]) == pytest.approx(0.1)
    assert float(table["prune p=0.99"]["MA"]) == pytest.approx(100 * (0.9 - 0.198 + 0.5) / 2)
    assert table["prune p=0.99"]["PSNR low"] == ""                       # one trial, no images: no interval

    # PSNR against the defended input only where the client shared something other than the original.
    assert table["prune+mixup p=0.9 k=4"]["PSNR defended"] == "25.0000"
    assert {table[k]["PSNR defended"] for k in table if k != "prune+mixup p=0.9 k=4"} == {""}
    report = (out / "report.md").read_text()
    assert "## Utility and leakage per defense setting" in report and "| prune+mixup | " in report
    assert "prune+mixup p=0.9 k=4 (10.0 dB vs 25.0 dB against the defended input)" in report

    # The pruning trials saved samples: one montage, a row per p.
    assert "(montage_prune.png)" in report and "Reconstructions under prune, by p" in report
    image = np.asarray(Image.open(out / "montage_prune.png").convert("RGB"), dtype=np.float32)
    assert image.std() > 10


def test_columns_are_named_by_the_rows_or_inferred_from_them(unknown_defenses, tmp_path):
    write_trial(tmp_path / "dp", "defense=dpsgd defense.noise_multiplier=0.5", {"cat": (0.5, 0.5)}, defense="dpsgd",
                noise_multiplier=0.5, columns={"max_grad_norm": 1.0})
    write_trial(tmp_path / "aug", "defense=augment defense.op=invert defense.magnitude=3", {"cat": (0.5, 0.5)},
                defense="augment", op="invert", magnitude=3)
    rows = collect([unknown_defenses, tmp_path / "dp", tmp_path / "aug"]).rows
    columns = describing_columns(rows)
    assert columns["prune"] == ("p",) and columns["prune+mixup"] == ("p", "k")     # as the rows name them
    assert columns["noise"] == ("scale",)                     # inferred: the rows predate defense_columns
    assert columns["dpsgd"] == ("noise_multiplier", "max_grad_norm") and columns["augment"] == ("op", "magnitude")
    assert columns["none"] == ()
    labels = [s.label for s in defense_settings(rows)]
    assert labels.index("prune p=0.7") < labels.index("prune p=0.99") and "augment invert M3" in labels


def test_trials_differing_in_more_than_the_setting_are_noted(tmp_path, capsys):
    for width in (1, 2):
        write_trial(tmp_path / f"w{width}", f"defense=prune defense.p=0.5 model.width={width}",
                    {"cat": (0.5, 0.5)}, defense="prune", columns={"p": 0.5, "defense_columns": "p"})
    assert main([str(tmp_path), "--out", str(tmp_path / "r")]) == 0
    assert "defense setting also differ in model.width" in capsys.readouterr().out


def test_similarity_interval_bootstraps_the_images_when_there_are_enough(tmp_path):
    generator = np.random.default_rng(0)
    psnr = {0: generator.normal(20.0, 2.0, 40), 1: generator.normal(30.0, 2.0, 40)}
    write_trial(tmp_path / "t", "defense=prune defense.p=0.5", {"cat": (0.5, 0.5), "dog": (0.5, 0.5)},
                defense="prune", n=40, trial_id="t", columns={"p": 0.5})
    rows = collect([tmp_path]).rows
    for row in rows:
        row["psnr"] = str(psnr[int(row["class_id"])].mean())
    write_outcomes(tmp_path / "t" / IMAGES_FILE, {
        "class_id": torch.tensor([0] * 40 + [1] * 40), "image_index": torch.arange(80),
        "ma_correct": torch.zeros(80), "aa_correct": torch.zeros(80), "label_correct": None,
        "psnr": torch.tensor(np.concatenate([psnr[0], psnr[1]])), "ssim": None, "lpips": None, "mse": None},
        trial_id="t")
    estimate = metric_mean(rows, "psnr", load_image_values(collect([tmp_path]).trials, "psnr"))
    assert estimate.method == "bootstrap" and estimate.n == 80
    assert estimate.value == pytest.approx((psnr[0].mean() + psnr[1].mean()) / 2)
    # The standard error of a mean of two class means of 40 images with sd 2: 2 / sqrt(80), about 0.22 dB.
    assert 0.6 < estimate.high - estimate.low < 1.2 and estimate.contains(estimate.value)
    # Rows written before they held the worst case fall back to the images themselves.
    images = {"psnr": load_image_values(collect([tmp_path]).trials, "psnr")}
    table = defense_table(defense_settings(rows), images=images)
    assert table.rows[0][table.columns.index("PSNR max")] == pytest.approx(max(psnr[1]))


def test_the_report_roles_are_the_defense_classes_names():
    from fedpriv.defenses import DPSGD, Augment, AugmentPerClass, NoDefense
    from fedpriv.report import roles

    assert (roles.UNDEFENDED, roles.DP, roles.SINGLE_OP) == (NoDefense.name, DPSGD.name, Augment.name)
    assert roles.AUGMENTATION == (Augment.name, AugmentPerClass.name)


def test_montages_follow_each_defense_numeric_column_or_list_its_settings(tmp_path):
    from fedpriv.report.montage import montage_groups

    for name, columns in {"a": {"kind": "gauss"}, "b": {"kind": "laplace"}}.items():
        write_trial(tmp_path / name, f"defense=noise defense.kind={columns['kind']}", {"cat": (0.5, 0.5)},
                    defense="noise", samples=True, columns={**columns, "defense_columns": "kind"})
    for op in ("invert", "solarize"):
        for magnitude in (9, 1):
            write_trial(tmp_path / f"{op}{magnitude}", f"defense=augment defense.op={op} defense.magnitude={magnitude}",
                        {"cat": (0.5, 0.5)}, defense="augment", op=op, magnitude=magnitude, samples=True)
    groups = {g.title: list(g.rows) for g in montage_groups(collect([tmp_path]).trials)}
    assert groups == {"noise": ["kind=gauss", "kind=laplace"], "augment invert": ["M1", "M9"],
                      "augment solarize": ["M1", "M9"]}
