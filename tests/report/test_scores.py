"""Advantage scores, the best-per-class ranking, baseline selection and the DP table, on numbers worked out by
hand from tiny results files."""

from __future__ import annotations

import pytest

from fedpriv.record import read_results
from fedpriv.report.collect import ReportError, collect
from fedpriv.report.intervals import Estimate
from fedpriv.report.baseline import select_baseline
from fedpriv.report.scores import (advantage, best_per_class, class_order, dp_accuracy, dp_averages, mixed_settings)
from fedpriv.report.tables import best_table, dp_table
from tests.report.sweeps import write_trial

DP = "defense=dpsgd defense.noise_multiplier={}"
AUG = "defense=augment defense.op={} defense.magnitude={}"


@pytest.fixture
def sweep(tmp_path):
    """Two classes; DP-SGD at sigma 0.5 and 1.0; no defense; three policies, one of them run with two seeds."""
    write_trial(tmp_path / "dp05", DP.format(0.5), {"cat": (0.60, 0.50), "dog": (0.40, 0.30)},
                defense="dpsgd", noise_multiplier=0.5)
    write_trial(tmp_path / "dp10", DP.format(1.0), {"cat": (0.30, 0.15), "dog": (0.20, 0.10)},
                defense="dpsgd", noise_multiplier=1.0)
    write_trial(tmp_path / "none", "defense=none", {"cat": (0.90, 0.80), "dog": (0.70, 0.60)}, defense="none")
    write_trial(tmp_path / "sol7a", AUG.format("solarize", 7), {"cat": (0.80, 0.20), "dog": (0.50, 0.40)},
                defense="augment", op="solarize", magnitude=7, seed=0)
    write_trial(tmp_path / "sol7b", AUG.format("solarize", 7) + " seed=1", {"cat": (0.70, 0.30), "dog": (0.30, 0.20)},
                defense="augment", op="solarize", magnitude=7, seed=1)
    write_trial(tmp_path / "pos9", AUG.format("posterize", 9), {"cat": (0.55, 0.10), "dog": (0.45, 0.05)},
                defense="augment", op="posterize", magnitude=9)
    write_trial(tmp_path / "inv1", AUG.format("invert", 1), {"cat": (0.20, 0.45), "dog": (0.90, 0.35)},
                defense="augment", op="invert", magnitude=1)
    return collect([tmp_path]).rows


def _scores(rows, baseline):
    return {(s["class"], s["op"], s["magnitude"]): s for s in advantage(rows, select_baseline(rows, baseline).rows)}


def test_advantage_matches_hand_computed_scores(sweep):
    scores = _scores(sweep, "defense.noise_multiplier=0.5")
    # cat, solarize M7: seeds averaged first to MA 0.75, AA 0.25; (75 - 60) + (50 - 25) = 15 + 25
    assert scores[("cat", "solarize", 7)]["ma_advantage"] == pytest.approx(15.0)
    assert scores[("cat", "solarize", 7)]["aa_advantage"] == pytest.approx(25.0)
    assert scores[("cat", "solarize", 7)]["advantage"] == pytest.approx(40.0)
    assert scores[("cat", "solarize", 7)]["n"] == 2
    assert scores[("cat", "posterize", 9)]["advantage"] == pytest.approx(35.0)    # (55 - 60) + (50 - 10)
    assert scores[("cat", "invert", 1)]["advantage"] == pytest.approx(-35.0)      # (20 - 60) + (50 - 45)
    assert scores[("dog", "solarize", 7)]["advantage"] == pytest.approx(0.0)      # (40 - 40) + (30 - 30)
    assert scores[("dog", "posterize", 9)]["advantage"] == pytest.approx(30.0)    # (45 - 40) + (30 - 5)
    assert scores[("dog", "invert", 1)]["advantage"] == pytest.approx(45.0)       # (90 - 40) + (30 - 35)
    assert len(scores) == 6


def test_another_baseline_changes_the_scores(sweep):
    scores = _scores(sweep, "defense.noise_multiplier=1")      # "1" matches the "1.0" the sweep was run with
    assert scores[("cat", "posterize", 9)]["advantage"] == pytest.approx(30.0)    # (55 - 30) + (15 - 10)
    assert scores[("dog", "invert", 1)]["advantage"] == pytest.approx(45.0)       # (90 - 20) + (10 - 35)


def test_best_per_class_ranks_by_advantage(sweep):
    best = best_per_class(advantage(sweep, select_baseline(sweep, "defense.noise_multiplier=0.5").rows), k=3)
    assert [(s["op"], s["magnitude"]) for s in best["cat"]] == [("solarize", 7), ("posterize", 9), ("invert", 1)]
    assert [(s["op"], s["magnitude"]) for s in best["dog"]] == [("invert", 1), ("posterize", 9), ("solarize", 7)]
    table = best_table(best, class_order(sweep))
    # One image per class: the intervals overlap, so every ranked policy is flagged as a tie (≈).
    assert table.rows[0][:2] == ["cat", "solarize (M7) ≈"] and table.rows[0][2].value == pytest.approx(40.0)
    assert [table.rows[1][i] for i in (1, 3)] == ["invert (M1) ≈", "posterize (M9) ≈"]
    assert [table.rows[1][i].value for i in (2, 4)] == pytest.approx([45.0, 30.0])


