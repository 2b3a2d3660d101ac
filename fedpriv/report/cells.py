"""Reading results cells: numbers from CSV text, class order."""

from __future__ import annotations

import math


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
