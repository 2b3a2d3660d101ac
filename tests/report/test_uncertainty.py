"""Intervals in the report's scores, tables and heatmap, ties that the data do not break, and the refusal to
present scores against a DP baseline that defended nothing as a comparison."""

from __future__ import annotations

import pytest

from fedpriv.report import main
from fedpriv.report.collect import collect
from fedpriv.report.figures import advantage_heatmap
from fedpriv.report.baseline import select_baseline
from fedpriv.report.scores import advantage, best_per_class
from fedpriv.report.uncertainty import MIN_BOOTSTRAP_IMAGES, load_image_outcomes
from tests.report.sweeps import write_trial

DP = "defense=dpsgd defense.noise_multiplier=0.5"
AUG = "defense=augment defense.op={} defense.magnitude={}"
FAIR_DP = {"victim_trained": True, "noisy_update": False}


def _sweep(tmp_path, policies: dict[tuple[str, int], dict], *, n: int, images: bool, dp=(0.5, 0.5), **dp_columns):
    write_trial(tmp_path / "dp", DP, {"cat": dp}, defense="dpsgd", noise_multiplier=0.5, n=n, images=images,
                **(dp_columns or FAIR_DP))
    for (op, magnitude), accuracy in policies.items():
        write_trial(tmp_path / f"{op}{magnitude}", AUG.format(op, magnitude), {"cat": accuracy}, defense="augment",
                    op=op, magnitude=magnitude, n=n, images=images,
                    victim_trained=(dp_columns or FAIR_DP).get("victim_trained", True))  # one setup: same victim
    collection = collect([tmp_path])
    rows = collection.rows
    scores = advantage(rows, select_baseline(rows, None).rows, images=load_image_outcomes(collection.trials))
    return {(s["op"], s["magnitude"]): s for s in scores}


def test_advantage_is_bootstrapped_over_images_when_there_are_enough(tmp_path):
    n = 4 * MIN_BOOTSTRAP_IMAGES
    score = _sweep(tmp_path, {("solarize", 5): (0.75, 0.25)}, n=n, images=True)[("solarize", 5)]
    interval = score["advantage_ci"]
    assert score["advantage"] == pytest.approx(50.0) and interval.value == pytest.approx(50.0)   # (75-50)+(50-25)
    assert interval.method == "bootstrap" and interval.low < 50.0 < interval.high
    assert 10 < interval.high - interval.low < 60 and not interval.contains(0.0)
    assert score["images"] == n and score["ma_ci"].n == n


def test_without_per_image_files_or_with_few_images_the_interval_comes_from_wilson_intervals(tmp_path):
    many = _sweep(tmp_path / "a", {("solarize", 5): (0.75, 0.25)}, n=80, images=False)[("solarize", 5)]
    one = _sweep(tmp_path / "b", {("solarize", 5): (1.0, 0.0)}, n=1, images=True, dp=(0.0, 1.0))[("solarize", 5)]
    assert many["advantage_ci"].method == "mover" and many["advantage_ci"].contains(50.0)
    assert not many["advantage_ci"].contains(0.0)
    # One image per arm: a bootstrap would claim certainty; even the best possible score (one chance draw in 16
    # under equal rates) stays undecided.
    assert one["advantage_ci"].method == "bonferroni"
    assert one["advantage"] == pytest.approx(200.0) and one["advantage_ci"].contains(0.0)


def test_ties_are_broken_by_aa_then_ma_and_flagged_when_intervals_overlap(tmp_path):
    policies = {("brightness", 3): (0.70, 0.30), ("invert", 1): (0.60, 0.20),     # both +40, invert leaks less
                ("solarize", 9): (0.95, 0.05)}                                    # +90, clear of the others
    scores = _sweep(tmp_path, policies, n=200, images=True)
    assert scores[("brightness", 3)]["advantage"] == pytest.approx(scores[("invert", 1)]["advantage"])
    best = best_per_class(list(scores.values()), k=3)["cat"]
    assert [(s["op"], s["magnitude"]) for s in best] == [("solarize", 9), ("invert", 1), ("brightness", 3)]
    assert [s["tie"] for s in best] == [False, True, True]
    assert [s["rivals"] for s in best] == [0, 1, 1]


def test_heatmap_greys_a_cell_whose_interval_contains_zero(tmp_path):
    policies = {("invert", 1): (0.52, 0.48), ("solarize", 9): (0.95, 0.05)}     # +4 (undecided) and +90
    scores = _sweep(tmp_path, policies, n=100, images=True)
    assert scores[("invert", 1)]["advantage_ci"].contains(0.0)
    assert not scores[("solarize", 9)]["advantage_ci"].contains(0.0)
    figure = advantage_heatmap(list(scores.values()), ["cat"], tmp_path / "heatmap.png")
    image = figure.axes[0].images[0]
    masked = image.get_array().mask
    assert masked[0, 0] and not masked[0, 1]                      # ops in alphabetical order: invert, solarize
    red, green, blue, _ = image.cmap.get_bad()
    assert red == green == blue and 0.6 < red < 0.95               # masked cells are drawn grey
    assert [t.get_text() for t in figure.axes[0].texts] == ["4.0\nM1", "90.0\nM9"]   # the score is still shown


def test_report_marks_scores_against_a_baseline_that_defended_nothing(tmp_path, capsys):
    _sweep(tmp_path / "sweep", {("solarize", 5): (0.75, 0.25)}, n=1, images=False,
           victim_trained=False, noisy_update=False)
    assert main([str(tmp_path / "sweep"), "--out", str(tmp_path / "r")]) == 0
    assert "WARNING: unfair DP baseline" in capsys.readouterr().out
    report = (tmp_path / "r" / "report.md").read_text()
    assert "WARNING: unfair DP baseline" in report and "neither trained the attacked victim" in report
    assert report.index("WARNING") < report.index("## ")           # before any table
    assert "# UNFAIR BASELINE: Advantage score" in (tmp_path / "r" / "advantage.md").read_text()
    assert (tmp_path / "r" / "advantage.csv").read_text().splitlines()[1].endswith(",no")
    assert "no images.csv" in report                                # the fallback is said


def test_a_dp_trained_victim_or_a_noised_update_makes_the_baseline_fair(tmp_path):
    for name, columns in (("trained", FAIR_DP), ("noised", {"victim_trained": True, "noisy_update": True})):
        _sweep(tmp_path / name, {("solarize", 5): (0.75, 0.25)}, n=1, images=True, **columns)
        assert main([str(tmp_path / name), "--out", str(tmp_path / name / "r")]) == 0
        assert "WARNING" not in (tmp_path / name / "r" / "report.md").read_text()
