"""Concealing samples (Wu, Hayat, Zhou, Harandi): hide a batch's sensitive images behind crafted look-alike
gradients, mix their losses, and project the shared gradient onto the side of the ordinary images.

Threat model: a client's batch holds ``m`` sensitive images, its last rows; the rest are ordinary images the
client does not mind revealing. The defense acts where the model is at hand, the update side: at every local
step it replaces ``k`` ordinary rows per sensitive image by concealing samples crafted against the current model
(:func:`fedpriv.defenses.concealing_craft.craft`), recomputes the step's gradient with the mixed loss, and
projects it against the reference gradient of the original ordinary rows. The step's incoming gradient is
discarded: the client shares (and trains on) the concealed one.

Start points: ``batch`` starts each concealing sample from the image it replaces; ``noise`` from N(0, 1) in
the model's input space; ``public`` from other images of the client's data (the data side swaps them into the
replaced rows, so labels come with them), the paper's QMNIST variant.
"""

from __future__ import annotations

import hashlib
from typing import Annotated, ClassVar, Optional

import torch
from torch import Tensor

from fedpriv.config.constraints import OneOf, Range
from fedpriv.defenses.base import Defense
from fedpriv.defenses.client import ClientBatch, ClientContext, ClientStep
from fedpriv.defenses.concealing_craft import (CRAFT_LABELS, STARTS, TRIGGERS, CraftSettings, concealing_slots, craft,
                                               mean_gradient, mixup_gradient, project_gradient)


