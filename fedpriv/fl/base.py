"""What the server receives from the target client, and the user-side protocols that produce it."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Annotated, Any, Callable, ClassVar, Optional

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.func import functional_call, grad, vmap

from fedpriv.config.constraints import OneOf, Range
from fedpriv.defenses.base import UpdateDefense
from fedpriv.fl.partition import PARTITIONS
from fedpriv.fl.rounds import FederatedRun
from fedpriv.flower import INSTALL_HINT, flower_available


@dataclass
class SharedUpdate:
    """The target client's contribution as the server sees it.

    ``gradients`` holds one tensor per parameter of the model, in ``model.parameters()`` order. For FedSGD it
    is the gradient of the mean loss over the client's batch; protocols that share weight differences state so
    in ``kind`` and describe their local training in ``info`` (local steps, learning rate, client count), and
    their :meth:`Protocol.gradient_equivalent` turns the update back into gradient units. ``batch_size`` counts
    every image behind the update (all clients' images for an aggregate); ``labels``, when set, are those
    images' labels in the order ``simulate`` takes them, for threat models that grant the server the labels.
    """

    gradients: list[Tensor]
    batch_size: int
    kind: str = "gradient"
    info: dict[str, Any] = field(default_factory=dict)
    labels: Optional[Tensor] = None


def batch_gradients(model: nn.Module, x: Tensor, labels: Tensor) -> list[Tensor]:
    """Gradients of the mean cross-entropy; ``labels`` are class indices or class probabilities."""
    loss = F.cross_entropy(model(x), labels)
    return list(torch.autograd.grad(loss, [p for p in model.parameters()]))


def per_sample_gradients(model: nn.Module, x: Tensor, labels: Tensor) -> list[Tensor]:
    """Per-example gradients ``(B, *param.shape)`` via ``torch.func`` (needs a model without BatchNorm)."""
    params = {k: v.detach() for k, v in model.named_parameters()}
    buffers = {k: v.detach() for k, v in model.named_buffers()}

    def loss_one(p, b, xi, yi):
        out = functional_call(model, (p, b), (xi.unsqueeze(0),))
        return F.cross_entropy(out, yi.unsqueeze(0))

    grads = vmap(grad(loss_one), in_dims=(None, None, 0, 0))(params, buffers, x, labels)
    return [grads[name] for name, _ in model.named_parameters()]


Population = Callable[[int, torch.Generator], tuple[Tensor, Tensor]]
"""Draws ``n`` images (model space) and labels of other clients, for protocols that mix several clients."""


def functional_loss(model: nn.Module, params: dict[str, Tensor], buffers: dict[str, Tensor], x: Tensor,
                    labels: Tensor) -> Tensor:
    """Cross-entropy of ``model`` with the given weights; ``labels`` are class indices or class probabilities."""
    return F.cross_entropy(functional_call(model, (params, buffers), (x,)), labels)


class Protocol:
    """A user-side FL protocol: how the target client turns its batch into the update the server sees.

    ``shared_update`` is what the client really computes (and its defense transforms). ``simulate`` is the
    attacker's differentiable replica of the same computation for candidate inputs, written with ``torch.func``
    so attacks can run it under ``vmap`` for many problems at once. ``population`` gives the protocol other
    clients' data when it aggregates several clients; protocols that see only the target client ignore it.

    Every protocol can be attacked at round t of a FedAvg run: the keyword arguments below describe that run
    (:class:`~fedpriv.fl.rounds.FederatedRun`); with ``rounds: 0`` the victim is whatever ``victim.*`` says.

    Who the attacker is depends on the federation's size. With three or more clients the attacker is the
    (honest-but-curious) server: it receives each client's update before aggregation and attacks one of them.
    With two clients the other client can play the same attack without any server access: it knows the global
    model before and after a round and its own update, so the difference is the victim's update (up to the
    aggregation weight of the two clients' data sizes). The shared update the attacks receive is the same either way; what
    changes is who must be trusted, and secure aggregation (``fl=secagg``) does not protect two clients, since
    the aggregate minus one's own update is the other's.

    Args:
        batch_size: images the target client holds in the attacked round.
        rounds: FedAvg rounds that train the global model before the attacked round.
        num_clients / clients_per_round: the federation's size and the clients the server samples per round
            (null: all of them).
        partition: how the training split is divided among clients: ``iid``, ``shards``, ``dirichlet`` or
            ``labels`` (disjoint label sets).
        shards_per_client: single-class shards per client (``shards``; 2 is McMahan et al.'s non-IID split).
        alpha: Dirichlet concentration (``dirichlet``): small is skewed, large is close to IID.
        labels_per_client: classes each client holds (``labels``); null deals out every class.
        round_epochs / round_lr / round_batch_size: the local training of each client in the rounds before the
            attack.
        round_optimizer: ``sgd`` or ``adam`` for that local training.
        engine: what runs those rounds: ``inprocess`` (fedpriv's own loop, the default) or ``flower`` (Flower's
            simulation runtime, ``pip install fedpriv[flower]``; see :mod:`fedpriv.flower.engine`).
    """

    name: ClassVar[str] = "protocol"
    batch_size: int = 1
    federation: FederatedRun = FederatedRun()

    def __init__(
        self,
        *,
        batch_size: Annotated[int, Range(1, 4096)] = 1,
        rounds: Annotated[int, Range(0, 100_000)] = 0,
        num_clients: Annotated[int, Range(1, 100_000)] = 10,
        clients_per_round: Annotated[Optional[int], Range(1, 100_000)] = None,
        partition: Annotated[str, OneOf(PARTITIONS)] = "iid",
        shards_per_client: Annotated[int, Range(1, 1000)] = 2,
        alpha: Annotated[float, Range(0, None, low_open=True)] = 0.5,
        round_epochs: Annotated[int, Range(1, 1000)] = 1,
        round_lr: Annotated[float, Range(0, None, low_open=True)] = 0.1,
        round_batch_size: Annotated[int, Range(1, 100_000)] = 32,
        labels_per_client: Annotated[Optional[int], Range(1, 100_000)] = None,
        round_optimizer: Annotated[str, OneOf(("sgd", "adam"))] = "sgd",
        engine: Annotated[str, OneOf(("inprocess", "flower"))] = "inprocess",
    ):
        self.batch_size = batch_size
        self.federation = FederatedRun(
            rounds=rounds, num_clients=num_clients, clients_per_round=clients_per_round, partition=partition,
            shards_per_client=shards_per_client, alpha=alpha, round_epochs=round_epochs, round_lr=round_lr,
            round_batch_size=round_batch_size, labels_per_client=labels_per_client, round_optimizer=round_optimizer,
            engine=engine)

    @classmethod
    def config_problems(cls, *, rounds: int = 0, num_clients: int = 10, clients_per_round: Optional[int] = None,
                        engine: str = "inprocess", **_) -> list[str]:
        """Checks across keys (the validator prefixes each message with ``fl.``)."""
        if rounds > 0 and clients_per_round is not None and clients_per_round > num_clients:
            return [f"clients_per_round={clients_per_round} exceeds num_clients={num_clients}; the server samples "
                    "the clients of a round from the federation"]
        if engine == "flower" and not flower_available():
            return [f"engine=flower needs Flower (flwr), which is not installed: {INSTALL_HINT}; "
                    "engine=inprocess needs nothing more"]
        return []

    def trial_problems(self, *, victim: Any, train_labels: Tensor) -> list[str]:
        """Conflicts with the rest of a trial's config, checked before anything is trained."""
        if self.federation.rounds == 0:
            return []
        problems = [f"fl.rounds={self.federation.rounds} trains the victim by FedAvg, so {key}={value!r} cannot "
                    f"also set it; use one of them (fl.rounds=0 keeps the victim.* behaviour)"
                    for key, value in (("victim.train_epochs", victim.train_epochs),
                                       ("victim.checkpoint", victim.checkpoint)) if value]
        return problems + self.federation.problems(train_labels)

    def model_problems(self, model: nn.Module) -> list[str]:
        """Conflicts with the attacked architecture (a cut layer it lacks), checked on an untrained copy."""
        return []

    # Images the attacker must reconstruct per shared update (more than batch_size when clients are aggregated).
    @property
    def reconstruct_size(self) -> int:
        return self.batch_size

    def gradient_equivalent(self, update: SharedUpdate) -> list[Tensor]:
        """``update`` in the units of one gradient of the mean loss, for rules that read labels from gradients."""
        return update.gradients

    def simulate(self, model: nn.Module, params: dict[str, Tensor], buffers: dict[str, Tensor], x: Tensor,
                 labels: Tensor) -> list[Tensor]:
        """The update this protocol shares for inputs ``x``, differentiable with respect to ``x``; ``labels``
        are class indices or class probabilities (soft targets of Mixup-like defenses).

        The default is one gradient of the mean loss (FedSGD), in ``model.named_parameters()`` order.
        """
        gradients = grad(lambda p: functional_loss(model, p, buffers, x, labels))(params)
        return [gradients[name] for name in params]

    def shared_update(self, model: nn.Module, x: Tensor, targets: Tensor, *, defense: UpdateDefense | None = None,
                      population: Population | None = None, generator: torch.Generator | None = None) -> SharedUpdate:
        """What the client shares for its (defended, model-space) inputs ``x`` and their hard ``(N,)`` or soft
        ``(N, K)`` ``targets``. ``defense`` is applied to the gradients of every local step (none: shared as
        computed); ``population`` and ``generator`` draw other clients' data for aggregating protocols."""
        raise NotImplementedError
