"""Small pieces of a trial that need no trial state: the server's side information, MA on the shared inputs, the
attacked model's accuracy, and the labels loggers file a trial under (kept out of :mod:`fedpriv.trial` so that
module reads as the trial's flow)."""

from __future__ import annotations

import torch
from torch import Tensor

from fedpriv.attacks.base import ServerKnowledge
from fedpriv.data.targets import TargetBatch
from fedpriv.training.builders import model_name
from fedpriv.training.classifier import predict


PUBLIC_IMAGES = 2048


def _server_knowledge(data, device, seed) -> ServerKnowledge:
    """The server's side information: the task's shapes and a seeded sample of the training split."""
    pick = torch.randperm(len(data.train), generator=torch.Generator().manual_seed(seed))[:PUBLIC_IMAGES]
    return ServerKnowledge(shape=tuple(data.shape), num_classes=data.num_classes, bounds=data.bounds(device),
                           public_images=data.normalize(data.train.images[pick]).to(device), device=device, seed=seed)


def _model_correct(classifier, data, batches: list[TargetBatch], device) -> Tensor:
    """Whether the defended classifier gets each defended input right (MA), in the order of ``batches``."""
    if not batches:
        return torch.zeros(0, dtype=torch.bool)
    defended = data.normalize(torch.cat([b.batch.images for b in batches]))
    labels = torch.cat([b.batch.labels for b in batches])
    return predict(classifier, defended, data.normalize, device).cpu() == labels


VICTIM_PROBE = 2000


def _accuracy(model, data, device) -> float:
    """Clean test accuracy of the attacked model (on up to 2,000 test images): how trained it is."""
    images, labels = data.test.images[:VICTIM_PROBE], data.test.labels[:VICTIM_PROBE]
    return float((predict(model, images, data.normalize, device).cpu() == labels).float().mean())


def _labels(cfg, dataset: str, protocol, defense, attack) -> dict:
    """What a trial is, for loggers: its kind (the defense) and tags to filter on."""
    described = defense.describe()
    tags = [dataset, model_name(cfg.model), protocol.name, defense.name, attack.name]
    tags += [f"{k}={v}" for k, v in described.items() if v not in ("", None)]
    return {"job_type": defense.name, "tags": tags}


def _victim_trained(cfg) -> bool:
    return bool(cfg.victim.checkpoint) or cfg.victim.train_epochs > 0 or cfg.fl.get("rounds", 0) > 0
