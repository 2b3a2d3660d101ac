"""A trial writes each private image's outcome to images.csv, agreeing with its per-class results.csv rows."""

from __future__ import annotations

import csv

import pytest

from fedpriv.defenses.base import NoDefense
from fedpriv.record import IMAGES_FILE, read_outcomes, read_results
from fedpriv.trial import run_trial

TINY = ["attack.iterations=5", "targets.classes=[0,1,2]", "targets.per_class=2", "record.grid=false"]


def test_images_csv_has_one_row_per_image_matching_the_class_rates(compose_cfg, tmp_path):
    output = run_trial(compose_cfg(*TINY), output_dir=tmp_path)
    images = read_outcomes(tmp_path / IMAGES_FILE)
    rows = read_results(output.results_path)
    assert len(images) == 6 and {r["trial_id"] for r in images} == {rows[0]["trial_id"]}
    assert len({r["image_index"] for r in images}) == 6
    for row in rows:
        mine = [r for r in images if r["class_id"] == row["class_id"]]
        assert len(mine) == int(row["n"]) == 2
        for column, rate in (("ma_correct", "ma"), ("aa_correct", "aa")):
            assert {r[column] for r in mine} <= {"0", "1"}
            assert sum(int(r[column]) for r in mine) / 2 == pytest.approx(float(row[rate]))
        assert sum(float(r["psnr"]) for r in mine) / 2 == pytest.approx(float(row["psnr"]), abs=1e-4)


def test_dp_rows_say_whether_the_shared_update_was_noised():
    from fedpriv.defenses import DPSGD
    from fedpriv.record import COLUMNS

    assert "noisy_update" in COLUMNS
    assert DPSGD(noisy_update=False).describe(0)["noisy_update"] is False
    assert DPSGD().describe(0)["noisy_update"] is True


def test_rows_hold_each_class_worst_case_over_its_images(compose_cfg, tmp_path, lpips_backbone):
    # psnr_max and lpips_min are the best-reconstructed image of each class, not its mean.
    output = run_trial(compose_cfg(*TINY, f"metrics.lpips.backbone={lpips_backbone}"), output_dir=tmp_path)
    images = read_outcomes(tmp_path / IMAGES_FILE)
    for row in read_results(output.results_path):
        mine = [r for r in images if r["class_id"] == row["class_id"]]
        psnr, lpips = [float(r["psnr"]) for r in mine], [float(r["lpips"]) for r in mine]
        assert psnr[0] != pytest.approx(psnr[1], abs=1e-3)     # two different images: max and mean differ
        assert float(row["psnr_max"]) == pytest.approx(max(psnr), abs=1e-4)
        assert float(row["psnr_max"]) > float(row["psnr"])
        assert float(row["lpips_min"]) == pytest.approx(min(lpips), abs=1e-4)
        assert float(row["lpips_min"]) < float(row["lpips"])
        # The columns describing the defense are named on every row, so a report can group by them.
        assert row["defense_columns"].split() == list(NoDefense().describe(int(row["class_id"])))


class Labelled(NoDefense):
    """A defense no part of fedpriv knows by name: it changes nothing and describes itself by ``level``."""

    name = "labelled"
    columns = ("level",)

    def __init__(self, level: int = 1):
        self.level = level

    def describe(self, class_id=None):
        return {"level": self.level}


def test_a_new_defense_reaches_the_report_with_its_columns(compose_cfg, tmp_path):
    from fedpriv.report import main

    overrides = [*TINY, f"defense._target_={__name__}.Labelled", "+defense.level=7"]
    output = run_trial(compose_cfg(*overrides), output_dir=tmp_path / "trial")
    rows = read_results(output.results_path)
    assert {(r["defense"], r["level"], r["defense_columns"]) for r in rows} == {("labelled", "7", "level")}
    assert main([str(tmp_path / "trial"), "--out", str(tmp_path / "report")]) == 0
    with open(tmp_path / "report" / "defense_settings.csv", newline="") as f:
        (setting,) = list(csv.DictReader(f))
    assert (setting["defense"], setting["level"], setting["trials"], setting["images"]) == ("labelled", "7", "1", "6")
    assert float(setting["MA"]) == pytest.approx(100 * sum(float(r["ma"]) for r in rows) / 3, abs=1e-3)
    assert float(setting["PSNR max"]) == pytest.approx(max(float(r["psnr_max"]) for r in rows), abs=1e-3)
