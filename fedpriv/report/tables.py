"""The report's tables: shaped for reading (percentages, one row per class), written as CSV and Markdown.

CSV cells keep more digits than the Markdown so that they can be re-analysed; both show MA and AA in percent
and advantages in percentage points. Empty cells mean "not applicable". A number with an interval
(:class:`~fedpriv.report.intervals.Estimate`) reads ``60.00 [23.07, 88.24]`` in Markdown and fills three CSV
columns: ``<name>``, ``<name> low``, ``<name> high`` (the 95% interval).
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

from fedpriv.report.intervals import Estimate
from fedpriv.report.scores import mean


@dataclass
class Table:
    name: str                   # file stem: <name>.csv and <name>.md
    title: str
    columns: list[str]
    rows: list[list[object]] = field(default_factory=list)
    note: str = ""              # one sentence under the Markdown title: how to read the table

    def csv(self, *, digits: int = 4) -> str:
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        ranged = [any(isinstance(row[i], Estimate) for row in self.rows) for i in range(len(self.columns))]
        header = []
        for name, has_interval in zip(self.columns, ranged):
            header += [name, f"{name} low", f"{name} high"] if has_interval else [name]
        writer.writerow(header)
        for row in self.rows:
            cells = []
            for value, has_interval in zip(row, ranged):
                if not has_interval:
                    cells.append(cell_text(value, digits))
                elif isinstance(value, Estimate):
                    cells += [cell_text(v, digits) for v in (value.value, value.low, value.high)]
                else:
                    cells += [cell_text(value, digits), "", ""]
            writer.writerow(cells)
        return out.getvalue()


def cell_text(value: object, digits: int = 2) -> str:
    if value is None:
        return ""
    if isinstance(value, Estimate):
        return f"{value.value:.{digits}f} [{value.low:.{digits}f}, {value.high:.{digits}f}]"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def policy(op: str, magnitude: object) -> str:
    """Seed 000 names a policy as ``Op (Mm)``."""
    return f"{op} (M{magnitude})"


def _percent(value: float | Estimate | None) -> float | Estimate | None:
    if isinstance(value, Estimate):
        return value.scaled(100.0)
    return None if value is None else 100.0 * value


def dp_table(accuracy: list[dict], classes: list[str], averages: dict[object, dict] | None = None) -> Table:
    """Seed 000 Table 1: a row per class and an average row; for the undefended model ("original") and for each
    DP-SGD noise multiplier, MA and AA in percent with their 95% intervals and the number of images ``n``.
    ``averages`` (:func:`scores.dp_averages`) gives the average row its intervals; without it the average row
    holds the plain means."""
    keys = sorted({a["column"] for a in accuracy}, key=lambda c: (c != "original", c if c != "original" else 0))
    cells = {(a["class"], a["column"]): a for a in accuracy}
    columns = ["class"]
    for key in keys:
        label = "original" if key == "original" else f"sigma={key:g}"
        columns += [f"{label} MA", f"{label} AA", f"{label} n"]
    table = Table("dp_table", "Model and attack accuracy under DP-SGD (%)", columns,
                  note="MA: the defended classifier on the shared inputs; AA: the evaluator on the reconstructions; "
                       "sigma is the DP-SGD noise multiplier; [low, high] is the 95% interval; n counts the images; "
                       "the average weighs classes equally.")
    present = [c for c in classes if any((c, k) in cells for k in keys)]
    for name in present:
        row: list[object] = [name]
        for key in keys:
            cell = cells.get((name, key))
            row += [_percent(cell.get("ma_ci", cell["ma"])), _percent(cell.get("aa_ci", cell["aa"])),
                    cell.get("n")] if cell else [None, None, None]
        table.rows.append(row)
    if present:
        average: list[object] = ["average"]
        for j, key in enumerate(keys):
            known = (averages or {}).get(key)
            if known:
                average += [_percent(known["ma"]), _percent(known["aa"]), known["n"]]
            else:
                plain = [row[1 + 3 * j: 4 + 3 * j] for row in table.rows]
                average += [mean(_value(r[0]) for r in plain), mean(_value(r[1]) for r in plain),
                            sum(r[2] or 0 for r in plain)]
        table.rows.append(average)
    return table


def _value(cell: object) -> float | None:
    return cell.value if isinstance(cell, Estimate) else cell


def advantage_table(scores: list[dict], baseline_label: str, *, unfair: bool = False) -> Table:
    """Every scored (class, op, magnitude) with its parts, in the order of :func:`scores.advantage`; ``unfair``
    marks every score as measured against a DP baseline that defended nothing (see :mod:`..fairness`)."""
    warning = "UNFAIR BASELINE: " if unfair else ""
    table = Table("advantage", f"{warning}Advantage score over DP-SGD ({baseline_label})",
                  ["class", "op", "magnitude", "MA", "AA", "MA DP", "AA DP", "MA advantage", "AA advantage",
                   "advantage", "interval", "zero inside", "trials", "images", "baseline fair"],
                  note="advantage = (MA - MA DP) + (AA DP - AA) in percentage points; higher is better than DP; "
                       "[low, high] is its 95% interval (\"interval\" says how it was made); \"zero inside\": the "
                       "data do not tell the policy from DP." + (" The DP baseline defended nothing: see the "
                                                                "notes of report.md." if unfair else ""))
    for s in scores:
        ci = s.get("advantage_ci")
        table.rows.append([s["class"], s["op"], s["magnitude"], _percent(s.get("ma_ci", s["ma"])),
                           _percent(s.get("aa_ci", s["aa"])), _percent(s.get("ma_dp_ci", s["ma_dp"])),
                           _percent(s.get("aa_dp_ci", s["aa_dp"])), s["ma_advantage"], s["aa_advantage"],
                           ci if ci is not None else s["advantage"], ci.method if ci else None,
                           ("yes" if ci.contains(0.0) else "no") if ci else None, s["n"], s.get("images"),
                           "no" if unfair else "yes"])
    return table


def best_table(best: dict[str, list[dict]], classes: list[str], *, k: int = 3, unfair: bool = False) -> Table:
    """Seed 000 Tables 3 and 5 in one: per class the ``k`` best policies, each with its advantage score and 95%
    interval; a policy whose interval overlaps a neighbour's in the ranking is marked ``≈`` (a tie the data do not
    break), and "rivals" counts the policies whose intervals overlap the best one's."""
    ordinals = ["1st", "2nd", "3rd"] + [f"{i}th" for i in range(4, k + 1)]
    columns = ["class"]
    for ordinal in ordinals[:k]:
        columns += [ordinal, f"{ordinal} advantage"]
    columns += ["1st MA advantage", "1st AA advantage", "rivals of 1st"]
    warning = "UNFAIR BASELINE: " if unfair else ""
    table = Table("best_per_class", f"{warning}Best {k} augmentations per class by advantage score", columns,
                  note="Policies as op (M magnitude); scores in percentage points over the DP baseline with their "
                       "95% intervals; equal scores are ordered by lower AA, then higher MA; ≈ marks a policy whose "
                       "interval overlaps its neighbour's in the ranking (not resolved by the data); \"rivals of 1st\" "
                       "counts the other policies whose intervals overlap the best one's; the MA/AA columns split the "
                       "best score into its model-accuracy and attack-accuracy parts.")
    for name in classes:
        ranked = best.get(name)
        if not ranked:
            continue
        row: list[object] = [name]
        for i in range(k):
            if i < len(ranked):
                mark = " ≈" if ranked[i].get("tie") else ""
                row += [policy(ranked[i]["op"], ranked[i]["magnitude"]) + mark,
                        ranked[i].get("advantage_ci", ranked[i]["advantage"])]
            else:
                row += [None, None]
        row += [ranked[0]["ma_advantage"], ranked[0]["aa_advantage"], ranked[0].get("rivals")]
        table.rows.append(row)
    return table