def test_per_class_policy_scores_only_the_classes_it_defends(sweep, tmp_path):
    # augment_per_class defends cat with contrast M7 and leaves dog alone (empty op): dog gets no contrast score.
    write_trial(tmp_path / "policy", "defense=augment_per_class", {"cat": (0.90, 0.10), "dog": (0.95, 0.90)},
                defense="augment_per_class", trial_id="policy")
    rows = read_results(tmp_path / "policy" / "results.csv")
    rows[0].update(op="contrast", magnitude="7")
    rows[1].update(op="", magnitude="0")
    scores = _scores(sweep + rows, "defense.noise_multiplier=0.5")
    assert scores[("cat", "contrast", 7)]["advantage"] == pytest.approx(70.0)     # (90 - 60) + (50 - 10)
    assert not [key for key in scores if key[0] == "dog" and key[1] in ("contrast", "")]


def test_dp_table_has_original_and_one_column_pair_per_noise_multiplier(sweep):
    table = dp_table(dp_accuracy(sweep), class_order(sweep), dp_averages(sweep))
    assert table.columns == ["class", "original MA", "original AA", "original n", "sigma=0.5 MA", "sigma=0.5 AA",
                             "sigma=0.5 n", "sigma=1 MA", "sigma=1 AA", "sigma=1 n"]
    assert [row[0] for row in table.rows] == ["cat", "dog", "average"]
    values = lambda row: [c.value if isinstance(c, Estimate) else c for c in row[1:]]
    assert values(table.rows[0]) == pytest.approx([90, 80, 1, 60, 50, 1, 30, 15, 1])
    assert values(table.rows[2]) == pytest.approx([80, 70, 2, 50, 40, 2, 25, 12.5, 2])
    # Every MA and AA carries its interval; one image per class leaves them wide.
    assert all(c.low < c.value < c.high and c.high - c.low > 50 for c in table.rows[2][1:] if isinstance(c, Estimate))
    header = table.csv().splitlines()[0].split(",")
    assert header[:5] == ["class", "original MA", "original MA low", "original MA high", "original AA"]


def test_baseline_is_required_when_there_are_several_dp_settings(sweep):
    with pytest.raises(ReportError, match="--baseline") as err:
        select_baseline(sweep, None)
    assert '"defense.noise_multiplier=0.5"' in str(err.value) and '"defense.noise_multiplier=1.0"' in str(err.value)


def test_unknown_and_malformed_baselines_are_refused(sweep):
    with pytest.raises(ReportError, match="matches no DP-SGD trial") as err:
        select_baseline(sweep, "defense.noise_multiplier=0.3")
    assert "defense.noise_multiplier=1.0" in str(err.value)      # the available settings are listed
    with pytest.raises(ReportError, match="key=value"):
        select_baseline(sweep, "0.5")
    with pytest.raises(ReportError, match="matches 2 DP-SGD settings"):
        select_baseline(sweep, "defense=dpsgd")


def test_single_dp_setting_is_the_default_baseline_and_seeds_are_one_setting(tmp_path):
    for seed in (0, 1):
        write_trial(tmp_path / f"dp{seed}", f"defense=dpsgd seed={seed}", {"cat": (0.5 + seed / 10, 0.4)},
                    defense="dpsgd", noise_multiplier=0.5, seed=seed)
    rows = collect([tmp_path]).rows
    baseline = select_baseline(rows, None)
    assert baseline.trials == 2
    assert select_baseline(rows, "seed=1").trials == 1


def test_baseline_key_left_at_its_default_matches_the_results_column(tmp_path):
    # The DP run at the default sigma has no noise_multiplier override; its results column still says 0.5.
    write_trial(tmp_path / "a", "defense=dpsgd", {"cat": (0.5, 0.4)}, defense="dpsgd", noise_multiplier=0.5)
    write_trial(tmp_path / "b", DP.format(1.0), {"cat": (0.2, 0.1)}, defense="dpsgd", noise_multiplier=1.0)
    rows = collect([tmp_path]).rows
    assert select_baseline(rows, "defense.noise_multiplier=0.5").overrides == "defense=dpsgd"
    assert select_baseline(rows, "defense.noise_multiplier=1.0").trials == 1


def test_no_dp_trials_means_no_baseline_unless_one_is_asked_for(tmp_path):
    write_trial(tmp_path / "a", AUG.format("invert", 1), {"cat": (0.5, 0.4)}, defense="augment", op="invert",
                magnitude=1)
    rows = collect([tmp_path]).rows
    assert select_baseline(rows, None) is None
    with pytest.raises(ReportError, match="no DP-SGD trials"):
        select_baseline(rows, "defense.noise_multiplier=0.5")


def test_settings_that_vary_besides_op_magnitude_and_seed_are_named(sweep, tmp_path):
    assert mixed_settings(sweep) == []
    write_trial(tmp_path / "wide", AUG.format("invert", 1) + " model.width=32", {"cat": (0.5, 0.5)},
                defense="augment", op="invert", magnitude=1)
    assert mixed_settings(sweep + read_results(tmp_path / "wide" / "results.csv")) == ["model.width"]
