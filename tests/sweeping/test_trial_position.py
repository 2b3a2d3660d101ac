"""A trial of a sweep names its place in the plan when it starts: "trial 2/3"."""

from __future__ import annotations

import json

from fedpriv.sweeping.progress import trial_position


def test_trial_names_its_number_and_the_sweep_count(tmp_path):
    trials = [{"id": i, "overrides": [f"seed={n}"]} for n, i in enumerate(["aaa", "bbb", "ccc"])]
    (tmp_path / "trials.json").write_text(json.dumps({"trials": trials}))
    (tmp_path / "trial-aaa").mkdir()
    (tmp_path / "trial-aaa" / "results.csv").write_text("done\n")
    line = trial_position(tmp_path, tmp_path / "trial-bbb")
    assert line.startswith("trial 2/3 (trial-bbb); sweep ")
    assert line.endswith("1/3 trials done, 0 running, 2 left")
