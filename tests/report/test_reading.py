"""What a new reader of a report needs: no averaging across setups, image-similarity curves, what PSNR means under
a transformation, and how to add the reference runs a sweep lacks."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image

from fedpriv.report import main
from tests.report.sweeps import write_multirun, write_trial

CLASSES = ["cat", "dog"]
OPS, MAGNITUDES = ("invert", "solarize"), (1, 9)
SIMILARITY = ["psnr_vs_magnitude.png", "ssim_vs_magnitude.png", "lpips_vs_magnitude.png"]


def _augment_sweep(root, *, solarize_m9=(2.5, 40.6), setup=None, name="aug"):
    """Two ops at two magnitudes with PSNR/SSIM/LPIPS; solarize M9 scores ``solarize_m9`` = (psnr, psnr_defended)."""
    sweep = root / name
    write_multirun(sweep, ["defense=augment", "defense.op=invert,solarize", "defense.magnitude=1,9", "seed=0"])
    for op in OPS:
        for magnitude in MAGNITUDES:
            psnr = 20.0 - magnitude
            defended = psnr + 1.0
            if (op, magnitude) == ("solarize", 9):
                psnr, defended = solarize_m9
            columns = {"psnr": psnr, "psnr_defended": defended, "ssim": 0.9 - 0.05 * magnitude,
                       "lpips": 0.1 + 0.03 * magnitude, **(setup or {})}
            chosen = "".join(f"{key}={value} " for key, value in (setup or {}).items())
            write_trial(sweep / f"{op}{magnitude}", f"{chosen}defense=augment defense.op={op} "
                        f"defense.magnitude={magnitude} seed=0", {c: (0.8 - 0.01 * magnitude, 0.6 - 0.02 * magnitude) for c in CLASSES},
                        defense="augment", op=op, magnitude=magnitude, classes=CLASSES, columns=columns)
    return sweep


def _run(capsys, *argv):
    code = main([str(a) for a in argv])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return code, captured.out, captured.err


def test_mixed_setups_are_refused_with_each_setup_named(tmp_path, capsys):
    cifar = _augment_sweep(tmp_path, setup={"dataset": "cifar10", "model": "convnet"})
    digits = tmp_path / "outputs" / "run"
    write_trial(digits, "", {c: (0.9, 0.9) for c in CLASSES}, defense="none", classes=CLASSES,
                columns={"dataset": "digits", "model": "lenet", "attack": "dlg", "psnr": 45.0})
    code, _, err = _run(capsys, cifar, digits)
    assert code == 2
    assert "these results mix 2 setups" in err and "--allow-mixed" in err
    assert f"dataset=cifar10 model=convnet attack=inverting_gradients (4 trials, {cifar})" in err
    assert f"dataset=digits model=lenet attack=dlg (1 trial, {digits})" in err
    assert not (cifar / "report").exists()


def test_allow_mixed_writes_one_report_per_setup(tmp_path, capsys):
    cifar = _augment_sweep(tmp_path, setup={"dataset": "cifar10"})
    digits = _augment_sweep(tmp_path, setup={"dataset": "digits"}, name="digits")
    code, out, _ = _run(capsys, cifar, digits, "--allow-mixed", "--out", tmp_path / "r")
    assert code == 0 and "2 setups" in out
    top = (tmp_path / "r" / "report.md").read_text()
    assert "(cifar10/report.md)" in top and "(digits/report.md)" in top
    for dataset in ("cifar10", "digits"):
        report = (tmp_path / "r" / dataset / "report.md").read_text()
        assert f"Setup: `dataset={dataset} model=lenet attack=inverting_gradients fl=fedsgd`" in report
        merged = (tmp_path / "r" / dataset / "merged_results.csv").read_text().splitlines()
        assert len(merged) == 1 + 4 * len(CLASSES) and all(f"{dataset}," in line for line in merged[1:])
    # Seeds and evaluators that differ would split too; trials that share a setup stay together.
    assert len((tmp_path / "r" / "merged_results.csv").read_text().splitlines()) == 1 + 8 * len(CLASSES)


def test_similarity_figures_are_drawn_and_embedded(tmp_path, capsys):
    sweep = _augment_sweep(tmp_path)
    write_trial(tmp_path / "none", "defense=none seed=0", {c: (0.9, 0.8) for c in CLASSES}, defense="none",
                classes=CLASSES, columns={"psnr": 30.0, "ssim": 0.95, "lpips": 0.05})
    code, _, _ = _run(capsys, sweep, tmp_path / "none")
    assert code == 0
    report = (sweep / "report" / "report.md").read_text()
    for name in SIMILARITY:
        assert f"({name})" in report
        image = np.asarray(Image.open(sweep / "report" / name).convert("RGB"), dtype=np.float32)
        assert min(image.shape[:2]) > 300 and image.std() > 10, name
    hint = report.split("## Adding reference runs")[1]
    assert "defense=dpsgd" in hint and "defense=none hydra" not in hint     # only the missing DP-SGD arm


def test_sweep_without_references_says_how_to_add_them(tmp_path, capsys):
    sweep = _augment_sweep(tmp_path)
    code, out, _ = _run(capsys, sweep)
    assert code == 0 and "reference runs" in out
    report = (sweep / "report" / "report.md").read_text()
    section = report.split("## Adding reference runs")[1]
    assert f"python -m fedpriv.sweep -m seed=0 defense=none hydra.sweep.dir={sweep}-none" in section
    assert (f"python -m fedpriv.sweep -m seed=0 defense=dpsgd defense.noise_multiplier=0.5,1.0 "
            f"hydra.sweep.dir={sweep}-dpsgd") in section
    assert f"python -m fedpriv.report {sweep} {sweep}-none {sweep}-dpsgd --baseline" in section


def test_preset_sweep_hint_uses_the_presets_dp_grid():
    from fedpriv.report.arms import missing_arms_section

    rows = [{"defense": "augment", "overrides": f"experiment=seed000_cifar10_small dataset.root=/data "
                                                 f"defense.op=invert defense.magnitude={m}"} for m in (1, 2)]
    rows.append({"defense": "none", "overrides": "experiment=seed000_cifar10_small dataset.root=/data defense=none"})
    section = missing_arms_section(rows, ["multirun/s"])
    assert ("python -m fedpriv.sweep -m experiment=seed000_cifar10_dp_small dataset.root=/data "
            "hydra.sweep.dir=multirun/s-dpsgd") in section
    assert "defense=none hydra" not in section       # the no-defense arm is there already
    # The preset sweeps three noise multipliers: the reader picks the paper's baseline rather than a guess.
    assert "python -m fedpriv.report multirun/s multirun/s-dpsgd\n" in section and "--baseline \"defense" in section


@pytest.mark.parametrize("solarize_m9, noted", [((2.5, 40.6), True), ((12.0, 21.0), False)])
def test_psnr_against_the_defended_input_is_explained_where_it_diverges(tmp_path, capsys, solarize_m9, noted):
    sweep = _augment_sweep(tmp_path, solarize_m9=solarize_m9)
    assert _run(capsys, sweep)[0] == 0
    report = (sweep / "report" / "report.md").read_text()
    assert ("## PSNR against the original and against the defended input" in report) is noted
    if noted:
        section = report.split("## PSNR against the original and against the defended input")[1]
        assert "solarize M9 (2.5 dB vs 40.6 dB against the defended input)" in section
        assert "recovered the defended input" in section and "not privacy" in section
        assert "invert M" not in section.split("\n\n")[0]     # other cells differ by 1 dB: not named


def test_setups_also_differ_by_protocol_victim_and_evaluator(tmp_path):
    from fedpriv.report.collect import collect
    from fedpriv.report.setups import split_setups

    for name, columns in {"a": {"evaluator": "convnet", "victim_trained": "False"},
                          "b": {"evaluator": "vgg11", "victim_trained": "False"},
                          "c": {"evaluator": "vgg11", "victim_trained": "True"},
                          "d": {"evaluator": "vgg11", "victim_trained": "True", "fl": "fedavg"}}.items():
        write_trial(tmp_path / name, f"x={name}", {"cat": (0.5, 0.5)}, defense="none", columns=columns)
    setups = split_setups(collect([tmp_path]), [tmp_path])
    assert [s.label for s in setups] == [
        "dataset=toy model=lenet attack=inverting_gradients fl=fedsgd victim=untrained evaluator=convnet",
        "dataset=toy model=lenet attack=inverting_gradients fl=fedsgd victim=untrained evaluator=vgg11",
        "dataset=toy model=lenet attack=inverting_gradients fl=fedsgd victim=trained evaluator=vgg11",
        "dataset=toy model=lenet attack=inverting_gradients fl=fedavg victim=trained evaluator=vgg11"]
    assert len({s.slug for s in setups}) == 4
