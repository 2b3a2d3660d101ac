"""The report's tables: shaped for reading (percentages, one row per class), written as CSV and Markdown.

CSV cells keep more digits than the Markdown so that they can be re-analysed; both show MA and AA in percent
and advantages in percentage points. Empty cells mean "not applicable".
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass, field

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
        writer.writerow(self.columns)
        for row in self.rows:
            writer.writerow([cell_text(v, digits) for v in row])
        return out.getvalue()


def cell_text(value: object, digits: int = 2) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def policy(op: str, magnitude: object) -> str:
    """Seed 000 names a policy as ``Op (Mm)``."""
    return f"{op} (M{magnitude})"


def _percent(value: float | None) -> float | None:
    return None if value is None else 100.0 * value


def dp_table(accuracy: list[dict], classes: list[str]) -> Table:
    """Seed 000 Table 1: a row per class and an average row; an MA/AA column pair for the undefended model
    ("original") and for each DP-SGD noise multiplier, in percent."""
    keys = sorted({a["column"] for a in accuracy}, key=lambda c: (c != "original", c if c != "original" else 0))
    cells = {(a["class"], a["column"]): a for a in accuracy}
    columns = ["class"]
    for key in keys:
        label = "original" if key == "original" else f"sigma={key:g}"
        columns += [f"{label} MA", f"{label} AA"]
    table = Table("dp_table", "Model and attack accuracy under DP-SGD (%)", columns,
                  note="MA: the defended classifier on the shared inputs; AA: the evaluator on the reconstructions; "
                       "sigma is the DP-SGD noise multiplier; the average weighs classes equally.")
    present = [c for c in classes if any((c, k) in cells for k in keys)]
    for name in present:
        row: list[object] = [name]
        for key in keys:
            cell = cells.get((name, key))
            row += [_percent(cell["ma"]), _percent(cell["aa"])] if cell else [None, None]
        table.rows.append(row)
    if present:
        average: list[object] = ["average"]
        for i in range(1, len(columns)):
            average.append(mean(row[i] for row in table.rows))
        table.rows.append(average)
    return table


def advantage_table(scores: list[dict], baseline_label: str) -> Table:
    """Every scored (class, op, magnitude) with its parts, in the order of :func:`scores.advantage`."""
    table = Table("advantage", f"Advantage score over DP-SGD ({baseline_label})",
                  ["class", "op", "magnitude", "MA", "AA", "MA DP", "AA DP", "MA advantage", "AA advantage",
                   "advantage", "trials"],
                  note="advantage = (MA - MA DP) + (AA DP - AA) in percentage points; higher is better than DP.")
    for s in scores:
        table.rows.append([s["class"], s["op"], s["magnitude"], _percent(s["ma"]), _percent(s["aa"]),
                           _percent(s["ma_dp"]), _percent(s["aa_dp"]), s["ma_advantage"], s["aa_advantage"],
                           s["advantage"], s["n"]])
    return table


def best_table(best: dict[str, list[dict]], classes: list[str], *, k: int = 3) -> Table:
    """Seed 000 Tables 3 and 5 in one: per class the ``k`` best policies, each with its advantage score."""
    ordinals = ["1st", "2nd", "3rd"] + [f"{i}th" for i in range(4, k + 1)]
    columns = ["class"]
    for ordinal in ordinals[:k]:
        columns += [ordinal, f"{ordinal} advantage"]
    columns += ["1st MA advantage", "1st AA advantage"]
    table = Table("best_per_class", f"Best {k} augmentations per class by advantage score", columns,
                  note="Policies as op (M magnitude); scores in percentage points over the DP baseline; the last "
                       "two columns split the best score into its model-accuracy and attack-accuracy parts.")
    for name in classes:
        ranked = best.get(name)
        if not ranked:
            continue
        row: list[object] = [name]
        for i in range(k):
            row += [policy(ranked[i]["op"], ranked[i]["magnitude"]), ranked[i]["advantage"]] if i < len(ranked) \
                else [None, None]
        row += [ranked[0]["ma_advantage"], ranked[0]["aa_advantage"]]
        table.rows.append(row)
    return table
