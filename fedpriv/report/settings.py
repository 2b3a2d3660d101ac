"""Defense settings among the results: which columns describe each defense, and the rows of each setting.

The report knows no defense by name. Each defense describes itself in the rows (``Defense.describe``: ``op`` and
``magnitude`` of an augmentation, ``p`` of pruning, ``scale`` of noise, a stack's members' columns together), and
trials name those columns in the ``defense_columns`` cell of every row. Results written before that cell existed
are read by inference: a column describes a defense when some row of that defense fills it and it is none of the
standard results columns (setup, identity, measurements). A column that keeps one value over the whole sweep
still counts, so a sweep of a single setting shows that setting.

A setting is one defense with one value for each of its columns; seeds and repeated trials of it are pooled.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass

from fedpriv.record import COLUMNS
from fedpriv.report.cells import number
from fedpriv.report.collect import override_tokens

EXPLICIT = "defense_columns"
# Standard results columns that described the defenses of results written before rows named their columns.
LEGACY_DESCRIBING = ("op", "magnitude", "noise_multiplier", "max_grad_norm", "noisy_update")
# Every other standard column is the setup, the trial's identity or a measurement, never a defense's setting;
# ``source`` is added by the merged table.
NOT_DESCRIBING = (frozenset(COLUMNS) - set(LEGACY_DESCRIBING)) | {"source", EXPLICIT}


def _filled(cell: object) -> bool:
    return cell is not None and str(cell).strip() != ""


def _canonical(cell: object) -> object:
    """A cell as a grouping key: ``1`` and ``1.0`` are one value, ``True`` and ``true`` another."""
    value = number(cell)
    if value is not None:
        return value
    text = str(cell or "").strip()
    return text.lower() if text.lower() in ("true", "false") else text


def describing_columns(rows: list[dict[str, str]]) -> dict[str, tuple[str, ...]]:
    """Per defense name (in order of appearance): the columns describing it that some of its rows fill.

    Rows carrying ``defense_columns`` (space-separated names) are taken at their word; for rows without it the
    columns are inferred (see the module's docstring)."""
    named: dict[str, dict[str, None]] = defaultdict(dict)     # insertion-ordered sets
    for row in rows:
        defense = row.get("defense") or ""
        found = named[defense]
        if _filled(row.get(EXPLICIT)):
            candidates = row[EXPLICIT].split()
        else:
            candidates = [c for c in row if isinstance(c, str) and c not in NOT_DESCRIBING]
        for column in candidates:
            if _filled(row.get(column)):
                found.setdefault(column)
    return {defense: tuple(columns) for defense, columns in named.items()}


def short_label(column: str, value: str) -> str:
    # Seed 000 names an augmentation policy "Op (Mm)"; its columns read that way here too.
    if column == "op":
        return value
    if column == "magnitude":
        return f"M{value}"
    return f"{column}={value}"


@dataclass
class DefenseSetting:
    """The rows of one defense at one value of each of its describing columns."""

    defense: str
    values: dict[str, str]          # describing column -> value as written; columns the setting leaves empty omitted
    rows: list[dict[str, str]]

    @property
    def label(self) -> str:
        """``prune p=0.7``, ``augment solarize M9``, ``none``."""
        return " ".join([self.defense, *(short_label(c, v) for c, v in self.values.items())])

    @property
    def trials(self) -> int:
        return len({row.get("trial_id") for row in self.rows})


def _sort_key(setting: DefenseSetting, columns: tuple[str, ...]) -> tuple:
    # Numbers compare as numbers (p=0.7 before p=0.99 before p=10), then text.
    parts = []
    for column in columns:
        value = _canonical(setting.values.get(column, ""))
        parts.append((0, value, "") if isinstance(value, float) else (1, 0.0, str(value)))
    return tuple(parts)


def defense_settings(rows: list[dict[str, str]]) -> list[DefenseSetting]:
    """The settings of every defense in the rows, defenses in order of appearance, settings in value order.

    Grouping is per row, not per trial: a per-class policy gives each class the setting it applied to it."""
    columns = describing_columns(rows)
    groups: dict[tuple, DefenseSetting] = {}
    for row in rows:
        defense = row.get("defense") or ""
        mine = columns[defense]
        key = (defense, tuple(_canonical(row.get(c)) for c in mine))
        if key not in groups:
            values = {c: str(row[c]).strip() for c in mine if _filled(row.get(c))}
            groups[key] = DefenseSetting(defense, values, [])
        groups[key].rows.append(row)
    order = {defense: i for i, defense in enumerate(columns)}
    return sorted(groups.values(), key=lambda s: (order[s.defense], _sort_key(s, columns[s.defense])))


def other_differences(settings: list[DefenseSetting]) -> list[str]:
    """Override keys other than the seed and a setting's own columns whose value differs among the trials of
    one setting: the setting's numbers then average over them. A defense key ending in one of the setting's
    columns is its own (``defense.policy.cat.op`` sets a per-class policy's ``op``)."""
    columns = describing_columns([row for s in settings for row in s.rows])
    found: set[str] = set()
    for setting in settings:
        mine = set(columns[setting.defense])

        def own(key: str) -> bool:
            return key in ("", "seed", "defense") or (key.startswith("defense.") and key.rsplit(".", 1)[-1] in mine)

        seen: dict[str, set] = defaultdict(set)
        trials = {row.get("trial_id"): row.get("overrides") or "" for row in setting.rows}
        tokens = [dict(override_tokens(text)) for text in trials.values()]
        keys = {key for found_here in tokens for key in found_here}
        for here in tokens:
            for key in keys:
                seen[key].add(repr(here.get(key)))      # absent (None) differs from any value given
        found |= {key for key, values in seen.items() if len(values) > 1 and not own(key)}
    return sorted(found)
