"""Defenses combine: ``defense=[augment,dpsgd]`` composes, validates, builds and runs; keys two members both take
are refused with both named; a stack runs its members' hooks in order and describes itself with both."""

from __future__ import annotations

import pytest
import torch

from fedpriv.attacks import InvertingGradients
from fedpriv.config import ConfigError
from fedpriv.config.validate import config_problems
from fedpriv.defenses import (Augment, ClientBatch, ClientContext, ClientStep, Defense, DefenseKnowledge,
                              DefenseStack, NoDefense, build_defense)
from fedpriv.trial import run_trial


class RecordingAttack(InvertingGradients):
    """Inverting Gradients that keeps what the server was told about the defense."""

    told: list[DefenseKnowledge] = []

    def reconstruct_many(self, problems):
        RecordingAttack.told += [p.defense for p in problems]
        return super().reconstruct_many(problems)


@pytest.mark.slow  # a DP-SGD training, an evaluator and an attack: a minute or more on 2 cores
def test_augment_then_dpsgd_runs_one_trial(compose_cfg, tmp_path):
    cfg = compose_cfg("defense=[augment,dpsgd]", "defense.op=invert", "defense.magnitude=9",
                      "defense.noise_multiplier=0.5", "training.epochs=1", "evaluator.training.epochs=1",
                      "targets.classes=[0,1]", "attack.iterations=3",
                      f"attack._target_={RecordingAttack.__module__}.RecordingAttack")
    assert config_problems(cfg) == []
    output = run_trial(cfg, output_dir=tmp_path)
    assert {r["defense"] for r in output.rows} == {"augment+dpsgd"}
    assert {(r["op"], r["magnitude"], r["noise_multiplier"], r["noisy_update"]) for r in output.rows} == {
        ("invert", 9, 0.5, True)}
    assert all(0 < r["epsilon"] < 100 for r in output.rows)  # the classifier was trained with DP-SGD
    assert torch.allclose(output.images["defended"], 1 - output.images["original"], atol=1e-6)  # augmented
    told = RecordingAttack.told[-1]
    assert told.name == "augment+dpsgd" and told.params["op"] == "invert" and told.params["noise_multiplier"] == 0.5


def test_a_key_two_members_take_is_an_error_naming_both(compose_cfg, tmp_path):
    cfg = compose_cfg("defense=[augment,augment_per_class]")
    problems = config_problems(cfg)
    assert "defense.random_sign: taken by both augment (fedpriv.defenses.Augment) and augment_per_class " \
           "(fedpriv.defenses.AugmentPerClass), so defense=[augment,augment_per_class] cannot tell whose it is; " \
           "these cannot be combined while both take it" in problems
    with pytest.raises(ConfigError, match="defense.train_on_defended: taken by both augment"):
        run_trial(cfg, output_dir=tmp_path)
    with pytest.raises(ConfigError, match="defense.convention: taken by both"):
        build_defense(cfg.defense)


def test_a_stack_checks_each_members_keys_against_its_own_signature(compose_cfg):
    problems = config_problems(compose_cfg("defense=[augment,dpsgd]", "defense.magnitude=12",
                                           "defense.noise_multiplier=-1", "+defense.ratio=0.5"))
    assert "defense.magnitude=12 is out of range; allowed: 0 to 9" in problems
    assert any(p.startswith("defense.noise_multiplier=-1 is out of range") for p in problems)
    assert any(p.startswith("defense.ratio: unknown key for defense=[augment,dpsgd]; allowed keys: ") for p in problems)
    assert len(problems) == 3


class Scale(Defense):
    """Multiplies images and gradients by ``factor``: the order of two such members shows in the result."""

    columns = ("factor",)

    def __init__(self, name, factor, *, train_on_defended=False):
        self.name, self.factor, self.train_on_defended = name, factor, train_on_defended

    def describe(self, class_id=None):
        return {"factor": self.factor}

    def defend_batch(self, batch, context):
        return batch.with_(images=batch.images * self.factor + 1, info={self.name: True})

    def defend_update(self, gradients, step):
        return [g * self.factor + 1 for g in gradients]

    def training_loss(self, model, outputs, targets):
        return torch.tensor(self.factor)


def test_a_stack_applies_its_members_in_order_and_merges_their_columns():
    stack = DefenseStack([NoDefense(), Scale("a", 2.0, train_on_defended=True), Scale("b", 3.0)])
    assert stack.name == "a+b"  # the undefended baseline adds nothing
    assert stack.columns == ("a_factor", "b_factor")  # a column both report is told apart by member
    assert stack.describe() == {"a_factor": 2.0, "b_factor": 3.0}
    batch = ClientBatch.from_uint8(torch.zeros(1, 1, 2, 2, dtype=torch.uint8), torch.tensor([0]))
    context = ClientContext(generator=torch.Generator(), num_classes=2)
    out = stack.defend_batch(batch, context)
    assert out.images.unique().tolist() == [4.0] and out.info == {"a": True, "b": True}  # (0 * 2 + 1) * 3 + 1
    # Training the classifier: only the member that trains on its defended data changes the batch.
    training = ClientContext(generator=torch.Generator(), num_classes=2, purpose="training")
    assert stack.train_on_defended and stack.defend_batch(batch, training).images.unique().tolist() == [1.0]
    step = ClientStep(model=torch.nn.Linear(1, 1), inputs=torch.zeros(1, 1), targets=torch.zeros(1),
                      generator=torch.Generator())
    assert stack.defend_update([torch.ones(2)], step)[0].tolist() == [10.0, 10.0]  # (1 * 2 + 1) * 3 + 1
    assert float(stack.training_loss(None, None, None)) == 5.0


def test_a_stack_grants_what_its_members_grant():
    class Mask(Defense):
        name = "mask"

        def __init__(self, keep):
            self.keep = keep

        def knowledge(self, update_gradients):
            return DefenseKnowledge(name=self.name, mask=[torch.tensor(self.keep)])

    stack = DefenseStack([Augment(op="invert"), Mask([True, True, False]), Mask([True, False, True])])
    known = stack.knowledge([torch.zeros(3)])
    assert known.name == "augment+mask+mask" and known.params == {"op": "invert", "magnitude": 5}
    assert known.mask[0].tolist() == [True, False, False]  # kept where every masking member kept it
    assert build_defense({"_target_": "fedpriv.defenses.Augment", "op": "rotate"}).describe() == {
        "op": "rotate", "magnitude": 5}
