"""Finding finished trials: recursion, the missing-trial count from multirun.yaml, duplicates."""

from __future__ import annotations

import shutil

from fedpriv.report.collect import collect
from tests.report.sweeps import write_multirun, write_trial

TASK = ["defense=augment", "defense.op=invert,solarize", "defense.magnitude=1,9", "progress=false"]


def _job(op, magnitude):
    return f"defense=augment defense.op={op} defense.magnitude={magnitude} progress=false"


def _finish(directory, op, magnitude, **kwargs):
    # Hydra writes booleans back as "False"; the count must still match them to "progress=false".
    overrides = _job(op, magnitude).replace("false", "False")
    return write_trial(directory, overrides, {"cat": (0.5, 0.5)}, defense="augment", op=op, magnitude=magnitude,
                       **kwargs)


def test_missing_trials_are_counted_and_named_from_multirun_yaml(tmp_path):
    write_multirun(tmp_path, TASK)
    _finish(tmp_path / "0", "invert", 1)
    _finish(tmp_path / "1", "invert", 9)
    _finish(tmp_path / "nested" / "by-hash" / "ab12", "solarize", 1)   # any depth, any folder name
    (tmp_path / "3" / ".hydra").mkdir(parents=True)                    # started, not finished
    found = collect([tmp_path])
    [count] = found.counts
    assert (len(found.trials), count.found, count.expected, count.missing) == (3, 3, 4, 1)
    assert count.missing_jobs == [_job("solarize", 9).replace("false", "False")]   # as Hydra spells the job


def test_expected_count_is_unknown_without_multirun_yaml_or_for_other_sweepers(tmp_path):
    _finish(tmp_path / "plain" / "0", "invert", 1)
    [count] = collect([tmp_path / "plain"]).counts
    assert count.expected is None and count.missing is None and "no multirun.yaml" in count.why_unknown
    write_multirun(tmp_path / "optuna", TASK, sweeper="hydra_plugins.hydra_optuna_sweeper.optuna_sweeper.OptunaSweeper")
    _finish(tmp_path / "optuna" / "0", "invert", 1)
    [count] = collect([tmp_path / "optuna"]).counts
    assert count.expected is None and "basic sweeper" in count.why_unknown


def test_a_trial_found_twice_is_kept_once_with_a_note(tmp_path):
    first = _finish(tmp_path / "a" / "0", "invert", 1, trial_id="same")
    shutil.copytree(first, tmp_path / "b" / "7")
    _finish(tmp_path / "b" / "8", "invert", 9, trial_id="other")
    found = collect([tmp_path / "a", tmp_path / "b"])
    assert [t.trial_id for t in found.trials] == ["same", "other"]
    assert len(found.rows) == 2
    assert [t.directory for t in found.trials][0] == tmp_path / "a" / "0"
    assert any("same" in note and "duplicates" in note for note in found.notes)


def test_manifest_defines_the_plan_and_stale_trials_are_left_out(tmp_path):
    import json

    from fedpriv.record import write_results
    from fedpriv.report.collect import collect

    (tmp_path / "trials.json").write_text(json.dumps({"trials": [
        {"id": "aaa", "overrides": ["defense.magnitude=1"]}, {"id": "bbb", "overrides": ["defense.magnitude=3"]}]}))
    write_results(tmp_path / "trial-aaa" / "results.csv", [{"trial_id": "aaa", "class": "cat", "ma": 0.5}])
    write_results(tmp_path / "trial-old" / "results.csv", [{"trial_id": "old", "class": "cat", "ma": 0.9}])
    collection = collect([tmp_path])
    assert [t.trial_id for t in collection.trials] == ["aaa"]
    count = collection.counts[0]
    assert (count.found, count.expected, count.missing_jobs) == (1, 2, ["defense.magnitude=3"])
    assert any("not in its current plan" in note for note in collection.notes)
