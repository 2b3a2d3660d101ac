"""Per-class augmentation policy search: the preset's search space, the advantage objective over a DP baseline,
the resumed Optuna study, the report's policy table, and (slow) a real search relaunched."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from hydra import compose, initialize_config_dir

from fedpriv.config import config_problems
from fedpriv.defenses.augment_ops import OP_NAMES
from fedpriv.record import read_results, write_results
from fedpriv.record.results import objective_of
from fedpriv.report import main as report_main
from fedpriv.sweeping import study
from tests.conftest import CONF
from tests.report.sweeps import write_trial

PRESET = "experiment=seed000_policy_search"


def _compose(*overrides: str):
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        return compose(config_name="config", return_hydra_config=True,
                       overrides=[PRESET, "dataset=digits", "progress=false", *overrides])


def _dp_baseline(path: Path, accuracy: dict[str, tuple[float, float]], *, sigma: float = 0.5, seed: int = 0,
                 classes: list[str] | None = None) -> Path:
    """A finished DP-SGD trial's results.csv (class -> (MA, AA) fractions)."""
    write_trial(path, f"defense=dpsgd defense.noise_multiplier={sigma}", accuracy, defense="dpsgd",
                noise_multiplier=sigma, seed=seed, classes=classes or list(accuracy))
    return path / "results.csv"


DIGITS = {str(c): (0.6, 0.9) for c in range(10)}


def test_preset_searches_an_op_and_a_magnitude_per_class_and_keeps_its_study_in_the_sweep_folder():
    cfg = _compose("hydra.sweep.dir=/sweeps/x")
    sweeper = cfg.hydra.sweeper
    assert sweeper._target_.endswith("OptunaSweeper") and sweeper.direction == "maximize"
    assert sweeper.storage == "sqlite:////sweeps/x/study.db" and sweeper.study_name == "policy_search"
    assert cfg.objective == "advantage" and cfg.defense._target_.endswith("AugmentPerClass")
    searched, fixed = study.search_space(cfg)
    assert sorted(searched) == sorted([f"defense.policy.{c}.{k}" for c in range(10) for k in ("op", "magnitude")])
    for c in range(10):
        assert searched[f"defense.policy.{c}.op"] == list(OP_NAMES)
        assert searched[f"defense.policy.{c}.magnitude"] == [1, 9]        # int 1..9 (both ends checked)
    cfg.hydra.overrides.task.append("defense.policy.3.op=choice(posterize,solarize)")     # narrowed on the command line
    assert study.search_space(cfg)[0]["defense.policy.3.op"] == ["posterize", "solarize"]
    cfg.hydra.overrides.task.pop()
    jobs = study.check_jobs(cfg)
    assert len(jobs) == 14 and {job for jobs_ in jobs for job in jobs_ if ".0.op=" in job} == \
        {f"defense.policy.0.op={op}" for op in OP_NAMES}
    assert all(fixed == job[:len(fixed)] for job in jobs)


def test_advantage_needs_an_existing_dp_baseline_before_any_compute(tmp_path):
    cfg = _compose()

    def problems(results, classes=None):
        cfg.baseline.results, cfg.targets.classes = None if results is None else str(results), classes
        return config_problems(cfg)

    unset = problems(None)
    assert len(unset) == 1 and unset[0].startswith("baseline.results: must be set when objective=advantage")
    missing = problems(tmp_path / "nope.csv")
    assert len(missing) == 1 and "baseline.results=" in missing[0] and "does not exist" in missing[0]

    not_dp = tmp_path / "plain"
    write_trial(not_dp, "defense=none", {"0": (0.9, 0.9)}, defense="none", classes=["0"])
    assert "no finished DP-SGD trial" in problems(not_dp)[0]

    good = _dp_baseline(tmp_path / "dp", DIGITS)
    assert problems(good) == [] and problems(good.parent) == []       # a results.csv or a folder
    partial = _dp_baseline(tmp_path / "dp01", {"0": (0.6, 0.9), "1": (0.5, 0.8)}, classes=list(DIGITS))
    assert problems(partial, ["0", "1"]) == []
    wrong = problems(partial, ["0", "7"])
    assert len(wrong) == 1 and "targets.classes ['7']" in wrong[0]

    _dp_baseline(tmp_path / "sweep" / "trial-a", DIGITS, sigma=0.5)
    _dp_baseline(tmp_path / "sweep" / "trial-b", DIGITS, sigma=1.0)
    two = problems(tmp_path / "sweep")
    assert len(two) == 1 and "2 DP-SGD settings" in two[0]


