"""Split learning inside FedAvg: the client runs the model up to a cut layer and sends its activations.

In split federated learning (SplitFed, Thapa et al. 2022) every client holds the layers up to the cut and the
server holds the rest. A training step sends the cut layer's activations (the "smashed data") to the server, which
finishes the forward pass, back-propagates through its part and returns the gradient at the cut. At the end of a
round the server averages the clients' parts as FedAvg does, so it knows their weights: the honest-but-curious
server of seed 004 holds a white-box copy of the encoder that produced every activation it receives. When the
server also averages its per-client copies of the head (SplitFed's first variant) a round computes exactly what a
FedAvg round of the whole model computes, which is why the rounds before the attacked one are trained by
:func:`~fedpriv.fl.rounds.train_fedavg` (``fl.rounds``) like every other protocol.

What the server observes of the attacked client is therefore not a gradient but the activations of its batch at
the cut. Gradient attacks have nothing to match and are refused before anything runs (:func:`split_problems`);
the attacks on activations (``attack=decoder``, ``attack=activation_inversion``) read them through
:meth:`SplitLearning.shared_update` and replay the encoder with :meth:`SplitLearning.simulate`.

The client's update-side defense (DP-SGD's clipping and noise, pruning) acts on the weight updates the server
averages, not on the activations, so it changes what is attacked only through the weights it trains (``fl.rounds``
with a DP-SGD federation); the activations themselves leave the client as computed.
"""

from __future__ import annotations

from typing import Annotated

import torch
from torch import Tensor, nn
from torch.func import functional_call
from torchvision.models.feature_extraction import create_feature_extractor, get_graph_node_names

from fedpriv.config.constraints import Range
from fedpriv.fl.base import Protocol, SharedUpdate

POOLS = (nn.MaxPool2d, nn.AvgPool2d, nn.AdaptiveAvgPool2d, nn.AdaptiveMaxPool2d)
# Short names of layers: the n-th convolution, pooling or activation module of the model, counted from 1.
KINDS = {"conv": (nn.Conv2d,), "pool": POOLS}
ACTIVATION_KINDS = (nn.ReLU, nn.LeakyReLU, nn.Sigmoid, nn.Tanh, nn.ELU, nn.GELU, nn.SiLU)


def layer_names(model: nn.Module) -> dict[str, str]:
    """Short names (``conv1``, ``act1``, ``pool1``, ...) of ``model``'s layers, each mapped to its graph node."""
    kinds = {**KINDS, "act": ACTIVATION_KINDS}
    names, counts = {}, {k: 0 for k in kinds}
    for name, module in model.named_modules():
        for kind, types in kinds.items():
            if isinstance(module, types):
                counts[kind] += 1
                names[f"{kind}{counts[kind]}"] = name
    return names


def cut_node(model: nn.Module, cut: str) -> str:
    """The graph node ``cut`` names: a short name (``pool1``) or a node of the traced model (``features.2``)."""
    short = layer_names(model)
    if cut in short:
        return short[cut]
    if cut in get_graph_node_names(model)[1]:
        return cut
    raise KeyError(cut)


def cut_problems(model: nn.Module, cut: str) -> list[str]:
    """``fl.cut`` problems against the model it cuts (empty when the cut exists)."""
    try:
        cut_node(model, cut)
        return []
    except KeyError:
        short = list(layer_names(model))
        return [f"fl.cut={cut!r} is no layer of {type(model).__name__}; allowed: {', '.join(short)} (or a node of "
                "torchvision.models.feature_extraction.get_graph_node_names)"]


class ClientPart(nn.Module):
    """The layers of ``model`` up to and including the cut, sharing ``model``'s weights; returns the activations."""

    def __init__(self, model: nn.Module, cut: str):
        super().__init__()
        self.node = cut_node(model, cut)
        self.graph = create_feature_extractor(model, return_nodes={self.node: "cut"})

    def forward(self, x: Tensor) -> Tensor:
        return self.graph(x)["cut"]


class SplitLearning(Protocol):
    """The client sends the activations of its batch at ``cut``; the server holds the encoder's weights.

    Args:
        cut: the last layer the client runs: ``pool1``/``pool2`` (the n-th pooling), ``conv1``, ``act1``..., or
            any node name of the traced model (seed 004: after LeNet's last pooling, and after the first).
        batch_size: images of the client's batch whose activations are attacked together.
        **federation: the FedAvg run before the attacked round (``rounds`` etc.), see :class:`Protocol`.
    """

    name = "split"

    def __init__(self, *, cut: str = "pool2", batch_size: Annotated[int, Range(1, 4096)] = 1, **federation):
        super().__init__(batch_size=batch_size, **federation)
        self.cut = cut
        self._parts: dict[int, ClientPart] = {}

    def client_part(self, model: nn.Module) -> ClientPart:
        """The encoder of ``model`` (built once per model object)."""
        if id(model) not in self._parts:
            self._parts[id(model)] = ClientPart(model, self.cut)
        return self._parts[id(model)]

    def model_problems(self, model: nn.Module) -> list[str]:
        return cut_problems(model, self.cut)

    def shared_update(self, model, x, targets, *, defense=None, population=None, generator=None):
        with torch.no_grad():
            activations = self.client_part(model)(x)
        return SharedUpdate([activations.detach()], batch_size=len(targets), kind="activations",
                            info={"cut": self.cut})

    def simulate(self, model: nn.Module, params: dict[str, Tensor], buffers: dict[str, Tensor], x: Tensor,
                 labels: Tensor) -> list[Tensor]:
        """The activations the client would send for ``x`` (labels play no part), differentiable in ``x``."""
        part = self.client_part(model)
        names = set(part.state_dict())
        state = {k: v for k, v in {**params, **buffers}.items() if k in names}
        return [functional_call(part.graph, state, (x,))["cut"]]


def _component(node) -> type | None:
    """The class a config node builds (None when it has none or it cannot be imported: reported elsewhere)."""
    from hydra.utils import get_object

    if not isinstance(node, dict) or "_target_" not in node:
        return None
    try:
        target = get_object(node["_target_"])
    except Exception:
        return None
    return target if isinstance(target, type) else None


def split_problems(values: dict) -> list[str]:
    """An attack reads either a gradient or activations: refuse the pairs where the protocol shares the other."""
    from fedpriv.attacks.split_attack import ActivationAttack

    fl, attack = _component(values.get("fl")), _component(values.get("attack"))
    if fl is None or attack is None:
        return []
    split, reads_activations = issubclass(fl, SplitLearning), issubclass(attack, ActivationAttack)
    if split and not reads_activations:
        return [f"attack={attack.name} matches a shared gradient, but fl=split shares activations, not a gradient; "
                "allowed with fl=split: attack=decoder|activation_inversion (gradient attacks: fl=fedsgd|fedavg|secagg)"]
    if reads_activations and not split:
        return [f"attack={attack.name} inverts split-learning activations, but fl={fl.name} shares a gradient; "
                "allowed: fl=split"]
    return []
