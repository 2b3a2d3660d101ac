"""Flower integration: run fedpriv's FedAvg rounds on Flower, audit a Flower federation, defend Flower clients.

Three parts, each usable on its own (``pip install fedpriv[flower]``):

- :mod:`fedpriv.flower.engine`: ``fl.engine=flower`` trains the global model of a trial's FedAvg rounds as a
  Flower ``ServerApp``/``ClientApp`` pair in Flower's simulation runtime, every client running the trial's defense
  at each local step, exactly as the in-process engine does.
- :mod:`fedpriv.flower.curious`: :class:`CuriousServer` wraps any Flower strategy, records what clients send in
  chosen rounds and hands it to a fedpriv attack (:mod:`fedpriv.flower.audit` writes the usual ``results.csv``).
- :mod:`fedpriv.flower.mods`: fedpriv's update-side defenses as Flower client mods.

Flower is an optional dependency: importing these modules without it raises :class:`FlowerMissing` with the
install command, and trials check ``fl.engine=flower`` before any compute.
"""

from __future__ import annotations

import importlib.util

INSTALL_HINT = "pip install 'fedpriv[flower]' (or: make install-flower)"


class FlowerMissing(ImportError):
    """Flower (``flwr``) is not installed; the message says how to install it."""


def flower_available() -> bool:
    return importlib.util.find_spec("flwr") is not None


def require_flower() -> None:
    if not flower_available():
        raise FlowerMissing(f"fl.engine=flower and fedpriv.flower need Flower (flwr), which is not installed: "
                            f"{INSTALL_HINT}")
