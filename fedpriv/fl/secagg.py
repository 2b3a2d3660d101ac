"""Secure aggregation: the server sees only the average of several clients' updates, never the target's alone.

With secure aggregation (Bonawitz et al. 2017) the server learns the sum of the updates of the round's clients.
For an attacker inverting updates this turns one client's batch into a batch of all clients' images: the
aggregate of K FedSGD gradients over B images each is the gradient of the mean loss over K*B images, so the
attacker must reconstruct K*B images jointly, and the target's are only B of them (seed 004 lists the number
of clients beside the batch size as a mitigation knob).
"""

from __future__ import annotations

from typing import Annotated

import torch
from torch import Tensor, nn
from torch.func import grad, vmap

from fedpriv.config.constraints import Range
from fedpriv.defenses.base import UpdateDefense
from fedpriv.fl.base import Protocol, SharedUpdate, batch_gradients, functional_loss


class SecureAggregation(Protocol):
    """The mean of ``clients`` clients' FedSGD gradients, the target client among them.

    The other clients' images are drawn from the training split (the trial's ``population``) with the trial's
    seeded generator; the target client is the first of the K, and every client holds ``batch_size`` images.
    Every client runs the same defense on its own gradient before aggregation (the defense is part of the client
    software). Clients share FedSGD gradients; aggregating FedAvg updates would combine this class with
    :class:`~fedpriv.fl.fedavg.FedAvg`'s local steps in ``simulate``, at K times its cost.

    Args:
        batch_size: images each client holds.
        clients: K, the clients whose updates are averaged; the attacker reconstructs K * batch_size images.
        **federation: the FedAvg run before the attacked round (``rounds`` etc.), see :class:`Protocol`.
    """

    name = "secagg"

    def __init__(self, *, batch_size: Annotated[int, Range(1, 4096)] = 1,
                 clients: Annotated[int, Range(1, 1024)] = 8, **federation):
        super().__init__(batch_size=batch_size, **federation)
        self.clients = clients

    @property
    def reconstruct_size(self) -> int:
        return self.clients * self.batch_size

    def shared_update(self, model, x, targets, *, defense=None, population=None, generator=None):
        if population is None and self.clients > 1:
            raise ValueError("fl=secagg needs the other clients' data: pass population= to shared_update")
        defense = defense or UpdateDefense()
        inputs, per_client, labels = [x], [targets], [targets.argmax(1) if targets.ndim == 2 else targets]
        if self.clients > 1:
            others, other_labels = population((self.clients - 1) * self.batch_size, generator)
            inputs += list(others.split(self.batch_size))
            per_client += list(other_labels.split(self.batch_size))
            labels.append(other_labels)
        updates = []
        for xk, yk in zip(inputs, per_client):
            updates.append(defense(batch_gradients(model, xk, yk), model=model, inputs=xk, targets=yk))
        aggregate = [torch.stack(per_param).mean(0).detach() for per_param in zip(*updates)]
        # The aggregate's labels as the server is granted them: the target client's soft targets by their class.
        all_labels = torch.cat(labels)
        return SharedUpdate(aggregate, batch_size=len(all_labels), kind="aggregate", labels=all_labels,
                            info={"clients": self.clients, "client_batch_size": self.batch_size})

    def simulate(self, model: nn.Module, params: dict[str, Tensor], buffers: dict[str, Tensor], x: Tensor,
                 labels: Tensor) -> list[Tensor]:
        per_client_x = x.reshape(self.clients, -1, *x.shape[1:])
        per_client_labels = labels.reshape(self.clients, -1, *labels.shape[1:])

        def mean_of_client_losses(p):
            # A forward per client keeps batch-dependent layers (train-mode BatchNorm) per client, as computed;
            # vmap runs the K forwards as one batched computation.
            losses = vmap(lambda xk, yk: functional_loss(model, p, buffers, xk, yk))(per_client_x, per_client_labels)
            return losses.mean()

        gradients = grad(mean_of_client_losses)(params)
        return [gradients[name] for name in params]
