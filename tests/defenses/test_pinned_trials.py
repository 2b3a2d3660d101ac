"""Two small digits trials pinned to their results rows: moving a defense onto other hooks must not change what
it computes (the augmented images, the DP noise of the shared update, the models trained under either)."""

from __future__ import annotations

import pytest

from fedpriv.trial import run_trial

SMALL = ["training.epochs=1", "evaluator.training.epochs=1", "attack.iterations=5", "targets.classes=[0,1,2]",
         "fl.batch_size=2", "targets.per_class=2"]
TRIALS = {
    # Rotated inputs for the update and for training the classifier (data side at both places).
    "augment": ["defense=augment", "defense.op=rotate", "defense.magnitude=7", "defense.train_on_defended=true"],
    # A DP-trained classifier and a clipped, noised shared update (update side, seeded noise).
    "dpsgd": ["defense=dpsgd", "defense.noise_multiplier=0.5", "defense.noisy_update=true"],
}
MEASURED = ("ma", "aa", "psnr", "ssim", "mse", "label_acc", "psnr_defended", "ssim_defended", "psnr_init",
            "epsilon", "classifier_acc", "evaluator_acc", "victim_acc")
# Recorded with the code before the defenses moved onto defend_batch/defend_update (CPU): per class, its
# name, n and the MEASURED values in that order.
EXPECTED = {
    'augment': [
        ('0', 2, 0.0, 0.0, 8.274784088134766, 0.017686378210783005, 0.14986751973628998, 1.0, 8.729053497314453,
         0.054493289440870285, 8.168256759643555, None, 0.14222222566604614, 0.3888888955116272,
         0.10000000149011612),
        ('1', 2, 1.0, 0.0, 7.379754066467285, 0.04942750185728073, 0.18363091349601746, 1.0, 7.571986198425293,
         0.05729179456830025, 7.333395957946777, None, 0.14222222566604614, 0.3888888955116272, 0.10000000149011612),
        ('2', 2, 0.0, 0.0, 7.234536170959473, 0.010801207274198532, 0.18930643796920776, 1.0, 7.689207553863525,
         0.045710284262895584, 7.169576644897461, None, 0.14222222566604614, 0.3888888955116272,
         0.10000000149011612),
    ],
    'dpsgd': [
        ('0', 2, 0.0, 0.0, 8.171409606933594, 0.020305227488279343, 0.1528681516647339, 0.0, 8.171409606933594,
         0.020305227488279343, 8.179201126098633, 12.092316009594715, 0.10444444417953491, 0.3888888955116272,
         0.10000000149011612),
        ('1', 2, 0.0, 0.0, 7.319558143615723, 0.044628750532865524, 0.1863401234149933, 0.0, 7.319558143615723,
         0.044628750532865524, 7.333395957946777, 12.092316009594715, 0.10444444417953491, 0.3888888955116272,
         0.10000000149011612),
        ('2', 2, 0.0, 0.0, 7.198932647705078, 0.009077392518520355, 0.1910017728805542, 0.5, 7.198932647705078,
         0.009077392518520355, 7.169576644897461, 12.092316009594715, 0.10444444417953491, 0.3888888955116272,
         0.10000000149011612),
    ],
}


@pytest.mark.slow  # two trainings and a DP training: about 30 s each on 2 cores
@pytest.mark.parametrize("name", sorted(TRIALS))
def test_trial_rows_are_unchanged(name, compose_cfg, tmp_path):
    output = run_trial(compose_cfg(*SMALL, *TRIALS[name]), output_dir=tmp_path)
    rows = [{k: r[k] for k in ("class", "n", *MEASURED)} for r in output.rows]
    expected = [dict(zip(("class", "n", *MEASURED), values)) for values in EXPECTED[name]]
    assert [(r["class"], r["n"]) for r in rows] == [(e["class"], e["n"]) for e in expected]
    for row, want in zip(rows, expected):
        for key in MEASURED:
            assert row[key] == (None if want[key] is None else pytest.approx(want[key], rel=1e-5, abs=1e-7)), key
