"""What Mixup and InstaHide share: drawing mixing weights and partners, mixing a client batch, and scoring.

Both defenses replace each private image by a convex combination of itself and ``k - 1`` other private images of
the same client, with the one-hot labels mixed by the same weights (Zhang et al.'s Mixup used as an encoding, as
InstaHide and GradAttack use it). The weights follow GradAttack: a Dirichlet with concentration 3 on the image's
own component and 1 on each partner, each row redrawn until no weight exceeds ``max_weight`` (0.65), so no single
image dominates an encoding. Weights and partners are drawn afresh at every call, so a classifier trained on the
defended data sees new encodings every epoch, as GradAttack regenerates its mapping at each epoch start.

A batch's ``info`` keeps what scoring and the decoder need: ``mix_index`` ``(N, k)`` (column 0 is the row's own
image; indices below ``N`` are rows of the batch, from ``N`` on the partners drawn from the client's other data),
``mix_weight`` ``(N, k)`` and ``mix_images`` ``(N, k, C, H, W)`` in [0, 1].
"""

from __future__ import annotations

from typing import Annotated, Any, ClassVar

import torch
from torch import Tensor

from fedpriv.config.constraints import Range
from fedpriv.config.validate import ConfigError
from fedpriv.defenses.base import Defense
from fedpriv.defenses.client import ClientBatch, ClientContext, DefenseKnowledge

# GradAttack's Dirichlet concentration of an image's own component (partners get 1): the image itself carries
# half of its encoding on average, the rest is spread over its partners.
SELF_CONCENTRATION = 3

MixCount = Annotated[int, Range(2, 16)]
MaxWeight = Annotated[float, Range(0.0, 1.0, low_open=True)]


def mixing_weights(rows: int, k: int, *, max_weight: float, generator: torch.Generator) -> Tensor:
    """``(rows, k)`` weights summing to 1, column 0 drawn from Dirichlet concentration 3, others from 1, each row
    redrawn until its largest weight is at most ``max_weight`` (GradAttack's rejection sampling).

    A Dirichlet is a normalised vector of Gamma draws; with integer concentrations a Gamma(a) draw is a sum of
    ``a`` exponentials, so only ``torch.rand`` is needed and the seeded generator is the only randomness."""
    if max_weight * k < 1:
        raise ConfigError([f"defense.max_weight={max_weight} is below 1/k={1 / k:.3g}: no {k} weights summing to 1 "
                           f"fit under it; allowed: max_weight >= 1/k"])
    weights = torch.empty(rows, k)
    todo = torch.arange(rows)
    while len(todo):
        exp = -torch.log1p(-torch.rand(len(todo), k + SELF_CONCENTRATION - 1, generator=generator))
        gamma = torch.cat([exp[:, :SELF_CONCENTRATION].sum(1, keepdim=True), exp[:, SELF_CONCENTRATION:]], 1)
        weights[todo] = gamma / gamma.sum(1, keepdim=True)
        todo = todo[weights[todo].max(1).values > max_weight]
    return weights


def mixing_partners(rows: int, pool: int, k: int, *, generator: torch.Generator) -> Tensor:
    """``(rows, k)`` indices into a pool whose first ``rows`` entries are the batch: column 0 is the row itself,
    the other ``k - 1`` are distinct pool entries other than it, drawn uniformly."""
    if pool - 1 < k - 1:
        raise ValueError(f"mixing k={k} images needs {k - 1} partners per image but the client has only "
                         f"{pool - 1} other images")
    index = torch.empty(rows, k, dtype=torch.long)
    for row in range(rows):
        others = torch.randperm(pool - 1, generator=generator)[: k - 1]
        index[row, 0] = row
        index[row, 1:] = others + (others >= row).long()  # skip the row itself
    return index


def mix_batch(batch: ClientBatch, context: ClientContext, *, k: int, max_weight: float) -> ClientBatch:
    """The batch with every image replaced by its mixture and its targets by the mixed one-hot labels.

    Partners come from the batch itself; when it holds fewer than ``k - 1`` other images, the client's other data
    (``context.other_data``) tops the pool up, so a batch of one image is still mixed with the client's own data.
    ``labels`` become the classes of each row's largest-weight component, the image its score is taken against."""
    rows = len(batch)
    images, labels = batch.images.float(), batch.labels.long()
    missing = max(0, k - rows)
    if missing and context.other_data is not None:
        extra_images, extra_labels = context.other_data(missing, context.generator)
        images = torch.cat([images, extra_images.float().to(images.device)])
        labels = torch.cat([labels, extra_labels.long().to(labels.device)])
    index = mixing_partners(rows, len(images), k, generator=context.generator)
    weights = mixing_weights(rows, k, max_weight=max_weight, generator=context.generator).to(images.device)
    components = images[index]                                   # (N, k, C, H, W)
    mixed = torch.einsum("nk,nkchw->nchw", weights, components)
    onehot = torch.nn.functional.one_hot(labels[index], context.num_classes).float()
    targets = torch.einsum("nk,nkc->nc", weights, onehot)
    top = weights.argmax(1)
    info = {"mix_index": index, "mix_weight": weights, "mix_images": components,
            "mix_labels": labels[index]}
    return batch.with_(images=mixed, targets=targets, labels=labels[index].gather(1, top[:, None])[:, 0],
                       info=info)


