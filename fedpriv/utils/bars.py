"""Progress of long computations: a bar on a terminal, a few log lines in a batch job, nothing when turned off.

A bar names what it counts and its total ("classifier epoch 3/20", "update 4/10, iteration 120/300") and shows
the time left for the whole task, not just the current epoch or update. Bars go to stderr, redrawn at most a few
times a second. When stderr is not a terminal (a log file, a SLURM job, a captured subprocess) a redrawn bar
would only fill the file with carriage returns, so a :class:`Meter` logs one line now and then instead: at each
further tenth of the work once 30 s have passed since the last line, and at least every 5 minutes.
``progress=false`` turns both off.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Optional

import lightning as L
import torch
from tqdm import tqdm

log = logging.getLogger("fedpriv.progress")

REFRESH_SECONDS = 0.5  # tqdm's mininterval: at most two redraws a second
LOG_EVERY_SECONDS = 30.0
LOG_AT_LEAST_EVERY_SECONDS = 300.0


def training_description(role: str, epoch: int, epochs: int) -> str:
    """``role`` and the 1-based ``epoch`` out of ``epochs``: "classifier epoch 3/20"."""
    return f"{role} epoch {epoch}/{epochs}"


def attack_description(updates: list[int], total_updates: int, iteration: int, iterations: int,
                       restarts: list[int] | None = None, total_restarts: int = 1) -> str:
    """Which shared updates (1-based) are being attacked and the iteration: "update 4/10, iteration 120/300";
    several updates optimised together read "updates 1-8/10"; restarts are named when there are several."""
    first, last = min(updates), max(updates)
    what = f"update {first}/{total_updates}" if first == last else f"updates {first}-{last}/{total_updates}"
    if total_restarts > 1 and restarts:
        r0, r1 = min(restarts), max(restarts)
        what += f" restart {r0}/{total_restarts}" if r0 == r1 else f" restarts {r0}-{r1}/{total_restarts}"
    return f"{what}, iteration {iteration}/{iterations}"


def format_seconds(seconds: float) -> str:
    """A rough duration: "0.035 s", "40 s", "3.5 min", "2.1 h"."""
    if seconds < 90:
        return f"{seconds:.0f} s" if seconds >= 10 else f"{seconds:.2g} s"
    if seconds < 5400:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


def bars_on_terminal(stream=None) -> bool:
    stream = sys.stderr if stream is None else stream
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


class Meter:
    """Counts ``total`` units of work under a changing description; see the module docstring for where it goes.

    Args:
        total: units of the whole task (all epochs' batches, all updates' iterations).
        enabled: ``progress`` from the config; false reports nothing.
        terminal: draw a bar (default: when stderr is a terminal); else log a line now and then.
    """

    def __init__(self, total: int, *, enabled: bool = True, terminal: Optional[bool] = None, unit: str = "step"):
        self.total, self.done, self.description = max(int(total), 1), 0, ""
        self.enabled = enabled
        self.bar = None
        self.start = self.last_line = time.monotonic()
        self.last_fraction = 0.0
        if enabled and (bars_on_terminal() if terminal is None else terminal):
            self.bar = tqdm(total=self.total, file=sys.stderr, mininterval=REFRESH_SECONDS, dynamic_ncols=True,
                            unit=unit, leave=False, smoothing=0.1)

    def update(self, n: int = 1, description: Optional[str] = None) -> None:
        self.done += n
        if description is not None:
            self.description = description
        if not self.enabled:
            return
        if self.bar is not None:
            if description is not None:
                self.bar.set_description_str(description, refresh=False)
            self.bar.update(n)
            return
        now = time.monotonic()
        fraction = self.done / self.total
        if ((fraction - self.last_fraction >= 0.1 and now - self.last_line >= LOG_EVERY_SECONDS)
                or now - self.last_line >= LOG_AT_LEAST_EVERY_SECONDS):
            self.last_line, self.last_fraction = now, fraction
            log.info("%s: %.0f%% done, %s left", self.description, 100 * fraction, format_seconds(self.left()))

    def left(self) -> float:
        """Seconds left, extrapolated from the pace so far."""
        elapsed = time.monotonic() - self.start
        return elapsed / max(self.done, 1) * (self.total - self.done)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None


class TrainingBar(L.Callback):
    """A :class:`Meter` over every batch of every epoch of a Lightning fit, described as "<role> epoch e/E"."""

    def __init__(self, role: str, *, enabled: bool, terminal: Optional[bool] = None):
        self.role, self.enabled, self.terminal = role, enabled, terminal
        self.meter: Optional[Meter] = None

    def on_train_start(self, trainer, pl_module):
        batches = trainer.num_training_batches
        per_epoch = batches if batches != float("inf") else 1
        self.meter = Meter(trainer.max_epochs * per_epoch, enabled=self.enabled, terminal=self.terminal,
                           unit="batch")

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self.meter.update(1, training_description(self.role, trainer.current_epoch + 1, trainer.max_epochs))

    def on_train_end(self, trainer, pl_module):
        self.meter.close()


class AttackBar(L.Callback):
    """One :class:`Meter` over all iterations of all chunks of an attack (a chunk is the problems optimised
    together); pass it to every chunk's run after :meth:`chunk` has named the chunk's updates."""

    def __init__(self, *, chunks: int, iterations: int, updates: int, restarts: int = 1, enabled: bool,
                 terminal: Optional[bool] = None):
        self.iterations, self.updates, self.restarts = iterations, updates, restarts
        self.meter = Meter(chunks * iterations, enabled=enabled, terminal=terminal, unit="it")
        self._updates: list[int] = [1]
        self._restarts: list[int] = [1]
        self._iteration = 0

    def chunk(self, entries: list[tuple[int, int]]) -> "AttackBar":
        """Name the next chunk by its (problem index, restart index) entries, both 0-based."""
        self._updates = [i + 1 for i, _ in entries]
        self._restarts = [r + 1 for _, r in entries]
        self._iteration = 0
        return self

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        self._iteration += 1
        self.meter.update(1, attack_description(self._updates, self.updates, self._iteration, self.iterations,
                                                self._restarts, self.restarts))

    def close(self) -> None:
        self.meter.close()


class StepTimer(L.Callback):
    """Seconds of each optimisation step, and a stop after ``steps`` steps or once ``budget`` seconds are spent
    (see :func:`representative` for the warm-up step)."""

    def __init__(self, *, steps: int, budget: float):
        self.steps, self.budget = steps, budget
        self.seconds: list[float] = []
        self._t0 = self._start = 0.0

    def on_train_start(self, trainer, pl_module):
        self._start = time.perf_counter()

    def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
        self._t0 = time.perf_counter()

    def on_train_batch_end(self, trainer, pl_module, outputs, batch, batch_idx):
        if pl_module.device.type == "cuda":
            torch.cuda.synchronize(pl_module.device)  # GPU work is asynchronous: wait for it before reading the clock
        now = time.perf_counter()
        self.seconds.append(now - self._t0)
        if len(self.seconds) >= self.steps or now - self._start >= self.budget:
            trainer.should_stop = True

    def per_step(self) -> float:
        return representative(self.seconds)


def representative(seconds: list[float]) -> float:
    """The typical step time: the median of the steps after the first, which pays for warm-up (allocations,
    kernel choices); when a single step used up the time budget, that step, a slight overestimate."""
    rest = sorted(seconds[1:] or seconds)
    return rest[len(rest) // 2] if rest else float("nan")
