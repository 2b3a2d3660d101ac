"""Train a classifier (the victim, the MA model or the evaluator) as a LightningModule, DP-SGD included."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import lightning as L
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader, TensorDataset

from fedpriv.data.bundle import DatasetBundle, ImageSet
from fedpriv.defenses.base import Defense, TrainingSetup
from fedpriv.utils.bars import TrainingBar
from fedpriv.utils.runtime import quiet_lightning, trainer_kwargs


class ClassifierModule(L.LightningModule):
    """Cross-entropy training on uint8 batches, normalised (and optionally defended) inside the step."""

    def __init__(self, net: nn.Module, optimizer: torch.optim.Optimizer, normalize: Callable[[Tensor], Tensor],
                 input_transform: Optional[Callable[[Tensor, Tensor], Tensor]] = None):
        super().__init__()
        self.net = net
        self._optimizer = optimizer
        self._normalize = normalize
        self._input_transform = input_transform

    def forward(self, x):
        return self.net(x)

    def training_step(self, batch, batch_idx):
        images, labels = batch
        if len(labels) == 0:  # Poisson sampling can draw an empty batch
            return None
        if self._input_transform is not None:
            images = self._input_transform(images, labels)
        logits = self.net(self._normalize(images))
        loss = F.cross_entropy(logits, labels)
        self.log("train_loss", loss, prog_bar=True, batch_size=len(labels))
        self.log("train_acc", (logits.argmax(1) == labels).float().mean(), prog_bar=True, batch_size=len(labels))
        return loss

    def configure_optimizers(self):
        return self._optimizer


def make_optimizer(params, training) -> torch.optim.Optimizer:
    if training.optimizer == "sgd":
        return torch.optim.SGD(params, lr=training.lr, momentum=training.momentum, weight_decay=training.weight_decay)
    return torch.optim.Adam(params, lr=training.lr, weight_decay=training.weight_decay)


@dataclass
class TrainingResult:
    test_accuracy: float
    epsilon: Optional[float]


def training_setup(net: nn.Module, data: DatasetBundle, training, defense: Defense, *, epochs: int,
                   seed: int) -> tuple[ClassifierModule, TrainingSetup]:
    """The module and loader that train ``net`` under ``defense``; also what the time estimate calibrates on."""
    generator = torch.Generator().manual_seed(seed)
    dataset = TensorDataset(data.train.images, data.train.labels)
    loader = DataLoader(dataset, batch_size=training.batch_size, shuffle=True, generator=generator)
    optimizer = make_optimizer(net.parameters(), training)
    setup = defense.private_training(net, optimizer, loader, epochs=epochs)

    transform = None
    if defense.train_on_defended:
        aug_generator = torch.Generator().manual_seed(seed + 1)
        transform = lambda images, labels: defense.defend_inputs(images.cpu(), labels.cpu(), generator=aug_generator).to(images.device)
    return ClassifierModule(setup.module, setup.optimizer, data.normalize, transform), setup


def train_classifier(net: nn.Module, data: DatasetBundle, training, defense: Defense, *, epochs: int, seed: int,
                     device: torch.device, progress: bool, role: str = "classifier") -> TrainingResult:
    """Train ``net`` in place on ``data.train`` under ``defense`` and report its clean test accuracy and epsilon."""
    quiet_lightning()
    L.seed_everything(seed, workers=True, verbose=False)
    module, setup = training_setup(net, data, training, defense, epochs=epochs, seed=seed)
    trainer = L.Trainer(max_epochs=epochs, **trainer_kwargs(device, progress=TrainingBar(role, enabled=progress)))
    trainer.fit(module, train_dataloaders=setup.loader)
    epsilon = setup.epsilon() if setup.epsilon is not None else None
    if setup.module is not net and hasattr(setup.module, "_close"):
        setup.module._close()  # drop Opacus' per-sample hooks so the trained net behaves as a plain module
    net.to(device)
    accuracy = float((predict(net, data.test.images, data.normalize, device) == data.test.labels.to(device)).float().mean())
    return TrainingResult(test_accuracy=accuracy, epsilon=epsilon)


@torch.no_grad()
def predict(net: nn.Module, images: Tensor, normalize: Callable[[Tensor], Tensor], device: torch.device,
            batch_size: int = 512) -> Tensor:
    """Predicted classes of uint8 images (or of model-space floats, passed through unnormalised)."""
    was_training = net.training
    net.eval()
    out = []
    for chunk in images.split(batch_size):
        chunk = chunk.to(device)
        x = normalize(chunk) if chunk.dtype == torch.uint8 else chunk
        out.append(net(x).argmax(1))
    net.train(was_training)
    return torch.cat(out) if out else torch.empty(0, dtype=torch.long, device=device)