class Concealing(Defense):
    """Concealing samples with loss mixup and gradient projection.

    Args:
        m: sensitive images per batch (its last rows; the paper: 1).
        k: concealing samples per sensitive image (the paper: 1); a batch needs ``m * (k + 1)`` images.
        start: ``batch`` | ``noise`` | ``public``, where each concealing sample starts (see the module).
        alpha: weight of ``1 / ||x~ - x_s||``, pushing the concealing sample away from the sensitive image
            (Table 7: 0.1 against DLG / Inverting Gradients, 30 against Imprint).
        beta: weight of the logit distance ``||f(x~) - f(x_s)||`` (0.001; 100 against Imprint).
        tv_weight: total variation of the concealing samples (the authors' code: 1e-4).
        iterations: Adam steps of the crafting, T (1000; 100 against Imprint), lr cut tenfold at 3/8, 5/8, 7/8.
        lr: Adam's learning rate for the crafting (0.1).
        lam: weight of the concealing sample's own label in its mixed loss, lambda (0.3); ``1 - lam`` goes to the
            sensitive image's label.
        margin / eps: the projection's minimum step along the reference gradient and the ridge on its norm (the
            authors' code: 0.5 and 1e-3; 0 and 0 is the paper's plain projection).
        craft_label: the label of the concealing sample's gradient in the crafting objective: ``own`` (its own
            label; the authors' code) or ``mixed`` (the lambda-mixed label it carries in the shared gradient,
            which lets a sample of another class align its whole shared contribution with the sensitive
            gradient; see :func:`~fedpriv.defenses.concealing_craft.craft`).
        trigger: when the projection applies: ``any_coordinate`` (some entry of g * g_ref is negative; the code),
            ``inner_product`` (<g, g_ref> < 0; the paper), ``never``.
    """

    name = "concealing"
    title = "concealing samples"
    columns: ClassVar[tuple[str, ...]] = ("m", "k", "start", "alpha", "beta", "iterations", "lam", "craft_label")
    update_in_training = True

    def __init__(self, *, m: Annotated[int, Range(1, 1024)] = 1, k: Annotated[int, Range(1, 1024)] = 1,
                 start: Annotated[str, OneOf(STARTS)] = "batch", alpha: Annotated[float, Range(0)] = 0.1,
                 beta: Annotated[float, Range(0)] = 1e-3, tv_weight: Annotated[float, Range(0)] = 1e-4,
                 iterations: Annotated[int, Range(1, 1_000_000)] = 1000,
                 lr: Annotated[float, Range(0, None, low_open=True)] = 0.1,
                 lam: Annotated[float, Range(0, 1)] = 0.3, margin: Annotated[float, Range(0)] = 0.5,
                 eps: Annotated[float, Range(0)] = 1e-3, trigger: Annotated[str, OneOf(TRIGGERS)] = "any_coordinate",
                 craft_label: Annotated[str, OneOf(CRAFT_LABELS)] = "own"):
        self.m, self.k, self.start = int(m), int(k), start
        self.settings = CraftSettings(alpha=float(alpha), beta=float(beta), tv_weight=float(tv_weight),
                                      iterations=int(iterations), lr=float(lr), label=craft_label, lam=float(lam))
        self.lam, self.margin, self.eps, self.trigger = float(lam), float(margin), float(eps), trigger
        # The public start swaps images into the batch, which training must see as well.
        self.train_on_defended = start == "public"
        self.last: Optional[dict] = None  # what the latest step crafted (for inspection and tests)

    def describe(self, class_id=None):
        return {"m": self.m, "k": self.k, "start": self.start, "alpha": self.settings.alpha,
                "beta": self.settings.beta, "iterations": self.settings.iterations, "lam": self.lam,
                "craft_label": self.settings.label}

    def training_signature(self):
        return {self.name: [self.m, self.k, self.start, self.settings.alpha, self.settings.beta,
                            self.settings.tv_weight, self.settings.iterations, self.settings.lr, self.lam,
                            self.margin, self.eps, self.trigger]
                + ([self.settings.label] if self.settings.label != "own" else [])}

    def defend_batch(self, batch: ClientBatch, context: ClientContext) -> ClientBatch:
        """With ``start=public``: the rows to be concealed are swapped for other images of the client (they
        keep those images' labels); otherwise the batch is unchanged. Either way ``info['sensitive']`` marks
        the sensitive rows."""
        n = len(batch)
        if n < self.m * (self.k + 1):
            return batch
        sensitive, slots, _ = concealing_slots(n, self.m, self.k)
        flags = torch.zeros(n, dtype=torch.bool)
        flags[sensitive] = True
        if self.start != "public":
            return batch.with_(info={"sensitive": flags})
        if context.other_data is None:
            raise ValueError("defense.start=public draws the concealing samples' start images from the client's "
                             "other data, and this client has none")
        extra, extra_labels = context.other_data(len(slots), context.generator)
        if batch.soft:
            raise ValueError("concealing samples need hard labels; a defense before it made them soft")
        images, targets, labels = batch.images.clone(), batch.targets.clone(), batch.labels.clone()
        images[slots] = extra.to(images)
        targets[slots] = extra_labels.to(targets)
        labels[slots] = extra_labels.to(labels)
        return batch.with_(images=images, targets=targets, labels=labels, info={"sensitive": flags})

    def _starts(self, x: Tensor, slots: Tensor, generator: torch.Generator) -> Tensor:
        if self.start == "noise":
            return torch.randn(x[slots].shape, generator=generator, device=generator.device).to(x)
        return x[slots]

    def prepare_updates(self, model, inputs, targets, generator) -> None:
        """Craft the concealing samples of every batch at once (one ``vmap`` over all of them); each batch's
        :meth:`defend_update` then uses its own, as long as the model has not changed in between."""
        self._prepared = {}
        jobs = [(x, y) for x, y in zip(inputs, targets) if y.ndim == 1 and len(x) >= self.m * (self.k + 1)]
        if not jobs:
            return
        starts, labels, sens, sens_labels, owners, offset = [], [], [], [], [], 0
        for x, y in jobs:
            sensitive, slots, owner = (t.to(x.device) for t in concealing_slots(len(x), self.m, self.k))
            starts.append(self._starts(x, slots, generator))
            labels.append(y[slots])
            sens.append(x[sensitive])
            sens_labels.append(y[sensitive])
            owners.append(owner + offset)
            offset += self.m
        crafted, info = craft(model, torch.cat(starts), torch.cat(labels), torch.cat(sens), torch.cat(sens_labels),
                              torch.cat(owners), self.settings)
        per_batch = self.m * self.k
        for number, (x, y) in enumerate(jobs):
            part = slice(number * per_batch, (number + 1) * per_batch)
            self._prepared[_fingerprint(model, x, y)] = (crafted[part], {k: v[part] for k, v in info.items()})

    def defend_update(self, gradients: list[Tensor], step: ClientStep) -> list[Tensor]:
        x, y = step.inputs, step.targets
        if y.ndim != 1:
            raise ValueError("concealing samples need hard labels; a defense before it made them soft")
        n = len(x)
        if n < self.m * (self.k + 1) and step.purpose != "update":
            return gradients  # a short last batch of local training has no room for concealing samples
        sensitive, slots, owner = concealing_slots(n, self.m, self.k)
        sensitive, slots, owner = sensitive.to(x.device), slots.to(x.device), owner.to(x.device)
        ordinary = torch.ones(n, dtype=torch.bool, device=x.device)
        ordinary[sensitive] = False
        prepared = getattr(self, "_prepared", {}).pop(_fingerprint(step.model, x, y), None)
        if prepared is None:
            crafted, info = craft(step.model, self._starts(x, slots, step.generator), y[slots], x[sensitive],
                                  y[sensitive], owner, self.settings)
        else:
            crafted, info = prepared
        concealed = x.clone()
        concealed[slots] = crafted
        mixed = mixup_gradient(step.model, concealed, y, slots, y[sensitive][owner], self.lam)
        reference = mean_gradient(step.model, x[ordinary], y[ordinary])
        params = list(step.model.parameters())
        mixed = [g if g is not None else torch.zeros_like(p) for g, p in zip(mixed, params)]
        reference = [g if g is not None else torch.zeros_like(p) for g, p in zip(reference, params)]
        shared, projected = project_gradient(mixed, reference, margin=self.margin, eps=self.eps,
                                             trigger=self.trigger)
        self.last = {**info, "inputs": concealed.detach(), "slots": slots, "projected": projected}
        return [g.detach() for g in shared]


def _fingerprint(model, x: Tensor, y: Tensor) -> str:
    """Identifies a batch and the weights it meets (prepared crafting is only valid for both unchanged)."""
    digest = hashlib.sha1(x.detach().cpu().contiguous().numpy().tobytes())
    digest.update(y.detach().cpu().contiguous().numpy().tobytes())
    for p in model.parameters():
        digest.update(p.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()
