"""Server-side strategies: FedAvg with seeded client sampling, and the curious server that records updates.

:class:`SeededFedAvg` samples each round's clients from the trial's seed (Flower's own FedAvg samples with the
global RNG), so a Flower run is as repeatable as the in-process engine. :class:`CuriousServer` wraps any Flower
strategy: it behaves exactly like the wrapped one (the honest-but-curious threat model: it follows the protocol)
and additionally keeps, for chosen rounds, the global model it sent and each client's reply.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterable, Optional

import torch
from torch import Tensor

from fedpriv.flower import require_flower

require_flower()

from flwr.app import ArrayRecord, ConfigRecord, Message, MessageType, MetricRecord, RecordDict  # noqa: E402
from flwr.serverapp import Grid  # noqa: E402
from flwr.serverapp.strategy import FedAvg, Strategy  # noqa: E402
from flwr.serverapp.strategy.strategy_utils import sample_nodes  # noqa: E402


class SeededFedAvg(FedAvg):
    """Flower's FedAvg, sampling ``clients_per_round`` of the connected nodes with a seeded generator.

    Nodes are ordered by id before sampling; every node is waited for (``min_available_nodes``), so the draw
    depends only on the seed and the round. Client-side evaluation is off: the global model is evaluated
    centrally (``evaluate_fn`` of :meth:`start`).
    """

    def __init__(self, clients_per_round: int, *, num_clients: int, seed: int, **kwargs):
        kwargs.setdefault("fraction_evaluate", 0.0)
        super().__init__(min_available_nodes=num_clients, min_train_nodes=clients_per_round, **kwargs)
        self.clients_per_round, self.num_clients = clients_per_round, num_clients
        self.generator = torch.Generator().manual_seed(seed + 1)

    def configure_train(self, server_round: int, arrays: ArrayRecord, config: ConfigRecord,
                        grid: Grid) -> Iterable[Message]:
        _, connected = sample_nodes(grid, self.num_clients, self.num_clients)
        nodes = sorted(connected)
        chosen = torch.randperm(len(nodes), generator=self.generator)[: self.clients_per_round].tolist()
        config["server-round"] = server_round
        record = RecordDict({self.arrayrecord_key: arrays, self.configrecord_key: config})
        return self._construct_messages(record, [nodes[i] for i in chosen], MessageType.TRAIN)


@dataclass
class RecordedUpdate:
    """One client's reply in an observed round, as the server saw it.

    Attributes:
        round: the server round (1-based).
        node_id: the client's Flower node id; ``partition_id`` its data partition when it reports one.
        sent: the global weights the server sent (a state dict); ``received``: the client's returned weights.
        num_examples: the data size the client reported (FedAvg's weight).
        config: the training config the server sent with the weights (local epochs, learning rate...).
        metrics: everything the client reported besides its weights.
    """

    round: int
    node_id: int
    sent: dict[str, Tensor]
    received: dict[str, Tensor]
    num_examples: int
    partition_id: Optional[int] = None
    config: dict = field(default_factory=dict)
    metrics: dict = field(default_factory=dict)

    def update(self, names: Iterable[str]) -> list[Tensor]:
        """``sent - received`` for the named entries (the model's parameters, in order): the weight difference
        in fedpriv's FedAvg convention (the sign of a gradient)."""
        return [self.sent[n].float() - self.received[n].float() for n in names]


class CuriousServer(Strategy):
    """Wraps ``strategy``: the same rounds, sampling and aggregate, plus a record of chosen rounds.

    Args:
        strategy: any Flower (message-API) strategy; every call is delegated to it unchanged.
        rounds: the rounds whose client replies are recorded (None: every round).
        on_record: called with each :class:`RecordedUpdate` as it arrives (e.g. to attack it at once); the
            records are also kept in :attr:`records`.
    """

    def __init__(self, strategy: Strategy, *, rounds: Optional[Iterable[int]] = None,
                 on_record: Optional[Callable[[RecordedUpdate], None]] = None):
        self.strategy = strategy
        self.rounds = None if rounds is None else set(int(r) for r in rounds)
        self.on_record = on_record
        self.records: list[RecordedUpdate] = []
        self._sent: dict[int, tuple[dict[str, Tensor], dict]] = {}

    def observes(self, server_round: int) -> bool:
        return self.rounds is None or server_round in self.rounds

    def configure_train(self, server_round, arrays, config, grid):
        messages = list(self.strategy.configure_train(server_round, arrays, config, grid))
        if self.observes(server_round) and messages:
            content = messages[0].content
            sent_arrays = next(iter(content.array_records.values()))
            sent_config = next(iter(content.config_records.values()), ConfigRecord())
            self._sent[server_round] = (sent_arrays.to_torch_state_dict(), dict(sent_config))
        return messages

    def aggregate_train(self, server_round, replies):
        replies = list(replies)
        if server_round in self._sent:
            sent, config = self._sent.pop(server_round)
            for message in replies:
                if message.has_error():
                    continue
                self._record(server_round, message, sent, config)
        return self.strategy.aggregate_train(server_round, replies)

    def _record(self, server_round: int, message: Message, sent: dict, config: dict) -> None:
        content = message.content
        received = next(iter(content.array_records.values())).to_torch_state_dict()
        metrics = dict(next(iter(content.metric_records.values()), MetricRecord()))
        weight_key = getattr(self.strategy, "weighted_by_key", "num-examples")
        partition = metrics.get("partition-id")
        record = RecordedUpdate(round=server_round, node_id=int(message.metadata.src_node_id), sent=sent,
                                received=received, num_examples=int(metrics.get(weight_key, 0)),
                                partition_id=None if partition is None else int(partition), config=config,
                                metrics=metrics)
        self.records.append(record)
        if self.on_record is not None:
            self.on_record(record)

    def configure_evaluate(self, server_round, arrays, config, grid):
        return self.strategy.configure_evaluate(server_round, arrays, config, grid)

    def aggregate_evaluate(self, server_round, replies):
        return self.strategy.aggregate_evaluate(server_round, replies)

    def summary(self) -> None:
        self.strategy.summary()
