"""A trial's numbers mean what they say: MA is out of the attack's reach, and the same trial gives the same rows."""

from __future__ import annotations

import torch
from torch import nn

from fedpriv.attacks import InvertingGradients
from fedpriv.data import Digits
from fedpriv.trial import run_trial

# A BatchNorm ConvNet pretrained for one epoch, attacked as that same classifier (victim.train_epochs equal to
# training.epochs), with the client computing its update in train mode: the setting where the victim once was
# the MA model itself.
SHARED_MODEL = ["model=convnet", "model.width=8", "training.epochs=1", "training.lr=0.01", "victim.train_epochs=1",
                "victim.mode=train", "targets.classes=[0,1,2,3]", "targets.per_class=3", "attack.iterations=3"]


class ScramblingAttack(InvertingGradients):
    """An attack that wrecks the BatchNorm statistics of the model it is handed before it attacks."""

    scrambled: list[nn.Module] = []

    def reconstruct_many(self, problems):
        model = problems[0].model
        with torch.no_grad():
            for module in model.modules():
                if isinstance(module, nn.BatchNorm2d):
                    module.momentum = 1.0
            model.train()
            model(torch.randn(64, *problems[0].shape, device=problems[0].device) * 10 + 5)  # garbage in train mode
        ScramblingAttack.scrambled.append(model)
        return super().reconstruct_many(problems)


def test_ma_does_not_move_when_the_attack_scrambles_the_victims_batchnorm(compose_cfg, tmp_path):
    plain = run_trial(compose_cfg(*SHARED_MODEL), output_dir=tmp_path / "plain")
    scrambling = f"attack._target_={ScramblingAttack.__module__}.ScramblingAttack"
    scrambled = run_trial(compose_cfg(*SHARED_MODEL, scrambling), output_dir=tmp_path / "scrambled")

    assert [r["ma"] for r in scrambled.rows] == [r["ma"] for r in plain.rows]
    assert sum(r["ma"] for r in plain.rows) / 4 > 0.5  # a trained classifier, so a wrecked one would show
    # The attack did wreck its model: measured on the victim, MA would have collapsed.
    data = Digits().load()
    victim = ScramblingAttack.scrambled[-1].eval()
    with torch.no_grad():
        wrecked = (victim(data.normalize(scrambled.images["defended"])).argmax(1) == scrambled.images["labels"])
    assert wrecked.float().mean() < sum(r["ma"] for r in plain.rows) / 4 - 0.3


def test_default_victim_mode_is_eval(compose_cfg):
    from fedpriv.config.schema import VictimConfig

    assert VictimConfig().mode == "eval" and compose_cfg().victim.mode == "eval"


def test_a_noisy_dp_trial_gives_the_same_rows_with_a_cold_and_a_warm_cache(tmp_path):
    from tests.conftest import compose_config

    overrides = ["defense=dpsgd", "defense.noise_multiplier=0.5", "defense.noisy_update=true", "training.epochs=1",
                 "evaluator.training.epochs=1", "attack.iterations=5", "targets.classes=[0,1,2]"]
    cfg = compose_config(*overrides, cache_dir=tmp_path / "cache")
    runs = []
    for name, global_seed in (("cold", 1), ("warm", 2)):
        torch.manual_seed(global_seed)  # whatever ran before in the process must not matter
        runs.append(run_trial(cfg, output_dir=tmp_path / name))
    cold, warm = runs
    assert len(list((tmp_path / "cache").rglob("*.pt"))) >= 2  # the second run found the trained models
    timing = {"attack_seconds"}
    strip = lambda rows: [{k: v for k, v in r.items() if k not in timing} for r in rows]
    assert strip(cold.rows) == strip(warm.rows)
    assert torch.equal(cold.images["reconstruction"], warm.images["reconstruction"])
    assert cold.results_path.read_text().count("\n") == warm.results_path.read_text().count("\n") == 4