def largest_component(info: dict[str, Any]) -> Tensor:
    """``(N, C, H, W)``: each row's private image with the largest mixing weight, in [0, 1]."""
    top = info["mix_weight"].argmax(1)
    return info["mix_images"][torch.arange(len(top)), top]


def scoring_references(reconstruction: Tensor, info: dict[str, Any]) -> Tensor:
    """What a reconstruction of a mixed batch is scored against when no decoder runs: per row, the private image
    with the largest mixing weight (seed 003's convention), shaped and placed like ``reconstruction``.

    Batches without mixing info are scored against nothing new: the function then raises, so a caller falls back
    to its ordinary private images explicitly."""
    if "mix_weight" not in info:
        raise KeyError("the batch was not mixed (no mix_weight in its info)")
    return largest_component(info).to(reconstruction.device, reconstruction.dtype).reshape(reconstruction.shape)


def encode_epochs(defense: "MixingDefense", images: Tensor, labels: Tensor, *, epochs: int, num_classes: int,
                  generator: torch.Generator) -> ClientBatch:
    """A client's whole dataset (``(n, C, H, W)`` in [0, 1]) encoded once per epoch, the data an adaptive
    attacker watching several epochs collects. Returns the ``n * epochs`` encodings stacked, with ``info``
    ``mix_index``/``mix_weight`` in dataset coordinates and ``epoch`` per row (every image leads one encoding
    per epoch, as in GradAttack's per-epoch mapping)."""
    parts = []
    for epoch in range(epochs):
        context = ClientContext(generator=generator, num_classes=num_classes, purpose="update", epoch=epoch)
        parts.append(defense.defend_batch(ClientBatch(images, labels.clone(), labels.clone()), context))
    info = {key: torch.cat([p.info[key] for p in parts]) for key in ("mix_index", "mix_weight", "mix_images")}
    if "sign" in parts[0].info:
        info["sign"] = torch.cat([p.info["sign"] for p in parts])
    info["epoch"] = torch.arange(epochs).repeat_interleave(len(images))
    return ClientBatch(images=torch.cat([p.images for p in parts]), targets=torch.cat([p.targets for p in parts]),
                       labels=torch.cat([p.labels for p in parts]), info=info)


class MixingDefense(Defense):
    """A data-side defense that mixes each private image with ``k - 1`` others of the client (see the module).

    Args:
        k: images per encoding (seed 003: 4 or 6).
        max_weight: the largest weight one image may carry (GradAttack's upper bound, 0.65).
        train_on_defended: train the utility classifier on fresh encodings every epoch with soft-label cross
            entropy, as the defense is meant to be used.
    """

    columns: ClassVar[tuple[str, ...]] = ("k", "max_weight")
    # Whether the encoding is sign-flipped, so a decoder must work on absolute values (InstaHide).
    signed: ClassVar[bool] = False

    def __init__(self, *, k: MixCount = 4, max_weight: MaxWeight = 0.65, train_on_defended: bool = True):
        if max_weight * k < 1:
            raise ConfigError([f"defense.max_weight={max_weight} is below 1/k={1 / k:.3g} for k={k}; "
                               f"allowed: max_weight >= 1/k"])
        self.k = k
        self.max_weight = max_weight
        self.train_on_defended = train_on_defended

    def describe(self, class_id=None):
        return {"k": self.k, "max_weight": self.max_weight}

    def training_signature(self):
        return {self.name: [self.k, self.max_weight]} if self.train_on_defended else {}

    def knowledge(self, update_gradients: list[Tensor]) -> DefenseKnowledge:
        """The defense's name and parameters, and that a decoder must undo a mixture (on absolute values for a
        sign-flipped one); the mapping and weights of a client's encodings are granted by the trial when its threat
        model says so (``extra['mix_index']``, ``extra['mix_weight']``)."""
        return DefenseKnowledge(name=self.name, params=self.describe(), extra={"decode": "mixup",
                                                                               "signed": self.signed})

    def defend_batch(self, batch: ClientBatch, context: ClientContext) -> ClientBatch:
        return mix_batch(batch, context, k=self.k, max_weight=self.max_weight)
