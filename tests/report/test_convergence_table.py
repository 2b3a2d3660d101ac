"""The convergence table groups results rows by the swept knobs: success rate and median iterations."""

from __future__ import annotations

import pytest

from fedpriv.report.convergence_table import convergence_table, swept_knobs


def _row(trial, width, seed, *, n=2, success=None, converged=None, at=None, loss=None, seconds=1.0):
    cell = lambda v: "" if v is None else str(v)
    return {"trial_id": trial, "overrides": f"model=lenet5 model.conv_width={width} seed={seed}", "n": str(n),
            "success": cell(success), "converged": cell(converged), "converged_iter": cell(at),
            "matching_loss": cell(loss), "attack_seconds": cell(seconds)}


ROWS = [
    # width 64: converges in both seeds (one class of each misses the PSNR bar in seed 1)
    _row("a", 64, 0, success=1.0, converged=1.0, at=30, loss=1e-5),
    _row("a", 64, 0, success=1.0, converged=1.0, at=40, loss=2e-5),
    _row("b", 64, 1, success=0.5, converged=1.0, at=84, loss=3e-5, n=4),
    # width 256: never converges
    _row("c", 256, 0, success=0.0, converged=0.0, loss=69.7),
    _row("d", 256, 1, success=0.0, converged=0.0, loss=80.0),
    # width 16: half the images converge, after 100 iterations
    _row("e", 16, 0, success=0.5, converged=0.5, at=100, loss=2.6),
]


def test_rows_are_grouped_by_the_knob_that_differs_with_seeds_pooled():
    assert swept_knobs(ROWS) == ["model.conv_width"]
    table = convergence_table(ROWS)
    by_width = {row[0]: dict(zip(table.columns, row)) for row in table.rows}
    assert list(by_width) == ["16", "64", "256"]  # numeric order, not text order
    wide, good, narrow = by_width["256"], by_width["64"], by_width["16"]
    assert (good["trials"], good["images"]) == (2, 8)
    # Image-weighted: 2 + 2 images all recovered, 4 images half recovered -> 6 of 8.
    assert good["success %"] == pytest.approx(75.0) and good["converged %"] == pytest.approx(100.0)
    assert good["median iterations to converge"] == 40
    assert wide["success %"] == 0 and wide["median iterations to converge"] is None  # "N/A": never converged
    assert wide["median final matching loss"] == pytest.approx(74.85)
    assert narrow["success %"] == pytest.approx(50.0) and narrow["median iterations to converge"] == 100
    markdown_cell = table.csv().splitlines()[3].split(",")  # the 256 row: the iterations cell is empty
    assert markdown_cell[0] == "256" and markdown_cell[table.columns.index("median iterations to converge")] == ""


def test_no_table_without_convergence_columns():
    assert convergence_table([{"trial_id": "x", "overrides": "defense=prune", "psnr": "20"}]) is None
