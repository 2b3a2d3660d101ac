"""The numbers of a sweep report, as pure functions on ``results.csv`` rows (dicts of strings).

MA and AA are stored as fractions in [0, 1]; everything returned here that is called ``*_advantage`` or
``advantage`` is in percentage points, everything else stays a fraction. Empty cells mean "not applicable" and
are left out of every mean.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass

from fedpriv.report.collect import ReportError, override_tokens
from fedpriv.report.intervals import Estimate
from fedpriv.report.uncertainty import ImageOutcomes, advantage_estimate, class_mean, class_outcome, class_outcomes

DEFENDED = ("augment", "augment_per_class")
# A seed does not change what is measured, only the draw; rows differing only in seed are one setting.
_NOT_SETTING = ("seed",)


def number(cell: str | None) -> float | None:
    """A CSV cell as a float; None for empty or unparsable cells and NaN."""
    if cell is None or str(cell).strip() == "":
        return None
    try:
        value = float(cell)
    except ValueError:
        return None
    return None if math.isnan(value) else value


def magnitude_of(cell: str | None) -> int | float | None:
    value = number(cell)
    if value is None:
        return None
    return int(value) if value.is_integer() else value


def mean(values) -> float | None:
    values = [v for v in values if v is not None]
    return sum(values) / len(values) if values else None


def class_order(rows: list[dict[str, str]]) -> list[str]:
    """Class names in label order (``class_id``), names without an id after them in order of appearance."""
    first: dict[str, float] = {}
    for row in rows:
        name = row.get("class", "")
        class_id = number(row.get("class_id"))
        key = class_id if class_id is not None else math.inf
        if name not in first or key < first[name]:
            first[name] = key
    appearance = {name: i for i, name in enumerate(dict.fromkeys(r.get("class", "") for r in rows))}
    return sorted(first, key=lambda name: (first[name], appearance[name]))


# ---- DP-SGD settings and the baseline ----------------------------------------------------------------------

@dataclass
class DpSetting:
    """The DP-SGD trials sharing one override set (seeds aside)."""

    tokens: tuple[tuple[str, object], ...]
    overrides: str
    rows: list[dict[str, str]]
    label: str = ""

    @property
    def trials(self) -> int:
        return len({row.get("trial_id") for row in self.rows})

    @property
    def noise_multiplier(self) -> float | None:
        return mean(number(row.get("noise_multiplier")) for row in self.rows)


def _setting_tokens(row: dict[str, str]) -> list[tuple[tuple[str, object], str]]:
    """(normalised token, token as typed) for each override that defines the setting."""
    raw = (row.get("overrides") or "").split()
    return [(norm, text) for norm, text in zip(override_tokens(" ".join(raw)), raw) if norm[0] not in _NOT_SETTING]


def dp_settings(rows: list[dict[str, str]]) -> list[DpSetting]:
    """Group the ``defense == dpsgd`` rows by override set; each gets the shortest label that tells it apart."""
    groups: dict[tuple, DpSetting] = {}
    typed: dict[tuple, list[tuple[tuple[str, object], str]]] = {}
    for row in rows:
        if row.get("defense") != "dpsgd":
            continue
        tokens = _setting_tokens(row)
        key = tuple(sorted((norm for norm, _ in tokens), key=repr))
        if key not in groups:
            groups[key] = DpSetting(key, " ".join(text for _, text in tokens), [])
            typed[key] = tokens
        groups[key].rows.append(row)
    shared = set.intersection(*(set(key) for key in groups)) if groups else set()
    for key, setting in groups.items():
        own = [text for norm, text in typed[key] if norm not in shared]
        setting.label = " ".join(own) or setting.overrides or "defense=dpsgd"
    return sorted(groups.values(), key=lambda s: (s.noise_multiplier or 0.0, s.overrides))


def _describe(setting: DpSetting) -> str:
    sigma = setting.noise_multiplier
    trials = f"{setting.trials} trial{'s' * (setting.trials != 1)}"
    return trials if sigma is None else f"noise_multiplier {sigma:g}, {trials}"


def _token_matches(row: dict[str, str], key: str, value: object, present: dict[str, object]) -> bool:
    if key in present:
        return present[key] == value
    # The default of a key is not in the override string; its results column (last part of the key) still is.
    column = key.rsplit(".", 1)[-1]
    cell = row.get(column)
    return cell is not None and cell != "" and override_tokens(f"{column}={cell}")[0][1] == value


def select_baseline(rows: list[dict[str, str]], baseline: str | None) -> DpSetting | None:
    """The DP-SGD setting to compare against.

    ``baseline`` is a string of ``key=value`` tokens; a DP row is selected when its ``overrides`` cell holds
    every token (values compared as numbers when both parse as numbers; a key missing from the overrides is
    compared with the results column of the same name, so a default such as ``noise_multiplier`` still
    matches). Without ``baseline``, the only DP setting there is. Returns None when there is no DP setting and
    none was asked for; raises :class:`ReportError` otherwise when the choice is missing or ambiguous.
    """
    settings = dp_settings(rows)
    listing = "\n".join(f"  --baseline \"{s.label}\"  ({_describe(s)})" for s in settings)
    if baseline is None:
        if len(settings) <= 1:
            return settings[0] if settings else None
        raise ReportError(f"--baseline is needed: the results hold {len(settings)} DP-SGD settings:\n{listing}")
    wanted = override_tokens(baseline)
    bad = [value for key, value in wanted if not key]
    if bad or not wanted:
        raise ReportError(f"--baseline \"{baseline}\" must be key=value tokens separated by spaces, "
                          f"e.g. \"defense.noise_multiplier=0.5\"")
    if not settings:
        raise ReportError(f"--baseline \"{baseline}\": the results hold no DP-SGD trials (defense=dpsgd)")
    chosen = []
    for setting in settings:
        picked = []
        for row in setting.rows:
            present = dict(override_tokens(row.get("overrides") or ""))
            if all(_token_matches(row, key, value, present) for key, value in wanted):
                picked.append(row)
        if picked:
            chosen.append(DpSetting(setting.tokens, setting.overrides, picked, setting.label))
    if not chosen:
        raise ReportError(f"--baseline \"{baseline}\" matches no DP-SGD trial; available settings:\n{listing}")
    if len(chosen) > 1:
        names = ", ".join(f"\"{s.label}\"" for s in chosen)
        raise ReportError(f"--baseline \"{baseline}\" matches {len(chosen)} DP-SGD settings ({names}); "
                          f"add a token to pick one:\n{listing}")
    return chosen[0]


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
        if row.get("defense") == "none":
            columns["original"].append(row)
        elif row.get("defense") == "dpsgd" and number(row.get("noise_multiplier")) is not None:
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
