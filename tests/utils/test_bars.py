"""Progress bars name what they count, redraw a few times a second at most, and only on a terminal."""

from __future__ import annotations

import logging
import time

from fedpriv.utils.bars import Meter, attack_description, format_seconds, training_description


def test_descriptions_name_the_count_and_its_total():
    assert training_description("classifier", 1, 20) == "classifier epoch 1/20"
    assert training_description("evaluator", 5, 5) == "evaluator epoch 5/5"
    assert attack_description([4], 10, 120, 300) == "update 4/10, iteration 120/300"
    assert attack_description([0, 1, 2, 7], 10, 1, 300) == "updates 0-7/10, iteration 1/300"
    assert attack_description([4, 4], 10, 7, 50, restarts=[1, 2], total_restarts=2) == \
        "update 4/10 restarts 1-2/2, iteration 7/50"


def test_durations_read_in_sensible_units():
    assert format_seconds(2.5) == "2.5 s" and format_seconds(0.0351) == "0.035 s"
    assert format_seconds(40) == "40 s"
    assert format_seconds(600) == "10.0 min"
    assert format_seconds(10 * 3600) == "10.0 h"


def test_terminal_bar_redraws_rarely_and_shows_total_and_time_left(capsys):
    start = time.monotonic()
    meter = Meter(2000, enabled=True, terminal=True)
    for i in range(2000):
        meter.update(1, training_description("classifier", 1 + i // 200, 10))
        if i % 10 == 0:
            time.sleep(0.01)
    meter.close()
    elapsed = time.monotonic() - start
    err = capsys.readouterr().err
    # 2,000 updates in about 2 s: at most two redraws a second (plus the first and the clearing ones), not 2,000.
    assert 3 <= err.count("\r") <= 2 * elapsed + 4
    assert "/2000" in err and "classifier epoch" in err and "<00:0" in err  # the total and the time left


def test_off_a_terminal_a_short_task_writes_nothing(capsys, caplog):
    caplog.set_level(logging.INFO)
    meter = Meter(1000, enabled=True, terminal=False)
    for _ in range(1000):
        meter.update(1, "update 1/1, iteration 1/1000")
    meter.close()
    captured = capsys.readouterr()
    assert captured.err == "" and captured.out == "" and not caplog.records


def test_off_a_terminal_a_long_task_logs_its_progress(caplog, monkeypatch):
    caplog.set_level(logging.INFO)
    clock = [0.0]
    monkeypatch.setattr("fedpriv.utils.bars.time.monotonic", lambda: clock[0])
    meter = Meter(100, enabled=True, terminal=False)
    for step in range(100):
        clock[0] += 60.0  # a minute per step: 100 minutes in all
        meter.update(1, f"classifier epoch {step // 10 + 1}/10")
    lines = [r.getMessage() for r in caplog.records]
    assert 5 <= len(lines) <= 40
    assert lines[0] == "classifier epoch 1/10: 5% done, 1.6 h left"  # five minutes in, a line however slow


def test_progress_false_reports_nothing(capsys, caplog, monkeypatch):
    caplog.set_level(logging.INFO)
    clock = [0.0]
    monkeypatch.setattr("fedpriv.utils.bars.time.monotonic", lambda: clock[0])
    meter = Meter(10, enabled=False, terminal=True)
    for _ in range(10):
        clock[0] += 600
        meter.update(1, "x")
    meter.close()
    assert capsys.readouterr().err == "" and not caplog.records
