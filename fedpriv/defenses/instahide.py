"""InstaHide (Huang et al. 2020) on a client's private data: Mixup followed by a random sign flip of every pixel.

InstaHide flips signs of images centred on zero (pixels in [-1, 1]); a flip of ``2x - 1`` maps back to pixel
space as ``1 - x``, so the encoding is kept in [0, 1] as ``x`` where the sign is +1 and ``1 - x`` where it is -1.
The model then sees it normalised like any image, which is InstaHide's encoding up to the affine normalisation
every input goes through, and attacks reconstruct it inside the usual pixel box. The flips are drawn per pixel and
channel from the context's seeded generator (so they are reproducible) and kept in ``info['sign']``.
"""

from __future__ import annotations

import torch

from fedpriv.defenses.client import ClientBatch, ClientContext
from fedpriv.defenses.mixing import MixingDefense, mix_batch


def random_signs(shape: torch.Size, generator: torch.Generator) -> torch.Tensor:
    """+1/-1 with equal probability, as int8."""
    return (torch.randint(0, 2, tuple(shape), generator=generator, dtype=torch.int8) * 2 - 1).to(torch.int8)


def flip(images: torch.Tensor, sign: torch.Tensor) -> torch.Tensor:
    """InstaHide's sign flip of ``2x - 1`` expressed in pixel space: ``x`` where ``sign`` is +1, ``1 - x`` else."""
    return torch.where(sign.to(images.device) > 0, images, 1 - images)


class InstaHide(MixingDefense):
    """Mixup of ``k`` private images, then a random sign flip of every pixel of the mixture.

    Args:
        k / max_weight / train_on_defended: see :class:`fedpriv.defenses.mixing.MixingDefense` (seed 003: k = 4
            or 6, max_weight = 0.65).
    """

    name = "instahide"
    signed = True

    def defend_batch(self, batch: ClientBatch, context: ClientContext) -> ClientBatch:
        mixed = mix_batch(batch, context, k=self.k, max_weight=self.max_weight)
        sign = random_signs(mixed.images.shape, context.generator)
        return mixed.with_(images=flip(mixed.images, sign), info={"sign": sign})
