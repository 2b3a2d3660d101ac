"""Train a classifier (the victim, the MA model or the evaluator) as a LightningModule, DP-SGD included."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Optional

import lightning as L
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import DataLoader, TensorDataset

from fedpriv.data.bundle import DatasetBundle
from fedpriv.data.targets import other_data
from fedpriv.defenses.base import Defense, TrainingSetup, UpdateDefense
from fedpriv.defenses.client import ClientBatch, ClientContext
from fedpriv.utils.bars import TrainingBar
from fedpriv.utils.runtime import quiet_lightning, trainer_kwargs


class ClassifierModule(L.LightningModule):
    """Cross-entropy training on uint8 batches, normalised inside the step, under the client's defense: its
    data side on each batch (when it trains on defended data), its update side on each step's gradients (when
    it runs in training) and its extra loss term."""

    def __init__(self, net: nn.Module, optimizer: torch.optim.Optimizer, normalize: Callable[[Tensor], Tensor],
                 client: Optional["TrainingClient"] = None):
        super().__init__()
        self.net = net
        self._optimizer = optimizer
        self._normalize = normalize
        self._client = client
        self._last: Optional[tuple[Tensor, Tensor]] = None

    def forward(self, x):
        return self.net(x)

    def training_step(self, batch, batch_idx):
        images, labels = batch
        if len(labels) == 0:  # Poisson sampling can draw an empty batch
            return None
        targets = labels
        if self._client is not None and self._client.defense.train_on_defended:
            defended = self._client.defend_batch(images, labels, epoch=self.current_epoch)
            images, targets, labels = (t.to(labels.device) for t in (defended.images, defended.targets, defended.labels))
        x = self._normalize(images)
        logits = self.net(x)
        loss = F.cross_entropy(logits, targets)  # targets: class indices, or probabilities (Mixup, InstaHide)
        extra = self._client.defense.training_loss(self.net, logits, targets) if self._client is not None else None
        if extra is not None:
            loss = loss + extra
        self._last = (x, targets)
        self.log("train_loss", loss, prog_bar=True, batch_size=len(labels))
        self.log("train_acc", (logits.argmax(1) == labels).float().mean(), prog_bar=True, batch_size=len(labels))
        return loss

    def on_after_backward(self):
        if self._client is not None and self._client.defense.update_in_training and self._last is not None:
            self._client.defend_gradients(self.net, *self._last)

    def configure_optimizers(self):
        return self._optimizer


class TrainingClient:
    """The defense of a client training the classifier: seeded generators for its data and update sides, and the
    rest of the training split as the client's other data."""

    def __init__(self, defense: Defense, data: DatasetBundle, *, seed: int):
        self.defense, self.data = defense, data
        self.batch_generator = torch.Generator().manual_seed(seed + 1)
        self.update = UpdateDefense(defense, torch.Generator().manual_seed(seed + 2), purpose="training")
        self.other_data = other_data(data.train.images, data.train.labels, torch.arange(len(data.train)))

    def defend_batch(self, images: Tensor, labels: Tensor, *, epoch: int) -> ClientBatch:
        context = ClientContext(generator=self.batch_generator, num_classes=self.data.num_classes,
                                purpose="training", other_data=self.other_data, epoch=epoch)
        return self.defense.defend_batch(ClientBatch.from_uint8(images.cpu(), labels.cpu()), context)

    def defend_gradients(self, net: nn.Module, x: Tensor, targets: Tensor) -> None:
        """Replace the gradients just back-propagated by what the defense lets out of this step."""
        params = [p for p in net.parameters() if p.requires_grad]
        gradients = [p.grad if p.grad is not None else torch.zeros_like(p) for p in params]
        defended = self.update(gradients, model=net, inputs=x.detach(), targets=targets.detach())
        if defended is not gradients:
            for p, g in zip(params, defended):
                p.grad = g.detach().to(p.dtype)


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
    return ClassifierModule(setup.module, setup.optimizer, data.normalize, TrainingClient(defense, data, seed=seed)), setup


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
