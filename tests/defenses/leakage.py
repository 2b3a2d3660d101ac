"""Attack real digits through an update-side defense: the shared updates as a client would send them, and the
mean PSNR of Inverting Gradients' reconstructions."""

from __future__ import annotations

from functools import lru_cache

import torch

from fedpriv.attacks import AttackProblem, InvertingGradients
from fedpriv.data import Digits
from fedpriv.defenses.client import ClientStep
from fedpriv.fl.base import SharedUpdate, batch_gradients
from fedpriv.metrics import psnr

DIGITS = (0, 50, 100, 150)  # test digits 1, 2, 5 and 0


@lru_cache(maxsize=1)
def digits():
    return Digits().load()


def problems(data, model, defense=None, indices=DIGITS, *, seed: int = 0) -> tuple[list[AttackProblem], list]:
    """One FedSGD update per image (batch size 1), defended as the client would, with the labels given to the
    server and what the threat model grants about the defense attached as ``problem.defense``."""
    out, originals = [], []
    for k, i in enumerate(indices):
        x, y = data.normalize(data.test.images[i : i + 1]), data.test.labels[i : i + 1]
        gradients = batch_gradients(model, x, y)
        if defense is not None:
            step = ClientStep(model=model, inputs=x, targets=y, generator=torch.Generator().manual_seed(seed + k))
            gradients = defense.defend_update(gradients, step)
        update = SharedUpdate([g.detach() for g in gradients], batch_size=1)
        problem = AttackProblem(model=model, update=update, shape=data.shape, num_classes=data.num_classes,
                                bounds=data.bounds(), labels=y, seed=i)
        if defense is not None and hasattr(defense, "knowledge"):
            problem.defense = defense.knowledge(update.gradients)
        out.append(problem)
        originals.append(x)
    return out, originals


def mean_psnr(data, model, defense=None, *, iterations: int = 100, adaptive: bool = True,
              indices=DIGITS) -> float:
    """Mean PSNR (dB) of Inverting Gradients (given labels) against the private images."""
    attack = InvertingGradients(iterations=iterations, labels="given", parallel=len(indices), adaptive=adaptive)
    batch, originals = problems(data, model, defense, indices)
    reconstructions = attack.reconstruct_many(batch)
    values = [psnr(data.denormalize(r.images), data.denormalize(x)).item() for r, x in zip(reconstructions, originals)]
    return sum(values) / len(values)