def test_advantage_objective_is_seed000s_score_averaged_over_classes(tmp_path):
    # the baseline: two seeds of one DP setting, averaged per class: cat (0.6, 0.9), dog (0.5, 0.8)
    _dp_baseline(tmp_path / "dp" / "trial-s0", {"cat": (0.7, 0.9), "dog": (0.5, 0.7)}, seed=0)
    _dp_baseline(tmp_path / "dp" / "trial-s1", {"cat": (0.5, 0.9), "dog": (0.5, 0.9)}, seed=1)
    trial = write_trial(tmp_path / "trial", "x=1", {"cat": (0.7, 0.2), "dog": (0.5, 0.8)}, defense="augment_per_class",
                        op="solarize", magnitude=5) / "results.csv"
    # cat: (70 - 60) + (90 - 20) = 80; dog: (50 - 50) + (80 - 80) = 0
    assert objective_of(trial, "advantage", baseline=str(tmp_path / "dp")) == pytest.approx(40.0)
    assert objective_of(trial, "ma_minus_aa") == pytest.approx((0.6 - 0.5))


def test_relaunch_resumes_the_study_and_requeues_interrupted_trials(tmp_path):
    import optuna
    from optuna.distributions import IntUniformDistribution
    from optuna.trial import TrialState

    cfg = _compose(f"hydra.sweep.dir={tmp_path}", "hydra.sweeper.n_trials=5")
    storage = str(cfg.hydra.sweeper.storage)
    first = optuna.create_study(study_name="policy_search", storage=storage, direction="maximize")
    for value in (1.0, 2.0):
        trial = first.ask({"m": IntUniformDistribution(1, 9)})
        first.tell(trial, value)
    killed = first.ask({"m": IntUniformDistribution(1, 9)})     # a launch killed while this one ran

    state = study.resume_study(cfg)
    assert (state.done, state.requeued, state.to_run) == (2, 1, 3) and cfg.hydra.sweeper.n_trials == 3
    assert cfg.hydra.sweeper.sampler.seed == 0 + 4          # seed + trials so far: not the first launch's draws
    resumed = optuna.load_study(study_name="policy_search", storage=storage)
    assert resumed.trials[killed.number].state == TrialState.FAIL
    assert resumed.trials[-1].state == TrialState.WAITING
    assert resumed.ask({"m": IntUniformDistribution(1, 9)}).params == killed.params     # the next ask reruns it

    cfg.hydra.sweeper.n_trials = 2
    assert study.resume_study(cfg).to_run == 0
    cfg.hydra.sweep.dir, cfg.hydra.sweeper.n_trials = str(tmp_path / "new"), 4     # another sweep folder
    (tmp_path / "new").mkdir()
    assert study.resume_study(cfg).to_run == 4


def _search_trial(sweep: Path, name: str, policy: dict[str, tuple[str, int, float, float]]) -> None:
    """A finished policy-search trial: class -> (op, magnitude, MA, AA)."""
    rows = [{"dataset": "toy", "defense": "augment_per_class", "op": op, "magnitude": magnitude, "seed": 0,
             "class": cls, "class_id": i, "ma": ma, "aa": aa, "trial_id": name,
             "overrides": f"experiment=seed000_policy_search p={name}"}
            for i, (cls, (op, magnitude, ma, aa)) in enumerate(policy.items())]
    write_results(sweep / f"trial-{name}" / "results.csv", rows)


def test_report_lists_the_found_policy_per_class_next_to_the_grid_best(tmp_path, capsys):
    dp = tmp_path / "dp"
    _dp_baseline(dp / "trial-dp", {"cat": (0.6, 0.9), "dog": (0.5, 0.8)})
    search = tmp_path / "search"
    search.mkdir()
    (search / study.STUDY_MANIFEST).write_text(json.dumps({"n_trials": 2, "baseline": str(dp)}))
    _search_trial(search, "s1", {"cat": ("solarize", 7, 0.7, 0.2), "dog": ("invert", 2, 0.5, 0.7)})
    _search_trial(search, "s2", {"cat": ("rotate", 3, 0.6, 0.6), "dog": ("contrast", 9, 0.6, 0.5)})
    grid = tmp_path / "grid"
    for op, magnitude, cat, dog in [("solarize", 7, (0.65, 0.3), (0.4, 0.8)), ("rotate", 1, (0.5, 0.5), (0.5, 0.4))]:
        write_trial(grid / f"trial-{op}", f"defense.op={op} defense.magnitude={magnitude}",
                    {"cat": cat, "dog": dog}, defense="augment", op=op, magnitude=magnitude)

    # the study's own baseline when the report is given none
    assert report_main([str(search), str(grid), "--out", str(tmp_path / "r1")]) == 0
    table = {r["class"]: r for r in read_results(tmp_path / "r1" / "policy_search.csv")}
    # cat: solarize M7 = (70-60)+(90-20) = 80 beats rotate M3 = 0+30; dog: contrast M9 = 10+30 = 40 beats invert
    assert (table["cat"]["found op"], table["cat"]["found magnitude"], float(table["cat"]["found advantage"])) == \
        ("solarize", "7", 80.0)
    assert (table["dog"]["found op"], table["dog"]["found magnitude"], float(table["dog"]["found advantage"])) == \
        ("contrast", "9", 40.0)
    assert table["cat"]["candidates"] == "2"
    # grid: cat solarize M7 = 5 + 60 = 65 > rotate M1 = -10 + 40; dog rotate M1 = 0 + 40 > solarize M7 = -10 + 0
    assert (table["cat"]["grid op"], float(table["cat"]["grid advantage"])) == ("solarize", 65.0)
    assert (table["dog"]["grid op"], table["dog"]["grid magnitude"], float(table["dog"]["grid advantage"])) == \
        ("rotate", "1", 40.0)
    assert float(table["average"]["found advantage"]) == 60.0 and float(table["average"]["grid advantage"]) == 52.5
    assert "## Policy search" in (tmp_path / "r1" / "report.md").read_text()

    # with the DP sweep given, its baseline is the one used; without a search, no policy table
    assert report_main([str(search), str(grid), str(dp), "--out", str(tmp_path / "r2")]) == 0
    assert read_results(tmp_path / "r2" / "policy_search.csv")[0]["found advantage"] == "80.0000"
    assert report_main([str(grid), str(dp), "--out", str(tmp_path / "r3")]) == 0
    assert not (tmp_path / "r3" / "policy_search.csv").exists()


