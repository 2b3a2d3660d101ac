"""Whether a DP-SGD baseline is a fair yardstick for advantage scores.

An advantage score compares a defense with DP-SGD on the same attack. When the DP run's victim was untrained
(``victim_trained`` false) and its shared update was not noised (``noisy_update`` false), the attacker inverted the
clean gradient of a network DP-SGD never touched: DP changed MA only, its AA is that of no defense, and every
score's AA part measures the augmentation against an undefended attack. The same holds when the arms attack
different victims or models. The report marks such scores loudly rather than print them as a ranking.
"""

from __future__ import annotations


def flag(cell: object) -> bool | None:
    """A results cell as a boolean; None when empty or unreadable (older results without the column)."""
    text = str(cell).strip().lower() if cell is not None else ""
    if text in ("true", "1", "1.0", "yes"):
        return True
    if text in ("false", "0", "0.0", "no"):
        return False
    return None


def _values(rows: list[dict[str, str]], column: str) -> set:
    return {row.get(column, "") for row in rows}


def baseline_problems(baseline_rows: list[dict[str, str]], candidate_rows: list[dict[str, str]]) -> list[str]:
    """Why the DP baseline is not a fair comparison for the candidate (augmentation) rows; empty when it is."""
    problems = []
    trained = {flag(row.get("victim_trained")) for row in baseline_rows}
    noised = {flag(row.get("noisy_update")) for row in baseline_rows}
    if True not in trained and True not in noised:
        unknown = " (its results predate the noisy_update column; the seed presets then left it false)" \
            if None in noised else ""
        problems.append("the DP-SGD baseline neither trained the attacked victim with DP (victim_trained is false) "
                        f"nor noised the shared update{unknown}: the attacker inverted a clean gradient of an "
                        "untrained network, so DP-SGD changed MA only and its AA is that of no defense")
    if candidate_rows:
        for column, what in (("victim_trained", "victims (victim_trained)"), ("model", "models"),
                             ("dataset", "datasets"), ("attack", "attacks")):
            base, cand = _values(baseline_rows, column), _values(candidate_rows, column)
            if base != cand and base != {""} and cand != {""}:
                problems.append(f"the DP-SGD baseline and the augmentation trials attack different {what}: "
                                f"{', '.join(sorted(map(str, base)))} vs {', '.join(sorted(map(str, cand)))}")
    return problems
