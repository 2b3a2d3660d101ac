"""Device choice, and how much third-party libraries say (``verbose``)."""

from __future__ import annotations

import logging
import os
import warnings

import torch


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        from fedpriv.config.validate import ConfigError

        raise ConfigError(["device='cuda' but no CUDA device is available; allowed here: auto, cpu"])
    return torch.device(name)


# Loggers whose INFO lines describe the libraries rather than the trial: Lightning's hardware and rank lines,
# Opacus' one line per BatchNorm layer it replaces.
CHATTY_LOGGERS = ("lightning.pytorch.utilities.rank_zero", "lightning.pytorch.accelerators.cuda", "lightning.fabric",
                  "lightning.pytorch", "opacus")
_verbose = False


def set_verbose(verbose: bool) -> None:
    """``verbose=false`` (the default) keeps third-party INFO lines and warnings out of the log; fedpriv's own
    lines are unaffected. Logging is process-wide, so the choice holds until the next call."""
    global _verbose
    _verbose = bool(verbose)
    for name in CHATTY_LOGGERS:
        logging.getLogger(name).setLevel(logging.INFO if verbose else logging.WARNING)


def quiet_lightning() -> None:
    """Lightning announces hardware and tips on every Trainer; a sweep builds hundreds of them."""
    if _verbose:
        return
    set_verbose(False)
    warnings.filterwarnings("ignore", message=".*does not have many workers.*")
    warnings.filterwarnings("ignore", message=".*`training_step` returned `None`.*")
    warnings.filterwarnings("ignore", message=".*Trying to infer the `batch_size`.*")
    warnings.filterwarnings("ignore", message=".*GPU available but not used.*")
    warnings.filterwarnings("ignore", message=".*LeafSpec.*")
    # The attack keeps the victim in the client's mode (often eval) inside a module Lightning trains.
    warnings.filterwarnings("ignore", message=".*module\\(s\\) in eval mode at the start of training.*")


def trainer_kwargs(device: torch.device, *, progress=None) -> dict:
    """Trainer settings shared by classifier training and attacks; ``progress`` is an optional callback that
    reports progress (fedpriv's own, see :mod:`fedpriv.utils.bars`), never Lightning's stdout bar."""
    return dict(
        accelerator="gpu" if device.type == "cuda" else "cpu",
        devices=1,
        logger=False,
        enable_checkpointing=False,
        enable_model_summary=_verbose,
        enable_progress_bar=False,
        callbacks=[progress] if progress is not None else [],
        num_sanity_val_steps=0,
    )


def apply_thread_budget() -> None:
    """Use the cores a job was given: ``FEDPRIV_THREADS`` (set by the local parallel launcher) or SLURM's
    ``SLURM_CPUS_PER_TASK``. Parallel jobs that each start one thread per core slow each other down many times."""
    threads = os.environ.get("FEDPRIV_THREADS") or os.environ.get("SLURM_CPUS_PER_TASK")
    if threads and threads.isdigit() and int(threads) > 0:
        torch.set_num_threads(int(threads))
