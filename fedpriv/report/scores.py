"""The numbers of a sweep report, as pure functions on ``results.csv`` rows (dicts of strings).

MA and AA are stored as fractions in [0, 1]; everything returned here that is called ``*_advantage`` or
``advantage`` is in percentage points, everything else stays a fraction. Empty cells mean "not applicable" and
are left out of every mean.
"""

from __future__ import annotations

from collections import defaultdict

from fedpriv.report.cells import class_order, magnitude_of, mean, number  # noqa: F401  (also the report's API)
from fedpriv.report.collect import override_tokens
from fedpriv.report.intervals import Estimate
from fedpriv.report.roles import AUGMENTATION, DP, UNDEFENDED
from fedpriv.report.uncertainty import ImageOutcomes, advantage_estimate, class_mean, class_outcome, class_outcomes

DEFENDED = AUGMENTATION


# ---- accuracies per class ------------------------------------------------------------------------------------

def class_means(rows: list[dict[str, str]]) -> dict[str, tuple[float, float]]:
    """Per class: (mean MA, mean AA) over the given rows (e.g. one DP setting's seeds)."""
    by_class: dict[str, list] = defaultdict(list)
    for row in rows:
        ma, aa = number(row.get("ma")), number(row.get("aa"))
        if ma is not None and aa is not None:
            by_class[row.get("class", "")].append((ma, aa))
    return {c: (mean(v[0] for v in vs), mean(v[1] for v in vs)) for c, vs in by_class.items()}


def _dp_columns(rows: list[dict[str, str]]) -> dict[object, list]:
    columns: dict[object, list] = defaultdict(list)
    for row in rows:
        if row.get("defense") == UNDEFENDED:
            columns["original"].append(row)
        elif row.get("defense") == DP and number(row.get("noise_multiplier")) is not None:
            columns[number(row["noise_multiplier"])].append(row)
    return columns


def dp_accuracy(rows: list[dict[str, str]], images: ImageOutcomes | None = None) -> list[dict]:
    """Seed 000's DP table in long form: per class and per column (``"original"`` for ``defense == none``, else
    a DP-SGD noise multiplier), MA and AA as fractions averaged over every row that shares them, with their
    intervals (``ma_ci``, ``aa_ci``) and the number of images ``n``."""
    out = []
    for column, members in _dp_columns(rows).items():
        for name, outcome in class_outcomes(members, images).items():
            out.append({"class": name, "column": column, "ma": outcome.ma.value, "aa": outcome.aa.value,
                        "ma_ci": outcome.ma, "aa_ci": outcome.aa, "n": outcome.n})
    return out


def dp_averages(rows: list[dict[str, str]], images: ImageOutcomes | None = None) -> dict[object, dict]:
    """Per DP-table column: MA and AA averaged over classes (equally weighted), each an :class:`Estimate`."""
    out = {}
    for column, members in _dp_columns(rows).items():
        outcomes = list(class_outcomes(members, images).values())
        out[column] = {"ma": class_mean(outcomes, "ma"), "aa": class_mean(outcomes, "aa"),
                       "n": sum(o.n for o in outcomes)}
    return out


def candidate_rows(rows: list[dict[str, str]]) -> dict[tuple[str, str, object], list[dict[str, str]]]:
    """Augmentation rows with MA and AA, grouped per (class, op, magnitude) (seeds and repeated trials together)."""
    groups: dict[tuple, list] = defaultdict(list)
    for row in rows:
        if row.get("defense") not in DEFENDED or not row.get("op"):
            continue  # augment_per_class leaves classes outside its policy undefended (empty op)
        ma, aa, magnitude = number(row.get("ma")), number(row.get("aa")), magnitude_of(row.get("magnitude"))
        if ma is None or aa is None or magnitude is None:
            continue
        groups[(row.get("class", ""), row["op"], magnitude)].append(row)
    return dict(groups)


def candidate_means(rows: list[dict[str, str]]) -> dict[tuple[str, str, object], dict]:
    """Augmentation rows per (class, op, magnitude), MA and AA averaged over seeds and repeated trials."""
    return {key: {"ma": mean(number(r["ma"]) for r in members), "aa": mean(number(r["aa"]) for r in members),
                  "n": len(members)} for key, members in candidate_rows(rows).items()}


def mixed_settings(rows: list[dict[str, str]]) -> list[str]:
    """Settings other than op, magnitude and seed that vary among the augmentation rows: their trials get
    averaged together by :func:`candidate_means`, which is only meaningful when this list is empty."""
    values: dict[str, set] = defaultdict(set)
    candidates = [row for row in rows if row.get("defense") in DEFENDED]
    tokens = [dict(override_tokens(row.get("overrides") or "")) for row in candidates]
    keys = {key for found in tokens for key in found}
    for row, found in zip(candidates, tokens):
        for column in ("dataset", "model", "fl", "attack"):
            values[column].add(row.get(column, ""))
        for key in keys:
            values[key].add(repr(found.get(key)))    # absent (None) differs from any value given
    ignored = {"", "seed", "defense", "defense.op", "defense.magnitude"}
    return sorted(key for key, seen in values.items()
                  if len(seen) > 1 and key not in ignored and not key.startswith("defense.policy"))


