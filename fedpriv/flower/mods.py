"""fedpriv's update-side defenses as Flower client mods: what a ``ClientApp`` sends passes through the defense.

A Flower mod sees the messages, not the client's training steps, so :class:`DefenseMod` defends the round's
whole update (``sent - returned`` weights, in fedpriv's gradient-sign convention) and sends ``sent - defended``:

- pruning and additive noise (``prune``, ``noise``/``gaussian``/``laplacian``) act on the update alone;
- DP-SGD becomes client-level DP (DP-FedAvg, McMahan et al. 2018): the update is clipped to ``max_grad_norm``
  in L2 norm over all parameters and Gaussian noise of standard deviation ``noise_multiplier x max_grad_norm``
  is added, since per-example clipping needs the local steps themselves (fedpriv's own ``ClientApp`` applies
  DP-SGD at every step through ``defense=``);
- defenses that read the client's data (Soteria's representation mask) need ``data_fn(context)`` returning the
  client's model-space inputs and labels, and ``model_fn()`` building the architecture; the mask is computed on
  the model the server sent.

Randomness comes from a generator seeded by ``seed``, the round and the node, never the global RNG.
"""

from __future__ import annotations

from typing import Callable, Optional

import torch
from torch import Tensor, nn

from fedpriv.defenses.base import Defense
from fedpriv.defenses.client import ClientStep
from fedpriv.defenses.dpsgd import DPSGD
from fedpriv.flower import require_flower

require_flower()

from flwr.app import ArrayRecord, Context, Message, MessageType  # noqa: E402

NEEDS_DATA = ("soteria",)


def client_level_dp(update: list[Tensor], *, max_grad_norm: float, noise_multiplier: float,
                    generator: torch.Generator) -> list[Tensor]:
    """Clip the whole update to ``max_grad_norm`` (L2 over every entry) and add Gaussian noise."""
    norm = torch.sqrt(sum(u.double().pow(2).sum() for u in update)).item()
    scale = min(1.0, max_grad_norm / (norm + 1e-12))
    std = noise_multiplier * max_grad_norm
    return [u * scale + std * torch.randn(u.shape, generator=generator, dtype=u.dtype) for u in update]


class DefenseMod:
    """A Flower mod applying a fedpriv update-side ``defense`` to what the client sends in training rounds.

    Args:
        defense: a fedpriv defense (e.g. ``build_defense(cfg.defense)`` or ``Prune(p=0.9)``).
        seed: seeds the defense's draws, with the round and the node id.
        model_fn / data_fn: the architecture and ``data_fn(context) -> (inputs, labels)``, for defenses that
            read the client's data (Soteria); not needed otherwise.
    """

    def __init__(self, defense: Defense, *, seed: int = 0, model_fn: Optional[Callable[[], nn.Module]] = None,
                 data_fn: Optional[Callable[[Context], tuple[Tensor, Tensor]]] = None):
        if defense.name in NEEDS_DATA and (model_fn is None or data_fn is None):
            raise ValueError(f"defense {defense.name!r} reads the client's data: DefenseMod needs model_fn and "
                             f"data_fn; defenses that need neither: prune, noise, gaussian, laplacian, dpsgd")
        self.defense, self.seed, self.model_fn, self.data_fn = defense, seed, model_fn, data_fn

    def __call__(self, message: Message, context: Context, call_next) -> Message:
        if message.metadata.message_type != MessageType.TRAIN:
            return call_next(message, context)
        sent = next(iter(message.content.array_records.values())).to_torch_state_dict()
        reply = call_next(message, context)
        if reply.has_error():
            return reply
        key, returned_record = next(iter(reply.content.array_records.items()))
        returned = returned_record.to_torch_state_dict()
        # The model's parameters when the architecture is known (buffers such as BatchNorm statistics are sent
        # as they are), else every floating-point array.
        names = ([n for n, _ in self.model_fn().named_parameters()] if self.model_fn is not None
                 else [n for n, v in sent.items() if v.is_floating_point()])
        update = [sent[n].float() - returned[n].float() for n in names]
        round_ = int(next(iter(message.content.config_records.values()), {}).get("server-round", 0))
        generator = torch.Generator().manual_seed((self.seed * 1_000_003 + round_ * 10_007 + context.node_id) % 2**62)
        defended = self.defend(update, names, sent, context, generator)
        out = dict(returned)
        for n, d in zip(names, defended):
            out[n] = (sent[n].float() - d).to(returned[n].dtype)
        reply.content[key] = ArrayRecord(out)
        return reply

    def defend(self, update: list[Tensor], names: list[str], sent: dict[str, Tensor], context: Context,
               generator: torch.Generator) -> list[Tensor]:
        """The defended update (same order as ``names``)."""
        if isinstance(self.defense, DPSGD):
            return client_level_dp(update, max_grad_norm=self.defense.max_grad_norm,
                                   noise_multiplier=self.defense.noise_multiplier, generator=generator)
        model, inputs, targets = None, None, None
        if self.model_fn is not None and self.data_fn is not None:
            model = self.model_fn()
            model.load_state_dict(sent)
            inputs, targets = self.data_fn(context)
        step = ClientStep(model=model, inputs=inputs, targets=targets, generator=generator, purpose="round")
        return self.defense.defend_update(update, step)
