"""Ctrl-C (SIGINT) and SIGTERM: stop cleanly, write nothing that passes for a finished trial, say how to go on.

A signal raises ``SystemExit(128 + signal)`` (130 for Ctrl-C, 143 for SIGTERM) where the program is, so
``finally`` blocks run (locks released, W&B runs closed) and the exit status tells a shell or a scheduler what
happened. ``SystemExit`` rather than ``KeyboardInterrupt``: Lightning turns a ``KeyboardInterrupt`` inside
training into a silent ``exit(1)``.

- One trial: :func:`exit_on_signals` around it says the trial was interrupted and wrote no results.
- A multirun: :class:`ReportInterrupts`, a Hydra callback registered after ``PlanSweep`` in ``conf/config.yaml``,
  says at exit how far the sweep got and the command that resumes it.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import shlex
import signal
import sys
import threading
from pathlib import Path
from typing import Any, Callable, Iterator

from hydra.experimental.callback import Callback
from omegaconf import DictConfig

SIGNALS = (signal.SIGINT, signal.SIGTERM)


def exit_code(signum: int) -> int:
    return 128 + int(signum)


def _install(on_signal: Callable[[int], None]) -> dict | None:
    """Make SIGINT and SIGTERM call ``on_signal`` then exit; returns the previous handlers (None off the main
    thread, where Python cannot set handlers)."""
    if threading.current_thread() is not threading.main_thread():
        return None

    def handler(signum, frame):
        on_signal(signum)
        raise SystemExit(exit_code(signum))

    return {s: signal.signal(s, handler) for s in SIGNALS}


def _restore(previous: dict | None) -> None:
    for s, h in (previous or {}).items():
        signal.signal(s, h)


@contextlib.contextmanager
def exit_on_signals(message: Callable[[str], str]) -> Iterator[None]:
    """While the block runs, SIGINT/SIGTERM stop it; once it has unwound, ``message(signal name)`` goes to
    stderr and the process exits with 128 + the signal number."""
    received: list[int] = []
    previous = _install(received.append)
    try:
        yield
    except SystemExit:
        if received:
            print(f"fedpriv: {message(signal.Signals(received[0]).name)}", file=sys.stderr, flush=True)
        raise
    finally:
        _restore(previous)


def resume_command(argv: list[str] | None = None) -> str:
    """The command line that launched this process, as a user would type it again."""
    argv = list(sys.argv if argv is None else argv)
    program = "fedpriv-sweep" if Path(argv[0]).name == "fedpriv-sweep" else "python -m fedpriv.sweep"
    return " ".join([program, *map(shlex.quote, argv[1:])])


def sweep_stopped_message(sweep_dir: str | os.PathLike, results_file: str, signame: str) -> str:
    from fedpriv.sweeping.progress import sweep_progress

    progress = sweep_progress(sweep_dir, results_file)
    return (f"stopped by {signame}; sweep {sweep_dir}: {progress.done} of {progress.total} trials done, "
            f"{progress.total - progress.done} left; relaunch the same command to resume: {resume_command()}")


class ReportInterrupts(Callback):
    """In the process that launches a multirun: on SIGINT/SIGTERM, stop and say how far the sweep got."""

    def __init__(self) -> None:
        self._previous: dict | None = None
        self._received: list[int] = []
        self._sweep: tuple[str, str] | None = None
        self._remote = False

    def __getstate__(self) -> dict:
        # Launchers that run jobs in other processes pickle Hydra's callbacks with them; handlers stay here.
        return {**self.__dict__, "_previous": None, "_received": []}

    def on_multirun_start(self, config: DictConfig, **kwargs: Any) -> None:
        # hydra.sweep.dir as PlanSweep (called before this callback) has named it.
        self._sweep = (str(config.hydra.sweep.dir), str(config.get("record", {}).get("results_file", "results.csv")))
        self._remote = "slurm" in str(config.hydra.launcher.get("_target_", "")).lower()
        self._received = []
        self._previous = _install(self._received.append)
        # The message is printed at exit, once the interrupted trial and the launcher have cleaned up, so its
        # counts are final.
        atexit.register(self._report)

    def on_job_end(self, config: DictConfig, job_return: Any, **kwargs: Any) -> None:
        # A handler that runs inside a finalizer or callback has its exception swallowed; the signal still
        # stops the sweep here, before the next trial.
        if self._received:
            raise SystemExit(exit_code(self._received[0]))

    def on_multirun_end(self, config: DictConfig, **kwargs: Any) -> None:
        _restore(self._previous)
        self._previous = None
        atexit.unregister(self._report)

    def _report(self) -> None:
        if self._received and self._sweep is not None:
            sweep_dir, results_file = self._sweep
            signame = signal.Signals(self._received[0]).name
            message = sweep_stopped_message(sweep_dir, results_file, signame)
            if self._remote:
                message += (f" (jobs already submitted to SLURM keep running; cancel them with scancel, or follow "
                            f"them with python -m fedpriv.progress {sweep_dir})")
            print(f"fedpriv: {message}", file=sys.stderr, flush=True)