def advantage(rows: list[dict[str, str]], baseline_rows: list[dict[str, str]], *,
              images: ImageOutcomes | None = None) -> list[dict]:
    """The advantage score of every (class, op, magnitude) over the DP baseline, in percentage points.

    With MA and AA averaged over seeds first (:func:`candidate_means`) and the baseline averaged per class:

        ma_advantage = 100 * (MA_def - MA_dp)        model accuracy kept beyond DP's
        aa_advantage = 100 * (AA_dp - AA_def)        attack accuracy removed beyond DP's
        advantage    = ma_advantage + aa_advantage   higher = better than DP

    Each score also carries its 95% interval (``advantage_ci``, see :mod:`fedpriv.report.uncertainty`), the
    intervals of its four accuracies (``ma_ci``, ``aa_ci``, ``ma_dp_ci``, ``aa_dp_ci``), ``n`` (trials) and
    ``images``. Classes the baseline has no rows for get no score.
    """
    dp = class_outcomes(baseline_rows, images)
    out = []
    for (name, op, magnitude), members in candidate_rows(rows).items():
        if name not in dp:
            continue
        mine, base = class_outcome(members, images), dp[name]
        ma_adv = 100.0 * (mine.ma.value - base.ma.value)
        aa_adv = 100.0 * (base.aa.value - mine.aa.value)
        out.append({"class": name, "op": op, "magnitude": magnitude, "ma": mine.ma.value, "aa": mine.aa.value,
                    "ma_dp": base.ma.value, "aa_dp": base.aa.value, "ma_advantage": ma_adv, "aa_advantage": aa_adv,
                    "advantage": ma_adv + aa_adv, "n": len(members), "images": mine.n,
                    "ma_ci": mine.ma, "aa_ci": mine.aa, "ma_dp_ci": base.ma, "aa_dp_ci": base.aa,
                    "advantage_ci": advantage_estimate(mine, base)})
    order = {name: i for i, name in enumerate(class_order(rows))}
    return sorted(out, key=lambda r: (order.get(r["class"], len(order)), r["op"], r["magnitude"]))


def rank_key(score: dict) -> tuple:
    """Higher advantage first; equal scores go to the lower AA (less leaked), then the higher MA, and only then
    to the op name and the lower magnitude, so reruns give the same order."""
    return (-score["advantage"], score["aa"], -score["ma"], score["op"], score["magnitude"])


def _overlap(a: dict, b: dict) -> bool:
    ci_a, ci_b = a.get("advantage_ci"), b.get("advantage_ci")
    if isinstance(ci_a, Estimate) and isinstance(ci_b, Estimate):
        return ci_a.overlaps(ci_b)
    return a["advantage"] == b["advantage"]


def best_per_class(scores: list[dict], *, k: int = 3) -> dict[str, list[dict]]:
    """The ``k`` highest-scoring (op, magnitude) per class, best first (order: :func:`rank_key`).

    Each returned score is a copy with ``tie``: its interval overlaps that of the policy ranked just above or
    just below it (among all the class's policies, so the ``k``-th can tie with one not shown), i.e. the data do
    not separate them; and ``rivals``: how many other policies' intervals overlap its own."""
    by_class: dict[str, list] = defaultdict(list)
    for score in scores:
        by_class[score["class"]].append(score)
    best = {}
    for name, group in by_class.items():
        ranked = sorted(group, key=rank_key)
        picked = []
        for i, score in enumerate(ranked[:k]):
            neighbours = ranked[max(i - 1, 0):i] + ranked[i + 1:i + 2]
            picked.append({**score, "tie": any(_overlap(score, other) for other in neighbours),
                           "rivals": sum(_overlap(score, other) for other in ranked if other is not score)})
        best[name] = picked
    return best


def accuracy_by_magnitude(rows: list[dict[str, str]]) -> dict[str, list[tuple[object, float, float]]]:
    """Per op: (magnitude, MA, AA) sorted by magnitude, each the mean over classes of the per-class means."""
    cells: dict[tuple[str, object], list] = defaultdict(list)
    for (name, op, magnitude), values in candidate_means(rows).items():
        cells[(op, magnitude)].append((values["ma"], values["aa"]))
    curves: dict[str, list] = defaultdict(list)
    for (op, magnitude), values in sorted(cells.items(), key=lambda kv: (kv[0][0], kv[0][1])):
        curves[op].append((magnitude, mean(v[0] for v in values), mean(v[1] for v in values)))
    return dict(curves)