TINY = ["dataset=digits", "evaluator=convnet", "training.epochs=2", "evaluator.training.epochs=2",
        "attack.iterations=5", "attack.parallel=2", "targets.classes=[0,1]", "record.grid=false", "progress=false",
        "metrics.lpips.enabled=false"]
# `color` needs 3 channels: on the 1-channel digits the search space leaves it out, as a user's command must.
GREY_OPS = ",".join(op for op in OP_NAMES if op != "color")
TINY += [f"defense.policy.{c}.op=choice({GREY_OPS})" for c in range(10)]


@pytest.mark.slow
def test_policy_search_sweep_resumes_its_study_and_reports_a_policy_per_class(tmp_path, cache_dir):
    import optuna
    from optuna.trial import TrialState

    baseline = _dp_baseline(tmp_path / "dp", {"0": (0.6, 0.9), "1": (0.5, 0.8)}, classes=list(DIGITS))
    env = {**os.environ, "FEDPRIV_CACHE_DIR": str(cache_dir), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "fedpriv.sweep", "-m", PRESET, *TINY, f"baseline.results={baseline}"]

    def launch(n_trials: int) -> str:
        run = subprocess.run([*command, f"hydra.sweeper.n_trials={n_trials}"], cwd=tmp_path, env=env,
                             capture_output=True, text=True, timeout=600)
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
        return run.stdout + run.stderr

    def finished(sweep: Path) -> dict[str, int]:
        return {p.parent.name: p.stat().st_mtime_ns for p in sweep.glob("trial-*/results.csv")}

    launch(3)
    (sweep,) = (tmp_path / "multirun").iterdir()
    assert sweep.name.startswith("seed000_policy_search-") and (sweep / "study.db").is_file()
    first = finished(sweep)
    assert 1 <= len(first) <= 3        # three trials (the sampler may propose a policy twice: one folder)

    def complete() -> int:
        loaded = optuna.load_study(study_name="policy_search", storage=f"sqlite:///{sweep / 'study.db'}")
        return len(loaded.get_trials(states=(TrialState.COMPLETE,)))

    assert complete() == 3
    again = launch(3)                  # the same command: the study is done, nothing runs
    assert "3 done already" in again and "0 to run" in again and finished(sweep) == first and complete() == 3
    more = launch(4)                   # a larger budget extends the study by one trial
    assert "1 to run" in more and complete() == 4
    after = finished(sweep)
    assert all(after[name] == stamp for name, stamp in first.items())      # no finished trial was run again

    report = subprocess.run([sys.executable, "-m", "fedpriv.report", str(sweep)], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=300)
    assert report.returncode == 0, report.stderr
    table = {r["class"]: r for r in read_results(sweep / "report" / "policy_search.csv")}
    assert set(table) == {"0", "1", "average"}
    for cls in ("0", "1"):
        assert table[cls]["found op"] in OP_NAMES and 1 <= int(table[cls]["found magnitude"]) <= 9
        assert int(table[cls]["candidates"]) >= 1 and table[cls]["found advantage"] != ""


def test_a_bad_searched_value_stops_the_search_before_any_trial(tmp_path, capsys):
    from fedpriv.sweeping import PlanSweep

    baseline = _dp_baseline(tmp_path / "dp", DIGITS)
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose(config_name="config", return_hydra_config=True, overrides=[
            PRESET, "dataset=digits", f"baseline.results={baseline}", f"hydra.sweep.dir={tmp_path / 'search'}"])
        cfg.hydra.sweeper.params = {"defense.policy.3.op": "choice(posterize,blur)",
                                    "defense.policy.3.magnitude": "int(interval(1,12))"}
        with pytest.raises(SystemExit) as stop:
            PlanSweep().on_multirun_start(config=cfg)
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert "defense.policy.3.op='blur' is not allowed" in err and "defense.policy.3.magnitude=12 is out of range" in err
    assert err.count("is not allowed") == 1 and not (tmp_path / "search").exists()      # nothing was started
