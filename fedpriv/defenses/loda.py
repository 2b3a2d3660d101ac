"""LODA, learning to obscure data (Wan et al.; seed 003): every private image is replaced, once and before any
training, by an image that keeps the hidden features of a frozen public extractor while lying far from it in
pixels (:mod:`fedpriv.defenses.loda_encode`); the client trains only on these, labels kept.

The defense is data side only: the same image always gets the same obscured version, wherever it is used
(training the utility classifier, the attacked update, FedAvg rounds), since the client encodes its data once.
Its knowledge grants an adaptive attacker the extractor and its layers (:mod:`fedpriv.attacks.loda_inverse`).
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Any, ClassVar, Optional

import torch
from torch import Tensor

from fedpriv.config.constraints import OneOf, Range
from fedpriv.config.validate import ConfigError
from fedpriv.defenses.base import Defense
from fedpriv.defenses.client import ClientBatch, ClientContext, DefenseKnowledge
from fedpriv.defenses.loda_encode import (LAYER_SETS, EncodingStore, conv_layers, feature_function, obscure,
                                          weights_hash)
from fedpriv.defenses.loda_public import EXTRACTORS, extractor_model, public_images, public_problems

CHUNK = 256  # images obscured together (memory bound of one batched descent)


class Loda(Defense):
    """Replace each private image by its LODA encoding.

    Args:
        c: weight of the pixel-distance term (the paper: 20 for LODA1, 30 for LODA2 on CIFAR-10); larger moves
            the image further from the original at more cost to the features, so to accuracy.
        layers: ``loda1`` (the first five convolutions' outputs) or ``loda2`` (all convolutions').
        tau: step of the normalised gradient descent (L2 length of each step of an image).
        steps: descent steps T (the paper: 500).
        extractor: architecture of ``g``: ``convnet`` (Geiping's ConvNet, width ``extractor_width``) or
            ``resnet18`` (the paper's).
        extractor_width / extractor_epochs: the ConvNet's width and the epochs ``g`` is trained on the pool.
        public: the public data: ``source`` (``disjoint_train`` or ``cifar100``, see
            :mod:`fedpriv.defenses.loda_public`), ``root``, ``per_class``, ``seed``, and for ``disjoint_train``
            the private subset to avoid (``exclude_per_class``, ``exclude_seed``).
        seed: seeds the extractor's training and each image's choice of starting public image.
        cache_dir: where the extractor and the encodings are cached (the trial's ``paths.cache_dir``).
        train_on_defended: train the utility classifier on the obscured images (the defense's use).
    """

    name: ClassVar[str] = "loda"
    columns: ClassVar[tuple[str, ...]] = ("layers", "c", "steps", "tau")

    def __init__(self, *, c: Annotated[float, Range(0)] = 20.0, layers: Annotated[str, OneOf(LAYER_SETS)] = "loda1",
                 tau: Annotated[float, Range(0, None, low_open=True)] = 0.1, steps: Annotated[int, Range(1)] = 500,
                 extractor: Annotated[str, OneOf(tuple(EXTRACTORS))] = "convnet",
                 extractor_width: Annotated[int, Range(1, 512)] = 16,
                 extractor_epochs: Annotated[int, Range(1)] = 5, public: Optional[dict] = None, seed: int = 0,
                 cache_dir: Optional[str] = None, train_on_defended: bool = True):
        public = dict(public or {})
        problems = public_problems(public)
        if problems:
            raise ConfigError(problems)
        self.c, self.layers, self.tau, self.steps = float(c), layers, float(tau), int(steps)
        self.extractor, self.extractor_width, self.extractor_epochs = extractor, extractor_width, extractor_epochs
        self.public, self.seed, self.cache_dir = public, int(seed), cache_dir
        self.train_on_defended = train_on_defended
        self._g = None
        self._store: Optional[EncodingStore] = None

    def describe(self, class_id=None) -> dict[str, Any]:
        return {"layers": self.layers, "c": self.c, "steps": self.steps, "tau": self.tau}

    def _extractor_identity(self) -> dict:
        public = {k: self.public[k] for k in sorted(self.public) if k not in ("root", "download")}
        return {"extractor": self.extractor, "width": self.extractor_width, "epochs": self.extractor_epochs,
                "public": public, "seed": self.seed}

    def training_signature(self):
        if not self.train_on_defended:
            return {}
        return {self.name: {**self.describe(), **self._extractor_identity()}}

    def knowledge(self, update_gradients: list[Tensor]) -> DefenseKnowledge:
        """Name and parameters; the attacker knows ``g`` and its layers (the trial hands it over through
        :meth:`features`)."""
        return DefenseKnowledge(name=self.name, params=self.describe(), extra={"decode": "loda_inverse"})

    # -- the extractor and the encodings, built on first use ------------------------------------------------
    def _setup(self) -> None:
        if self._store is not None:
            return
        device = torch.device("cpu")
        self.pool = public_images(self.public)
        net, bundle, self.extractor_meta = extractor_model(
            public=self.public, extractor=self.extractor, width=self.extractor_width, epochs=self.extractor_epochs,
            seed=self.seed, cache_dir=self.cache_dir or "~/.cache/fedpriv", pool=self.pool, device=device)
        self.layer_names = conv_layers(net, self.layers)
        self._g = feature_function(net, self.layer_names, bundle.normalize)
        setting = {"weights": weights_hash(net), "layers": self.layer_names, "c": self.c, "tau": self.tau,
                   "steps": self.steps, "seed": self.seed, "public": self._extractor_identity()["public"]}
        self._store = EncodingStore(self.cache_dir, setting, self._encode)

    def features(self):
        """``g``: [0, 1] images to the list of matched feature maps (what the adaptive attacker is granted)."""
        self._setup()
        return self._g

    def start_images(self, keys: list[str]) -> Tensor:
        """Each image's starting public image, picked by a hash of its pixels and the seed (so its encoding does
        not depend on which batch it arrives in)."""
        picks = [int(hashlib.sha1(f"{key}:{self.seed}".encode()).hexdigest(), 16) % len(self.pool) for key in keys]
        return self.pool.images[torch.tensor(picks)].float() / 255

    def _encode(self, images: Tensor, keys: list[str]) -> Tensor:
        out = []
        for start in range(0, len(images), CHUNK):
            part = slice(start, start + CHUNK)
            out.append(obscure(self._g, images[part], self.start_images(keys[part]), c=self.c, tau=self.tau,
                               steps=self.steps))
        return torch.cat(out)

    def obscure_images(self, images: Tensor) -> Tensor:
        """The obscured versions of float [0, 1] images, from the cache where encoded before."""
        self._setup()
        return self._store(images.cpu())

    def defend_batch(self, batch: ClientBatch, context: ClientContext) -> ClientBatch:
        obscured = self.obscure_images(batch.images.float()).to(batch.images.device)
        return batch.with_(images=obscured)
