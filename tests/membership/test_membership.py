"""Membership inference on real digits: an overfit target leaks membership, DP-SGD hides it, and a sweep that
mixes membership and reconstruction trials is reported as both."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from fedpriv.errors import FedprivError
from fedpriv.membership.metrics import membership_metrics
from fedpriv.membership.models import membership_split
from fedpriv.record import read_results
from fedpriv.trial import run_trial

REPO = Path(__file__).resolve().parents[2]
# A deliberately overfit target: 100 digits, 60 epochs of Adam (FedAvg with one client is plain local training).
OVERFIT = ("model=lenet5", "model.init=default", "model.conv_width=16", "fl=fedavg", "fl.rounds=1",
           "fl.num_clients=1", "fl.round_epochs=60", "fl.round_lr=0.001", "fl.round_optimizer=adam",
           "fl.round_batch_size=16", "attack.members=100", "attack.attacker_records=400", "record.grid=false")


def test_split_is_disjoint_balanced_and_refuses_too_few_records():
    split = membership_split(1000, members=100, attacker=300, seed=3)
    parts = [set(split.members.tolist()), set(split.non_members.tolist()), set(split.attacker.tolist())]
    assert [len(p) for p in parts] == [100, 100, 300]
    assert not (parts[0] & parts[1] or parts[0] & parts[2] or parts[1] & parts[2])
    assert int(split.is_member.sum()) == 100 and len(split.records) == 200
    with pytest.raises(FedprivError, match="attack.members=400.*need 1100 training records"):
        membership_split(1000, members=400, attacker=300, seed=3)


def test_separable_scores_are_found_at_low_fpr_and_random_ones_are_not():
    is_member = torch.arange(2000) < 1000
    perfect = membership_metrics(is_member.float() + 0.01 * torch.randn(2000), is_member)
    assert perfect["mia_auc"] == pytest.approx(1.0) and perfect["tpr_at_0.1pct_fpr"] == pytest.approx(1.0)
    noise = membership_metrics(torch.randn(2000, generator=torch.Generator().manual_seed(0)), is_member)
    assert abs(noise["mia_auc"] - 0.5) < 0.05 and noise["tpr_at_1pct_fpr"] < 0.05


def _row(compose_cfg, tmp_path, *overrides) -> dict:
    out = run_trial(compose_cfg(*OVERFIT, *overrides), output_dir=tmp_path)
    return out.rows[0]


@pytest.mark.slow
def test_overfit_target_leaks_membership_to_shadow_models_and_lira(compose_cfg, tmp_path):
    # 300 epochs: on 80 shadow records per class, 30 epochs are too few optimiser steps for the classifiers.
    shadow = _row(compose_cfg, tmp_path / "shadow", "attack=mia_shadow", "attack.shadow_models=4",
                  "attack.attack_epochs=300")
    lira = _row(compose_cfg, tmp_path / "lira", "attack=mia_lira", "attack.reference_models=4")
    print(f"shadow: acc {shadow['mia_acc']:.3f} AUC {shadow['mia_auc']:.3f}; LiRA: AUC {lira['mia_auc']:.3f} "
          f"TPR@1%FPR {lira['tpr_at_1pct_fpr']:.3f} vs loss {lira['loss_tpr_at_1pct_fpr']:.3f}; target train "
          f"{shadow['target_train_acc']:.3f} test {shadow['target_test_acc']:.3f}")
    # Measured: shadow AUC 0.670 (0.581 with 30 classifier epochs), LiRA AUC 0.709 and TPR at 1% FPR 0.030 against
    # the loss attack's 0.000; the target at 100% train and 88.7% test accuracy.
    assert shadow["target_train_acc"] - shadow["target_test_acc"] > 0.05  # it is overfit
    assert shadow["mia_auc"] > 0.6
    assert lira["tpr_at_1pct_fpr"] > lira["loss_tpr_at_1pct_fpr"]
    assert (tmp_path / "lira" / "membership.csv").is_file()


@pytest.mark.slow
def test_dpsgd_at_small_epsilon_pushes_the_attack_towards_chance(compose_cfg, tmp_path):
    plain = _row(compose_cfg, tmp_path / "plain", "attack=mia_lira", "attack.reference_models=4")
    private = _row(compose_cfg, tmp_path / "dp", "attack=mia_lira", "attack.reference_models=4", "defense=dpsgd",
                   "defense.noise_multiplier=8.1")
    print(f"LiRA AUC {plain['mia_auc']:.3f} without DP, {private['mia_auc']:.3f} with DP-SGD at epsilon "
          f"{private['epsilon']:.2f}; target test accuracy {plain['target_test_acc']:.3f} -> "
          f"{private['target_test_acc']:.3f}")
    assert private["epsilon"] < 2  # sigma 8.1 over 420 local steps at sampling rate 0.16: epsilon 1.75
    # Measured: AUC 0.709 without DP, 0.546 at epsilon 1.74 (test accuracy 0.887 -> 0.100).
    assert private["mia_auc"] < 0.58
    assert private["mia_auc"] < plain["mia_auc"] - 0.1


@pytest.mark.slow
def test_one_sweep_runs_membership_and_reconstruction_trials_and_the_report_shows_both(tmp_path, cache_dir):
    env = {**os.environ, "FEDPRIV_CACHE_DIR": str(cache_dir), "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    sweep = tmp_path / "multirun" / "mixed"
    run = subprocess.run([sys.executable, "-m", "fedpriv.sweep", "-m", "attack=inverting_gradients,mia_lira",
                          "targets.classes=[0,1]", "training.epochs=2", "progress=false", "estimate=false",
                          "metrics.lpips.enabled=false", f"hydra.sweep.dir={sweep}"],
                         cwd=tmp_path, env=env, capture_output=True, text=True, timeout=900)
    assert run.returncode == 0, run.stderr[-3000:]
    rows = [r for path in sorted(sweep.glob("*/results.csv")) for r in read_results(path)]
    assert {r["attack"] for r in rows} == {"inverting_gradients", "mia_lira"}
    report = subprocess.run([sys.executable, "-m", "fedpriv.report", str(sweep)], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=600)
    assert report.returncode == 0, report.stderr[-3000:]
    assert "1 membership trial(s)" in report.stdout
    membership = (sweep / "report" / "membership" / "membership.md").read_text()
    assert "## mia_lira" in membership and "TPR@1%FPR" in membership
    assert list((sweep / "report" / "membership").glob("roc-*.png"))
    assert (sweep / "report" / "report.md").is_file()  # the reconstruction trial's report, as before
