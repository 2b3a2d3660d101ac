"""The report command: its outputs on a small synthetic sweep (run as a user would, in a subprocess), and its
answers to bad input (exit code 2, the argument named, no traceback, nothing written)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from fedpriv.record import read_results
from fedpriv.report import main
from tests.conftest import REPO
from tests.report.sweeps import write_multirun, write_trial

CLASSES = ["cat", "dog", "fox"]
OPS, MAGNITUDES = ("invert", "solarize"), (1, 5, 9)
TABLES = ["defense_settings", "dp_table", "best_per_class", "advantage"]
FIGURES = ["advantage_heatmap.png", "advantage_components.png", "accuracy_vs_magnitude.png",
           "montage_invert.png", "montage_solarize.png"]


def _accuracy(op: str, magnitude: int) -> dict[str, tuple[float, float]]:
    shift = 0.02 * magnitude + (0.1 if op == "solarize" else 0.0)
    return {name: (0.8 - shift - 0.05 * i, 0.7 - 2 * shift + 0.03 * i) for i, name in enumerate(CLASSES)}


@pytest.fixture
def synthetic_sweep(tmp_path) -> tuple[Path, Path]:
    """An augmentation sweep with one job unfinished, and a DP-SGD + no-defense folder beside it."""
    aug = tmp_path / "aug"
    write_multirun(aug, ["defense=augment", "defense.op=invert,solarize", "defense.magnitude=1,5,9"])
    job = 0
    for op in OPS:
        for magnitude in MAGNITUDES:
            if (op, magnitude) != ("solarize", 9):
                write_trial(aug / str(job), f"defense=augment defense.op={op} defense.magnitude={magnitude}",
                            _accuracy(op, magnitude), defense="augment", op=op, magnitude=magnitude, samples=True,
                            classes=CLASSES)
            job += 1
    dp = tmp_path / "dp"
    for sigma, drop in ((0.5, 0.2), (1.0, 0.4)):
        write_trial(dp / f"s{sigma}", f"defense=dpsgd defense.noise_multiplier={sigma}",
                    {name: (0.8 - drop, 0.7 - drop) for name in CLASSES}, defense="dpsgd", noise_multiplier=sigma,
                    classes=CLASSES, victim_trained=True, noisy_update=False)
    write_trial(dp / "none", "defense=none", {name: (0.9, 0.8) for name in CLASSES}, defense="none", classes=CLASSES)
    return aug, dp


@pytest.mark.slow
def test_report_command_writes_every_table_and_figure(synthetic_sweep, tmp_path):
    aug, dp = synthetic_sweep
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(REPO), os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-m", "fedpriv.report", str(aug), str(dp),
                           "--baseline", "defense.noise_multiplier=0.5"],
                          cwd=tmp_path, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert "8 finished trials" in done.stdout and "6 expected and 1 missing" in done.stdout
    out = aug / "report"
    assert str(out) in done.stdout

    expected = ["merged_results.csv", "report.md"] + [f"{t}.{ext}" for t in TABLES for ext in ("csv", "md")] + FIGURES
    assert sorted(p.name for p in out.iterdir()) == sorted(expected)
    assert len(read_results(out / "merged_results.csv")) == 8 * len(CLASSES)
    for name in FIGURES:
        image = np.asarray(Image.open(out / name).convert("RGB"), dtype=np.float32)
        assert min(image.shape[:2]) > 200, name
        assert image.std() > 10 and len(np.unique(image.reshape(-1, 3), axis=0)) > 50, f"{name} looks blank"

    report = (out / "report.md").read_text()
    for name in FIGURES + [f"{t}.csv" for t in TABLES]:
        assert f"({name})" in report
    assert "defense.op=solarize defense.magnitude=9" in report          # the missing job, named for a relaunch
    best = (out / "best_per_class.csv").read_text().splitlines()
    # cat against sigma 0.5 (MA 60, AA 50) scores 100 * shift: solarize M5 (80-30) + (50-40) = 20, invert M9 18,
    # solarize M1 12; the unfinished solarize M9 (28) cannot be among them.
    # One image per class: every score's 95% interval is wide, overlaps its neighbours' (≈) and contains 0.
    assert best[1].startswith("cat,solarize (M5) ≈,20.0000,")
    assert ",invert (M9) ≈,18.0000," in best[1] and ",solarize (M1) ≈,12.0000," in best[1]
    assert "WARNING" not in report and "Wilson" in report


def _run(capsys, *argv: str) -> tuple[int, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return code, captured.err


def test_missing_or_empty_sweep_dir_is_a_clear_error(tmp_path, capsys):
    code, err = _run(capsys, str(tmp_path / "nowhere"))
    assert code == 2 and "sweep_dir" in err and "does not exist" in err
    (tmp_path / "empty" / "0").mkdir(parents=True)
    code, err = _run(capsys, str(tmp_path / "empty"))
    assert code == 2 and "sweep_dir" in err and "no results.csv" in err
    assert not (tmp_path / "empty" / "report").exists()


def test_ambiguous_or_unknown_baseline_stops_before_writing(synthetic_sweep, capsys):
    aug, dp = synthetic_sweep
    code, err = _run(capsys, str(aug), str(dp))
    assert code == 2 and "--baseline" in err
    assert "defense.noise_multiplier=0.5" in err and "defense.noise_multiplier=1.0" in err
    code, err = _run(capsys, str(aug), str(dp), "--baseline", "defense.noise_multiplier=0.7")
    assert code == 2 and "--baseline" in err and "matches no DP-SGD trial" in err
    assert not (aug / "report").exists()


def test_out_must_be_a_directory(synthetic_sweep, tmp_path, capsys):
    aug, dp = synthetic_sweep
    (tmp_path / "taken").write_text("")
    code, err = _run(capsys, str(aug), str(dp), "--baseline", "defense.noise_multiplier=1", "--out",
                     str(tmp_path / "taken"))
    assert code == 2 and "--out" in err


def test_sweep_without_dp_trials_reports_what_it_can(synthetic_sweep, tmp_path, capsys):
    aug, _ = synthetic_sweep
    assert main([str(aug), "--out", str(tmp_path / "r")]) == 0
    names = {p.name for p in (tmp_path / "r").iterdir()}
    assert {"merged_results.csv", "report.md", "accuracy_vs_magnitude.png", "montage_invert.png"} <= names
    assert not names & {"advantage.csv", "dp_table.csv"}
    assert "no advantage scores" in capsys.readouterr().out
