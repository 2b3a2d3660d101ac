"""Mixup as a privacy defense (seed 003's baseline, GradAttack's ``MixupDefense``): each image is replaced by a
convex combination of itself and ``k - 1`` other private images of the client, its label by the same mixture of
one-hot labels. The mechanics live in :mod:`fedpriv.defenses.mixing`."""

from __future__ import annotations

from fedpriv.defenses.mixing import MixingDefense


class Mixup(MixingDefense):
    """Mix every private image with ``k - 1`` partners (Dirichlet weights capped at ``max_weight``).

    Args:
        k / max_weight / train_on_defended: see :class:`fedpriv.defenses.mixing.MixingDefense`.
    """

    name = "mixup"
