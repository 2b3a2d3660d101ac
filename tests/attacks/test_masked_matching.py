"""Adaptive optimisation attacks match only the update entries a pruning defense reveals as kept."""

from __future__ import annotations

import torch

from fedpriv.attacks import AttackProblem, InvertingGradients
from fedpriv.defenses import Prune
from fedpriv.fl.base import SharedUpdate, batch_gradients
from fedpriv.models import LeNet


def _problem(seed: int, p: float | None = 0.9):
    torch.manual_seed(seed)
    model = LeNet(in_shape=(1, 16, 16), num_classes=10)
    x, y = torch.rand(1, 1, 16, 16), torch.tensor([seed % 10])
    gradients = batch_gradients(model, x, y)
    defense = Prune(p=p) if p is not None else None
    shared = defense.defend_update(gradients, None) if defense else gradients
    update = SharedUpdate([g.detach() for g in shared], batch_size=1)
    problem = AttackProblem(model=model, update=update, shape=(1, 16, 16), num_classes=10,
                            bounds=(torch.zeros(1, 1, 1, 1), torch.ones(1, 1, 1, 1)), labels=y, seed=seed)
    if defense is not None:
        problem.defense = defense.knowledge(update.gradients)
    return problem, x, y


def test_the_true_image_matches_a_pruned_update_exactly_only_when_masked():
    problem, x, y = _problem(0)
    masks = [m.float() for m in problem.defense.mask]
    _, masked = InvertingGradients(adaptive=True).problem_loss(problem)(x, y, *problem.update.gradients, *masks)
    _, plain = InvertingGradients(adaptive=False).problem_loss(problem)(x, y, *problem.update.gradients)
    assert masked.item() < 1e-5  # the private image explains every kept entry
    assert plain.item() > 0.05  # against the zeros too, it looks like a poor match


def test_problems_with_their_own_masks_run_together_and_beside_unmasked_ones():
    problems = [_problem(1)[0], _problem(2)[0], _problem(3, p=None)[0]]
    assert not torch.equal(problems[0].defense.mask[0], problems[1].defense.mask[0])
    attack = InvertingGradients(iterations=3, labels="given", parallel=3)
    assert attack.mask(problems[2]) is None and InvertingGradients(adaptive=False).mask(problems[0]) is None
    results = attack.reconstruct_many(problems)
    assert len(results) == 3 and all(torch.isfinite(torch.tensor(r.loss)) for r in results)
