"""The shadow attack's per-class classifiers: member or not, from a model's sorted softmax output.

Sorting the probabilities removes which class is which, so one classifier reads how confident the model is and
how that confidence is spread, the signal an overfit model gives away on its training records (Shokri et al.
2017). ``mlp`` is a 4-layer perceptron (128 units, ReLU, dropout 0.2); ``logreg`` a logistic regression.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

HIDDEN = 128
DROPOUT = 0.2


def attack_features(logits: Tensor, kind: str = "probs") -> Tensor:
    """Sorted (descending) softmax outputs; ``log_probs`` their logarithms, which keep the differences between
    0.999 and 0.99999 that an overfit model's members and non-members show and raw probabilities squash."""
    if kind == "log_probs":
        return F.log_softmax(logits, dim=1).sort(dim=1, descending=True).values.clamp_min(-50.0)
    return F.softmax(logits, dim=1).sort(dim=1, descending=True).values


def make_classifier(kind: str, features: int) -> nn.Module:
    if kind == "logreg":
        return nn.Linear(features, 1)
    layers, width = [], features
    for _ in range(3):
        layers += [nn.Linear(width, HIDDEN), nn.ReLU(), nn.Dropout(DROPOUT)]
        width = HIDDEN
    return nn.Sequential(*layers, nn.Linear(width, 1))


def fit_classifier(kind: str, x: Tensor, y: Tensor, *, epochs: int, lr: float, seed: int,
                   batch_size: int = 64) -> nn.Module:
    """Train a member/non-member classifier on features ``x`` and labels ``y`` (1: member), seeded."""
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        net = make_classifier(kind, x.shape[1])
        generator = torch.Generator().manual_seed(seed)
        optimizer = torch.optim.Adam(net.parameters(), lr=lr)
        net.train()
        for _ in range(epochs):
            for batch in torch.randperm(len(y), generator=generator).split(batch_size):
                optimizer.zero_grad()
                loss = F.binary_cross_entropy_with_logits(net(x[batch]).squeeze(1), y[batch].float())
                loss.backward()
                optimizer.step()
    return net.eval()


@torch.no_grad()
def member_probability(net: nn.Module, x: Tensor) -> Tensor:
    return torch.sigmoid(net(x).squeeze(1)) if len(x) else torch.zeros(0)
