"""Build the models of a trial: untrained, loaded from a file, or trained under the defense (and cached)."""

from __future__ import annotations

import dataclasses
import logging

import torch
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf
from torch import nn

from fedpriv.data.bundle import DatasetBundle
from fedpriv.defenses.base import Defense
from fedpriv.training.cache import ModelCache
from fedpriv.training.classifier import train_classifier

log = logging.getLogger(__name__)


def build_model(model_cfg: DictConfig, data: DatasetBundle, defense: Defense, *, seed: int) -> nn.Module:
    """A freshly initialised model (seeded, without touching the global RNG), adapted to the defense."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = instantiate(model_cfg, in_shape=tuple(data.shape), num_classes=data.num_classes)
    return defense.adapt_model(net)


def _dataset_key(dataset_cfg: DictConfig) -> dict:
    """The dataset's identity for the model cache: its config without where it lives on this machine."""
    key = OmegaConf.to_container(dataset_cfg, resolve=True)
    key.pop("download", None)
    key.pop("root", None)
    return key


def training_key(role: str, *, model_cfg: DictConfig, dataset_cfg: DictConfig, training_cfg: DictConfig,
                 defense: Defense, epochs: int, seed: int) -> dict:
    """Everything that defines a trained model's weights: its cache key."""
    return {
        "role": role,
        "dataset": _dataset_key(dataset_cfg),
        "model": OmegaConf.to_container(model_cfg, resolve=True),
        "training": {**OmegaConf.to_container(training_cfg, resolve=True), "epochs": epochs},
        "defense": defense.training_signature(),
        "seed": seed,
    }


def trained_model(role: str, *, model_cfg: DictConfig, dataset_cfg: DictConfig, training_cfg: DictConfig,
                  data: DatasetBundle, defense: Defense, epochs: int, seed: int, cache: ModelCache,
                  device: torch.device, progress: bool) -> tuple[nn.Module, dict]:
    """A model trained for ``epochs`` under ``defense``, from the cache when an identical one was trained before."""
    net = build_model(model_cfg, data, defense, seed=seed)
    key = training_key(role, model_cfg=model_cfg, dataset_cfg=dataset_cfg, training_cfg=training_cfg,
                       defense=defense, epochs=epochs, seed=seed)
    training_ns = OmegaConf.create(key["training"])

    def train(model: nn.Module) -> dict:
        result = train_classifier(model, data, training_ns, defense, epochs=epochs, seed=seed, device=device,
                                  progress=progress, role=role)
        log.info("%s trained: test accuracy %.3f%s", role, result.test_accuracy,
                 "" if result.epsilon is None else f", epsilon {result.epsilon:.3g}")
        return dataclasses.asdict(result)

    meta = cache.get_or_train(role, key, net, train)
    return net.to(device), meta


def model_name(model_cfg) -> str:
    """A model config's short name (``lenet``, ``convnet``...): its class's ``name``, else the class name."""
    from hydra.utils import get_class

    return getattr(get_class(model_cfg._target_), "name", model_cfg._target_.rsplit(".", 1)[-1].lower())
