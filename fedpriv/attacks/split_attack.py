"""Attacks on split learning's activations (``fl=split``): a generative decoder and a white-box inversion.

The server of split learning receives the activations of each client batch at the cut and, having averaged the
client parts, knows the encoder's weights (:mod:`fedpriv.fl.split`). Two ways to turn activations back into
images:

- :class:`GenerativeDecoder` (``attack=decoder``, seed 004's GD attack): train a decoder that mirrors the encoder
  on the server's own prior images (:mod:`fedpriv.attacks.split_prior`), then decode the victims' activations in
  one forward pass. It needs data like the clients' but no optimisation per victim.
- :class:`ActivationInversion` (``attack=activation_inversion``): optimise candidate images until the encoder's
  activations match the shared ones, through the same engine as the gradient attacks (the protocol's ``simulate``
  returns activations instead of a gradient). It needs no prior data: the white-box baseline.
"""

from __future__ import annotations

import time
from typing import Annotated, Optional

import torch
from torch import Tensor

from fedpriv.attacks.base import Attack, AttackProblem, Reconstruction, ServerKnowledge
from fedpriv.attacks.optimization import OptimizationAttack
from fedpriv.attacks.split_prior import PRIORS, MirrorDecoder, conform, fit_decoder, load_prior
from fedpriv.config.constraints import OneOf, Range


class ActivationAttack(Attack):
    """An attack that reads the activations of ``fl=split`` rather than a gradient (checked before a trial runs)."""


def _to_pixels(x: Tensor, bounds: tuple[Tensor, Tensor]) -> Tensor:
    low, high = (b.to(x.device) for b in bounds)
    return ((x - low) / (high - low)).clamp(0, 1)


def _to_model(x: Tensor, bounds: tuple[Tensor, Tensor]) -> Tensor:
    low, high = (b.to(x.device) for b in bounds)
    return low + x * (high - low)


class GenerativeDecoder(ActivationAttack):
    """Decode the victims' activations with a decoder trained on the server's prior images.

    Args:
        prior: the dataset the server trains the decoder on: ``same`` (the task's own training split, disjoint
            from the attacked test images), or a dataset config name (``fashion_mnist`` for an MNIST federation).
            Images are converted to the task's channels and size.
        prior_root: where that dataset lives (null: ``$FEDPRIV_DATA_DIR/<prior>``); ignored for ``same``.
        prior_images: prior images the decoder is trained on (``same`` holds at most the server's 2,048).
        epochs / lr / batch_size: the decoder's training: pixel MSE with Adam (seed 004: lr 1e-4, 50 epochs).
    """

    name = "decoder"

    def __init__(
        self,
        *,
        prior: Annotated[str, OneOf(PRIORS)] = "same",
        prior_root: Optional[str] = None,
        prior_images: Annotated[int, Range(1)] = 4000,
        epochs: Annotated[int, Range(1, 10_000)] = 20,
        lr: Annotated[float, Range(0, None, low_open=True)] = 1e-3,
        batch_size: Annotated[int, Range(1, 65536)] = 64,
    ):
        self.prior, self.prior_root, self.prior_images = prior, prior_root, prior_images
        self.epochs, self.lr, self.batch_size = epochs, lr, batch_size
        self._public: Optional[Tensor] = None
        self._seed = 0
        self.training_info: dict = {}

    def prepare_model(self, model, knowledge: ServerKnowledge):
        """Honest server: the model goes out unchanged; its public sample is the ``same`` prior."""
        self._public = _to_pixels(knowledge.public_images, knowledge.bounds).cpu()
        self._seed = knowledge.seed
        return model

    def prior_pixels(self, shape: tuple[int, int, int]) -> Tensor:
        """The prior images in [0, 1], in the task's shape."""
        if self.prior == "same":
            if self._public is None:
                raise RuntimeError("attack.prior=same needs the server's public sample (prepare_model first)")
            return conform(self._public[: self.prior_images], shape)
        return conform(load_prior(self.prior, root=self.prior_root, count=self.prior_images, seed=self._seed), shape)

    def train_decoder(self, problem: AttackProblem) -> tuple[MirrorDecoder, Tensor]:
        """A decoder for ``problem``'s encoder fitted on the prior, and the prior's mean image (the floor a decoder
        must beat: the best guess that ignores the activations)."""
        encoder = problem.protocol.client_part(problem.model)
        images = self.prior_pixels(problem.shape)
        with torch.no_grad():
            activations = torch.cat([encoder(_to_model(chunk.to(problem.device), problem.bounds)).cpu()
                                     for chunk in images.split(512)])
        torch.manual_seed(problem.seed)
        decoder = MirrorDecoder(encoder, problem.shape)
        start = time.perf_counter()
        losses = fit_decoder(decoder, activations, images, epochs=self.epochs, lr=self.lr,
                             batch_size=self.batch_size, seed=problem.seed)
        self.training_info = {"decoder_seconds": time.perf_counter() - start, "decoder_loss": losses[-1],
                              "prior_images": len(images)}
        return decoder, images.mean(0, keepdim=True)

    def reconstruct_many(self, problems: list[AttackProblem]) -> list[Reconstruction]:
        if not problems:
            return []
        decoder, mean_image = self.train_decoder(problems[0])
        share = self.training_info["decoder_seconds"] / len(problems)
        out = []
        for problem in problems:
            start = time.perf_counter()
            with torch.no_grad():
                pixels = decoder(problem.update.gradients[0].cpu())
            images = _to_model(pixels, problem.bounds).to(problem.device)
            initial = _to_model(mean_image.expand_as(pixels), problem.bounds).to(problem.device)
            labels = problem.labels if problem.labels is not None else torch.zeros(len(images), dtype=torch.long)
            out.append(Reconstruction(images=images, labels=labels, initial=initial, info={
                "attack_seconds": time.perf_counter() - start + share, **self.training_info}))
        return out

    def reconstruct(self, problem: AttackProblem) -> Reconstruction:
        return self.reconstruct_many([problem])[0]


class ActivationInversion(OptimizationAttack, ActivationAttack):
    """Find images whose activations at the cut match the shared ones (white-box, no prior data).

    The options are the optimisation attacks' (:class:`~fedpriv.attacks.optimization.OptimizationAttack`); the
    defaults in ``conf/attack/activation_inversion.yaml`` match with the squared Euclidean distance under Adam with
    a total-variation prior. Labels play no part in the activations, so ``labels: given`` costs nothing.
    """

    name = "activation_inversion"
