"""The ``advantage`` objective: a trial scored per class against a DP-SGD baseline, for Hydra sweepers.

Seed 000 scores a defense against a DP-SGD run, per class, in percentage points:

    advantage = 100 * (MA - MA_dp) + 100 * (AA_dp - AA)

(model accuracy kept beyond DP's plus attack accuracy removed beyond DP's; higher is better than DP). With
``objective=advantage baseline.results=<path>`` a trial returns the mean of that score over its classes, each
class compared with the same class of the baseline. ``<path>`` is a DP-SGD trial's ``results.csv`` or a sweep
folder holding the finished trials of one DP-SGD setting (their rows are averaged per class, so seeds of that
setting pool). The baseline must have been run in the trial's setting (dataset, model, attack, targets): for
the seed 000 presets, ``seed000_cifar10_dp_small`` pairs with ``seed000_cifar10_small`` and
``seed000_policy_search``. Everything is checked before any compute (:func:`baseline_problems`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from fedpriv.errors import FedprivError

OBJECTIVE = "advantage"
KEY = "baseline.results"


@dataclass
class Baseline:
    """Per-class MA and AA (fractions) of one DP-SGD setting."""

    source: Path
    label: str
    accuracy: dict[str, tuple[float, float]]    # class name -> (MA, AA)
    class_ids: dict[str, str]                   # class index as text -> class name
    rows: list[dict[str, str]]                  # the setting's results rows

    def knows(self, name: str) -> bool:
        return name in self.accuracy or name in self.class_ids


def _rows(path: Path) -> list[dict[str, str]]:
    from fedpriv.record import read_results
    from fedpriv.report.collect import collect

    return collect([path]).rows if path.is_dir() else read_results(path)


def load_baseline(results: str | Path | None) -> Baseline:
    """Read the DP-SGD baseline at ``results``; raise :class:`FedprivError` naming ``baseline.results`` when the
    path is missing, holds no DP-SGD rows, or holds several DP-SGD settings."""
    from fedpriv.report.baseline import dp_settings
    from fedpriv.report.scores import class_means, number

    if results in (None, ""):
        raise FedprivError(f"{KEY}: must be set when objective={OBJECTIVE} (a DP-SGD trial's results.csv or a "
                           f"sweep folder of one DP-SGD setting, e.g. multirun/seed000_cifar10_dp_small-<hash>)")
    path = Path(str(results)).expanduser()
    if not path.exists():
        raise FedprivError(f"{KEY}={results!r} does not exist (run the DP-SGD baseline first, e.g. "
                           f"`python -m fedpriv.sweep -m experiment=seed000_cifar10_dp_small`)")
    try:
        rows = _rows(path)
    except (OSError, UnicodeDecodeError) as err:
        raise FedprivError(f"{KEY}={results!r} cannot be read ({err})") from None
    settings = dp_settings(rows)
    if not settings:
        raise FedprivError(f"{KEY}={results!r} holds no finished DP-SGD trial (rows with defense=dpsgd)")
    if len(settings) > 1:
        labels = ", ".join(f"'{s.label}'" for s in settings)
        raise FedprivError(f"{KEY}={results!r} holds {len(settings)} DP-SGD settings ({labels}); point it at "
                           f"one trial's folder or results.csv")
    setting = settings[0]
    accuracy = {name: values for name, values in class_means(setting.rows).items()
                if all(v is not None for v in values)}
    if not accuracy:
        raise FedprivError(f"{KEY}={results!r}: its DP-SGD rows have no MA and AA values")
    class_ids = {}
    for row in setting.rows:
        class_id = number(row.get("class_id"))
        if class_id is not None and row.get("class") in accuracy:
            class_ids[str(int(class_id))] = row["class"]
    return Baseline(path, setting.label, accuracy, class_ids, setting.rows)


def baseline_problems(values: dict) -> list[str]:
    """Problems of a resolved trial config (a plain dict) with ``objective=advantage``: the baseline must exist,
    hold one DP-SGD setting, and cover every class in ``targets.classes``."""
    if values.get("objective") != OBJECTIVE:
        return []
    try:
        baseline = load_baseline((values.get("baseline") or {}).get("results"))
    except FedprivError as err:
        return [str(err)]
    wanted = [str(c) for c in ((values.get("targets") or {}).get("classes") or [])]
    missing = [c for c in wanted if not baseline.knows(c)]
    if missing:
        return [f"{KEY}={str(baseline.source)!r} has no rows for targets.classes {missing}; it has: "
                f"{', '.join(baseline.accuracy)}"]
    return []


def class_advantage(ma: float, aa: float, ma_dp: float, aa_dp: float) -> float:
    """Seed 000's advantage score in percentage points (MA and AA as fractions)."""
    return 100.0 * (ma - ma_dp) + 100.0 * (aa_dp - aa)


def advantage_scores(rows: list[dict], baseline: Baseline) -> dict[str, float]:
    """Per class of ``rows`` (a trial's results) that the baseline has: the advantage score over it."""
    from fedpriv.report.scores import class_means

    return {name: class_advantage(ma, aa, *baseline.accuracy[name])
            for name, (ma, aa) in class_means(rows).items() if name in baseline.accuracy}


def advantage_objective(rows: list[dict], baseline: Baseline) -> float:
    """The mean advantage over the trial's classes, each weighted equally; NaN when no class is scored."""
    scores = [v for v in advantage_scores(rows, baseline).values() if math.isfinite(v)]
    return sum(scores) / len(scores) if scores else float("nan")
