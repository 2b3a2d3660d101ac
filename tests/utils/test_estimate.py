"""Before a trial trains or attacks, it says what it will run and roughly how long; its output stays small
off a terminal, and library chatter stays out unless ``verbose=true``."""

from __future__ import annotations

import logging
import os
import re
import subprocess
import sys

import pytest

from fedpriv.trial import run_trial
from fedpriv.utils.runtime import set_verbose
from tests.conftest import compose_config

TINY = ["training.epochs=1", "evaluator.training.epochs=1", "evaluator.model.width=4", "attack.iterations=5",
        "record.grid=false", "estimate=true"]
SECONDS = {"s": 1, "min": 60, "h": 3600}


@pytest.fixture(autouse=True)
def quiet_afterwards():
    yield
    set_verbose(False)  # logging levels are process-wide: leave them as the other tests expect


def _seconds(message: str) -> float:
    value, unit = re.search(r"≈ ([0-9.]+) (s|min|h)\b", message).groups()
    return float(value) * SECONDS[unit]


def test_digits_trial_off_a_terminal_says_its_cost_first_and_draws_no_bars(tmp_path, capfd, caplog):
    caplog.set_level(logging.INFO)
    cfg = compose_config(*TINY, "progress=true", cache_dir=tmp_path / "cache")
    run_trial(cfg, output_dir=tmp_path / "run")
    out, err = capfd.readouterr()
    # Before: Lightning's bar wrote about 650 KB of redraws for this trial (to stdout); now nothing but lines.
    assert len(out) + len(err) < 20_000
    assert "\r" not in out and "\r" not in err

    messages = [(r.name, r.getMessage()) for r in caplog.records]
    order = [m for _, m in messages]
    classifier = next(m for m in order if m.startswith("training classifier:"))
    assert classifier.startswith("training classifier: lenet on 1,347 images x 1 epoch ≈ ")
    evaluator = next(m for m in order if m.startswith("training evaluator:"))
    assert evaluator.startswith("training evaluator: convnet on 1,347 images x 1 epoch ≈ ")
    attack = next(m for name, m in messages if name == "fedpriv.estimate" and m.startswith("attacking"))
    assert attack.startswith("attacking 10 images in 10 shared updates x 5 iterations (1 restart) ≈ ")
    total = next(m for m in order if m.startswith("trial ≈"))
    for line in (classifier, evaluator, attack, total):
        assert _seconds(line) > 0
    # Said before any of it runs.
    first_training = order.index(next(m for m in order if m.startswith("classifier: training")))
    trial_attack = next(i for i, (name, m) in enumerate(messages)
                        if name == "fedpriv.trial" and m.startswith("attacking"))
    assert max(order.index(classifier), order.index(attack), order.index(total)) < first_training < trial_attack


def test_cached_models_are_not_timed_again(tmp_path, caplog):
    cfg = compose_config(*TINY, "targets.classes=[0]", cache_dir=tmp_path / "cache")
    run_trial(cfg, output_dir=tmp_path / "first")
    caplog.set_level(logging.INFO)
    run_trial(cfg, output_dir=tmp_path / "second")
    order = [r.getMessage() for r in caplog.records]
    assert "classifier: lenet, cached weights" in order and "evaluator: convnet, cached weights" in order
    assert not [m for m in order if m.startswith("training ")]
    assert any(m.startswith("attacking 1 image in 1 shared update x 5 iterations (1 restart) ≈ ") for m in order)


@pytest.mark.parametrize("verbose", [False, True])
def test_library_chatter_only_when_verbose(tmp_path, capfd, caplog, cache_dir, verbose):
    caplog.set_level(logging.INFO)
    cfg = compose_config(*TINY, "defense=dpsgd", "model=convnet", "model.width=4", "targets.classes=[0]",
                         "attack.iterations=2", f"verbose={str(verbose).lower()}", cache_dir=cache_dir)
    run_trial(cfg, output_dir=tmp_path / "run")
    out, err = capfd.readouterr()
    text = caplog.text + out + err
    assert ("Replaced sub_module" in text) == verbose  # Opacus: one line per BatchNorm it swaps for GroupNorm
    assert ("GPU available" in text) == verbose  # Lightning: one per Trainer
    # The first of the two runs trains the DP classifier, the second finds it in the session's cache.
    assert ("training classifier: convnet on 1,347 images x 1 epoch (DP-SGD) ≈ " in caplog.text
            or "classifier: convnet, cached weights" in caplog.text)
    assert "fedpriv.trial" in caplog.text  # fedpriv's own lines stay


@pytest.mark.slow
def test_cli_trial_says_its_cost_and_keeps_stderr_free_of_bar_redraws(tmp_path):
    env = {**os.environ, "FEDPRIV_CACHE_DIR": str(tmp_path / "cache"), "PYTHONUNBUFFERED": "1"}
    proc = subprocess.run([sys.executable, "-m", "fedpriv.sweep", *TINY, "metrics.lpips.enabled=false",
                           f"hydra.run.dir={tmp_path / 'run'}"], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-2000:]
    log = proc.stdout  # Hydra's log lines go to stdout; bars would go to stderr, which is not a terminal here
    assert "training classifier: lenet on 1,347 images x 1 epoch ≈ " in log
    assert "attacking 10 images in 10 shared updates x 5 iterations (1 restart) ≈ " in log
    assert log.index("trial ≈") < log.index("classifier: training")
    assert "\r" not in proc.stderr and "\r" not in proc.stdout and len(proc.stderr) < 5_000
