"""The per-knob leakage table: split-learning rows grouped by the swept knobs, image-weighted, on seed 004's scale."""

from __future__ import annotations

import pytest

from fedpriv.report.knob_table import knob_leakage_table


def _row(trial, cut, arm, *, n, psnr, mse, fl="split"):
    return {"trial_id": trial, "overrides": f"fl.cut={cut} +seed004_split_arm={arm}", "n": str(n), "fl": fl,
            "attack": "decoder", "psnr": str(psnr), "mse255": str(mse), "ssim": "0.5", "psnr_init": "10"}


def test_split_rows_are_grouped_by_cut_and_arm_and_weighted_by_images():
    rows = [_row("a", "pool1", "base", n=1, psnr=20, mse=600), _row("a", "pool1", "base", n=3, psnr=24, mse=200),
            _row("b", "pool2", "base", n=2, psnr=15, mse=2000), _row("c", "pool2", "tanh", n=2, psnr=14, mse=2500),
            _row("d", "pool1", "base", n=5, psnr=99, mse=0, fl="fedsgd")]  # no knob sweep of seed 004: left out
    table = knob_leakage_table(rows)
    assert table.columns[:2] == ["fl.cut", "seed004_split_arm"]
    cells = {tuple(r[:2]): dict(zip(table.columns, r)) for r in table.rows}
    assert list(cells) == [("pool1", "base"), ("pool2", "base"), ("pool2", "tanh")]
    assert cells[("pool1", "base")]["images"] == 4
    assert cells[("pool1", "base")]["PSNR"] == pytest.approx(23.0)  # (20 + 3 x 24) / 4
    assert cells[("pool1", "base")]["MSE (0-255)"] == pytest.approx(300.0)
    assert cells[("pool2", "tanh")]["floor PSNR"] == 10
