"""The policy a search found per class, next to the best of the grid (``policy_search.csv/.md``).

A policy search (``experiment=seed000_policy_search``) is a sweep folder holding ``study.json``; its trials apply
a per-class policy, and each class's rows score that class's (op, magnitude). Per class, the found policy is the
best-scoring (op, magnitude) over every trial of the study, not only its best trial: with by-class batches a
class's advantage depends on its own augmentation only, so every trial is one more candidate for every class.
The grid's best comes from the single-op trials (``defense=augment``, seed 000's 14 x 9 grid) given to the same
report. Scores are seed 000's advantage over the report's DP-SGD baseline, or, when the report has none, over
the baseline the study was run against (``baseline.results``).
"""

from __future__ import annotations

from fedpriv.errors import FedprivError
from fedpriv.report import scores
from fedpriv.report.collect import Collection, Trial
from fedpriv.report.baseline import DpSetting
from fedpriv.report.roles import SINGLE_OP
from fedpriv.report.tables import Table
from fedpriv.sweeping.study import read_study_manifest

NAME = "policy_search"
GRID_DEFENSE = SINGLE_OP


def search_trials(collection: Collection) -> tuple[list[Trial], list[dict]]:
    """The trials of policy-search sweeps (their folder's parent holds ``study.json``) and those studies."""
    trials, studies = [], {}
    for trial in collection.trials:
        study = read_study_manifest(trial.directory.parent)
        if study is not None:
            trials.append(trial)
            studies.setdefault(str(trial.directory.parent), study)
    return trials, list(studies.values())


def _baseline_rows(baseline: DpSetting | None, studies: list[dict], notes: list[str]) -> tuple[list[dict], str]:
    if baseline is not None:
        return baseline.rows, f"DP-SGD {baseline.label}"
    from fedpriv.sweeping.advantage import load_baseline

    paths = list(dict.fromkeys(s.get("baseline") for s in studies if s.get("baseline")))
    if len(paths) > 1:
        notes.append(f"the policy searches were run against {len(paths)} baselines; the table uses {paths[0]}")
    if not paths:
        return [], ""
    try:
        found = load_baseline(paths[0])
    except FedprivError as err:
        notes.append(f"policy search: its baseline cannot be read ({err}); no policy table")
        return [], ""
    return found.rows, f"DP-SGD {found.label} ({paths[0]})"


def _best(rows: list[dict], baseline_rows: list[dict]) -> dict[str, tuple[dict, int]]:
    """Per class: the best-scoring candidate and how many candidates were scored."""
    scored = scores.advantage(rows, baseline_rows)
    best = scores.best_per_class(scored, k=1)
    counts: dict[str, int] = {}
    for score in scored:
        counts[score["class"]] = counts.get(score["class"], 0) + 1
    return {name: (ranked[0], counts[name]) for name, ranked in best.items() if ranked}


def policy_table(collection: Collection, baseline: DpSetting | None, classes: list[str],
                 notes: list[str]) -> Table | None:
    """The found and the grid's best policy per class, or None when no policy search is among the inputs."""
    trials, studies = search_trials(collection)
    if not trials:
        return None
    baseline_rows, label = _baseline_rows(baseline, studies, notes)
    if not baseline_rows:
        notes.append("policy search: no DP-SGD baseline (give the DP sweep to the report, or run the search with "
                     "baseline.results): no policy table")
        return None
    searched = {trial.trial_id for trial in trials}
    found = _best([row for trial in trials for row in trial.rows], baseline_rows)
    grid = _best([row for row in collection.rows if row.get("defense") == GRID_DEFENSE
                  and row.get("trial_id") not in searched], baseline_rows)
    budget = sum(int(s.get("n_trials") or 0) for s in studies)
    table = Table(NAME, f"Policy search: found policy per class vs the grid's best (over {label})",
                  ["class", "found op", "found magnitude", "found advantage", "candidates", "grid op",
                   "grid magnitude", "grid advantage"],
                  note=f"Found: each class's best (op, magnitude) over the {len(trials)} finished trials of the "
                       f"search (budget {budget}); candidates: distinct (op, magnitude) it scored for the class. "
                       f"Grid: the best single-op trial (defense={GRID_DEFENSE}) of the grids given to the report. "
                       f"Advantage in percentage points over the DP baseline; higher is better.")
    for name in classes:
        if name not in found and name not in grid:
            continue
        row: list[object] = [name]
        if name in found:
            best, count = found[name]
            row += [best["op"], best["magnitude"], best["advantage"], count]
        else:
            row += [None, None, None, 0]
        row += [grid[name][0]["op"], grid[name][0]["magnitude"], grid[name][0]["advantage"]] if name in grid \
            else [None, None, None]
        table.rows.append(row)
    if table.rows:
        table.rows.append(["average", None, None, scores.mean(r[3] for r in table.rows), None, None, None,
                           scores.mean(r[7] for r in table.rows)])
    if not grid:
        notes.append(f"policy search: no single-op grid trials (defense={GRID_DEFENSE}) given: the grid columns are "
                     "empty")
    return table
