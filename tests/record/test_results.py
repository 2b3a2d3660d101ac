from __future__ import annotations

import math

from fedpriv.record import COLUMNS, read_results, write_results
from fedpriv.record.loggers import WandbLogger, _without_secrets

CONTRACT = ["dataset", "model", "fl", "defense", "op", "magnitude", "attack", "seed", "class", "n", "ma", "aa",
            "psnr", "ssim", "lpips", "mse", "epsilon", "overrides"]


def test_contract_columns_come_first():
    assert COLUMNS[: len(CONTRACT)] == CONTRACT


def test_rows_round_trip_with_empty_cells_for_missing_values(tmp_path):
    rows = [{"dataset": "digits", "class": "3", "ma": 0.5, "aa": 0.25, "psnr": math.inf, "lpips": None,
             "epsilon": float("nan"), "custom_extra": 7}]
    path = write_results(tmp_path / "results.csv", rows)
    back = read_results(path)
    assert back[0]["ma"] == "0.5" and back[0]["psnr"] == "inf" and back[0]["lpips"] == "" and back[0]["epsilon"] == ""
    assert back[0]["custom_extra"] == "7"
    assert [p.name for p in tmp_path.iterdir()] == ["results.csv"]


def test_secrets_never_reach_the_logged_config():
    config = {"logger": {"api_key": "abc", "project": "p"}, "nested": [{"token": "t", "seed": 1}], "wandb_password": "x"}
    assert _without_secrets(config) == {"logger": {"project": "p"}, "nested": [{"seed": 1}]}


def test_wandb_offline_run_logs_and_finishes(tmp_path, monkeypatch):
    monkeypatch.setenv("WANDB_DIR", str(tmp_path))
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    logger = WandbLogger(project="fedpriv-test", group="sweep-x", tags=["t"], mode="offline")
    logger.start(config={"seed": 0, "defense": {"op": "invert"}}, run_name="trial-a", output_dir=tmp_path)
    run_dir = logger.run.dir
    logger.log_trial(rows=[{"class": "cat", "ma": 0.5}], grid=None, summary={"ma": 0.5})
    logger.finish()
    assert logger.run is None
    offline = list(tmp_path.glob("wandb/offline-run-*"))
    assert len(offline) == 1 and any(offline[0].glob("*.wandb"))
    assert run_dir.startswith(str(offline[0]))
