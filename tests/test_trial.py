"""One trial end to end on the offline default data: the results contract, the grid, the defenses' effects."""

from __future__ import annotations

import math

import pytest
import torch

from fedpriv.record import read_results
from fedpriv.trial import run_trial

FAST = ["attack.iterations=150", "targets.classes=[0,1,2,3]"]


@pytest.fixture(scope="module")
def baseline(tmp_path_factory, cache_dir):
    from tests.conftest import compose_config

    out = tmp_path_factory.mktemp("baseline")
    return run_trial(compose_config(*FAST, cache_dir=cache_dir), output_dir=out, overrides=FAST), out


def test_results_have_one_row_per_class_within_the_contract(baseline):
    output, out = baseline
    rows = read_results(out / "results.csv")
    assert [r["class"] for r in rows] == ["0", "1", "2", "3"]
    for row in rows:
        assert 0 <= float(row["ma"]) <= 1 and 0 <= float(row["aa"]) <= 1
        assert math.isfinite(float(row["psnr"])) and math.isfinite(float(row["ssim"]))
        assert row["dataset"] == "digits" and row["model"] == "lenet" and row["defense"] == "none"
        assert row["attack"] == "inverting_gradients" and row["fl"] == "fedsgd" and row["n"] == "1"
        assert row["evaluator"] == "convnet"        # part of the setup a report keeps apart
        assert row["epsilon"] == "" and row["lpips"] == ""  # no DP; no LPIPS backbone configured here
        assert row["overrides"] == " ".join(FAST)
    from PIL import Image

    # Four 16x16 digits shown at 64 px (4 x 66 + 2 wide, 3 x 66 + 2 high) with room for row labels and captions.
    assert Image.open(out / "reconstructions.png").size == (266 + 100, 200 + 50)
    assert output.images["reconstruction"].shape == (4, 1, 16, 16)
    assert float(rows[0]["victim_acc"]) < 0.3  # the untrained victim is near chance
    samples = torch.load(out / "samples.pt", weights_only=True)
    assert samples["reconstruction"].dtype == torch.uint8 and samples["labels"].tolist() == [0, 1, 2, 3]


def test_undefended_lenet_leaks(baseline):
    output, _ = baseline
    assert min(float(r["psnr"]) for r in output.rows) > 20  # an untrained sigmoid LeNet leaks almost exactly
    assert all(r["label_acc"] == 1.0 for r in output.rows)
    assert output.objective == pytest.approx(
        sum(r["ma"] for r in output.rows) / 4 - sum(r["aa"] for r in output.rows) / 4)


def test_augmentation_changes_the_shared_inputs(compose_cfg, tmp_path):
    overrides = [*FAST, "defense=augment", "defense.op=invert", "defense.magnitude=9"]
    output = run_trial(compose_cfg(*overrides), output_dir=tmp_path)
    assert torch.allclose(output.images["defended"], 1 - output.images["original"], atol=1e-6)
    for row in output.rows:
        assert row["op"] == "invert" and row["magnitude"] == 9
        # The attacker recovers the inverted image, which is far from the private original.
        assert row["psnr_defended"] > row["psnr"] + 10


def test_dpsgd_trial_records_epsilon(compose_cfg, tmp_path):
    overrides = [*FAST, "defense=dpsgd", "defense.noise_multiplier=1.0", "training.epochs=2", "attack.iterations=10"]
    output = run_trial(compose_cfg(*overrides), output_dir=tmp_path)
    rows = read_results(output.results_path)
    assert all(0 < float(r["epsilon"]) < 100 for r in rows)
    assert {r["noise_multiplier"] for r in rows} == {"1.0"}


def test_lpips_column_filled_with_a_local_backbone(compose_cfg, tmp_path, lpips_backbone):
    overrides = ["attack.iterations=5", "targets.classes=[0]", f"metrics.lpips.backbone={lpips_backbone}"]
    output = run_trial(compose_cfg(*overrides), output_dir=tmp_path)
    assert 0 <= output.rows[0]["lpips"] < 1.5


def test_trained_victim_is_the_cached_classifier(compose_cfg, tmp_path, cache_dir):
    output = run_trial(compose_cfg(*FAST, "victim.train_epochs=20", "attack.iterations=5"), output_dir=tmp_path)
    assert all(r["victim_trained"] for r in output.rows)
    assert all(r["victim_acc"] == r["classifier_acc"] > 0.5 for r in output.rows)
    cached = sorted(p.name for p in (cache_dir / "models").glob("classifier-*.pt"))
    assert len(cached) >= 1  # the victim reused the MA classifier's cache entry (same epochs, same key)
