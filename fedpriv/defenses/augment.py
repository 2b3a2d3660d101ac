"""Augmentation as a defense (seed 000): one operation at one magnitude, or a per-class policy."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fedpriv.config.constraints import OneOf, Range
from fedpriv.config.validate import ConfigError
from fedpriv.defenses.augment_ops import CONVENTIONS, MAX_LEVEL, OP_NAMES, apply_op, channel_problem, random_signs
from fedpriv.defenses.base import Defense
from fedpriv.defenses.client import ClientBatch, ClientContext

Op = Annotated[str, OneOf(OP_NAMES)]
Magnitude = Annotated[int, Range(0, MAX_LEVEL)]
Convention = Annotated[str, OneOf(CONVENTIONS)]


class Augment(Defense):
    """Apply one augmentation to the client's images before it computes its update.

    Args:
        op: one of the 14 operations in :mod:`fedpriv.defenses.augment_ops` (where each scale is documented).
        magnitude: 0 (identity) to 9 (strongest).
        random_sign: draw the direction of signed operations per image (seeded), as ATSPrivacy and RandAugment do.
        train_on_defended: train classifiers on augmented images too (default: seed 000's pretrained model on
            clean data, evaluated on augmented inputs).
        convention: ``pil``, the seed's code base (ATSPrivacy's PIL policy: shears about the top-left corner,
            positive rotations, its ranges), or ``torchvision`` (centred shears, signed rotations, AutoAugment's
            ranges); both are tabled in :mod:`fedpriv.defenses.augment_ops`.
    """

    name = "augment"
    columns = ("op", "magnitude")

    def __init__(self, *, op: Op, magnitude: Magnitude = 5, random_sign: bool = True, train_on_defended: bool = False,
                 convention: Convention = "pil"):
        self.op = op
        self.magnitude = magnitude
        self.random_sign = random_sign
        self.train_on_defended = train_on_defended
        self.convention = convention

    @classmethod
    def input_problems(cls, *, channels: int, op: str = "", **_) -> list[str]:
        problem = channel_problem(op, channels)
        return [f"op={problem}"] if problem else []

    def describe(self, class_id=None):
        return {"op": self.op, "magnitude": self.magnitude}

    def training_signature(self):
        if not self.train_on_defended:
            return {}
        return {"augment": [self.op, self.magnitude, self.random_sign, self.convention]}

    def defend_batch(self, batch: ClientBatch, context: ClientContext) -> ClientBatch:
        # The operations are defined on uint8 images (PIL's, ATSPrivacy's); the round trip is exact.
        images = batch.to_uint8()
        signs = random_signs(len(images), context.generator) if self.random_sign else None
        return batch.with_(images=apply_op(images, self.op, self.magnitude, signs, convention=self.convention).float() / 255)


@dataclass
class ClassPolicy:
    op: Op = "solarize"
    magnitude: Magnitude = 0


class AugmentPerClass(Defense):
    """A per-class policy: images of each listed class get that class's (op, magnitude); others stay as they are.

    Args:
        policy: class name (or index) -> ``{op, magnitude}``; seed 000's Table 3 is the experiment preset
            ``seed000_cifar10_table3``.
        random_sign / train_on_defended / convention: as for :class:`Augment`.
    """

    name = "augment_per_class"
    columns = ("op", "magnitude")

    def __init__(
        self,
        *,
        policy: dict[str, ClassPolicy],
        random_sign: bool = True,
        train_on_defended: bool = False,
        convention: Convention = "pil",
    ):
        self.policy = {str(k): (v["op"], int(v["magnitude"])) if isinstance(v, dict) else (v.op, v.magnitude) for k, v in policy.items()}
        self.random_sign = random_sign
        self.train_on_defended = train_on_defended
        self.convention = convention
        self._by_class: dict[int, tuple[str, int]] = {}

    @classmethod
    def input_problems(cls, *, channels: int, policy: dict | None = None, **_) -> list[str]:
        if not isinstance(policy, dict):  # a malformed policy is reported by the per-key checks
            return []
        ops = {name: entry.get("op") for name, entry in policy.items() if isinstance(entry, dict)}
        problems = [(name, channel_problem(op, channels)) for name, op in ops.items()]
        return [f"policy.{name}.op={problem}" for name, problem in problems if problem]

    def bind(self, classes):
        unknown = [k for k in self.policy if k not in classes and not (k.isdigit() and int(k) < len(classes))]
        if unknown:
            raise ConfigError([f"defense.policy has unknown classes {unknown}; allowed: {', '.join(classes)}"])
        self._by_class = {(classes.index(k) if k in classes else int(k)): v for k, v in self.policy.items()}

    def describe(self, class_id=None):
        if class_id is None or class_id not in self._by_class:
            return {"op": "", "magnitude": 0 if class_id is not None else ""}
        op, magnitude = self._by_class[class_id]
        return {"op": op, "magnitude": magnitude}

    def training_signature(self):
        if not self.train_on_defended:
            return {}
        return {"policy": sorted(self.policy.items()), "random_sign": self.random_sign, "convention": self.convention}

    def defend_batch(self, batch: ClientBatch, context: ClientContext) -> ClientBatch:
        images, labels = batch.to_uint8(), batch.labels
        signs = random_signs(len(images), context.generator) if self.random_sign else None
        out = images.clone()
        for class_id, (op, magnitude) in self._by_class.items():
            mask = labels == class_id
            if mask.any():
                out[mask] = apply_op(images[mask], op, magnitude, None if signs is None else signs[mask],
                                     convention=self.convention)
        return batch.with_(images=out.float() / 255)
