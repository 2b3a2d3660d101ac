"""What a trial is about to run and roughly how long it will take, said before any expensive work starts.

A CIFAR-10 DP-SGD trial on a laptop CPU takes hours, the default digits trial seconds; nothing in the config says
which. :func:`announce_trial` logs one line per model to train, one for the attack and one for the whole trial:

    training classifier: convnet on 50,000 images x 20 epochs (DP-SGD) ≈ 9.8 h
    evaluator: convnet, cached weights
    victim: untrained lenet
    attacking 10 images in 10 shared updates x 300 iterations (1 restart) ≈ 12 s
    trial ≈ 9.8 h (training 9.8 h, attack 12 s)

Each time comes from timing a few real optimisation steps of that exact setup (model, defense, batch size,
device: a warm-up step, then up to three more while half a second lasts; a single step when one step takes
longer) and multiplying by the number of steps to run, so it is rough (it leaves out data loading and evaluation)
but of the right order. Models found in
the model cache are not timed. The calibration runs on throwaway copies and restores the global RNG, so the
trial's results do not depend on it.
"""

from __future__ import annotations

import logging
import math
import time
import warnings
from dataclasses import dataclass
from typing import Optional

import torch
from omegaconf import DictConfig, OmegaConf

from fedpriv.attacks.base import AttackProblem
from fedpriv.data.targets import make_batches, select_targets
from fedpriv.defenses.base import Defense, NoDefense, UpdateDefense
from fedpriv.defenses.client import ClientBatch, ClientContext
from fedpriv.config.validate import ConfigError
from fedpriv.errors import FedprivError
from fedpriv.training.builders import build_model, model_name, training_key
from fedpriv.training.cache import ModelCache
from fedpriv.training.classifier import training_setup
from fedpriv.utils.bars import format_seconds, representative

log = logging.getLogger("fedpriv.estimate")

@dataclass
class Training:
    """One model a trial may train (``epochs`` under ``defense``), as the trial would build it."""

    what: str  # the trial's word for it: classifier, evaluator, victim
    role: str  # its model-cache role
    model_cfg: DictConfig
    training_cfg: DictConfig
    defense: Defense
    epochs: int
    seed: int


def announce_trial(cfg: DictConfig, *, data, class_ids: list[int], protocol, defense: Defense, attack,
                   cache: ModelCache, device: torch.device, budget: float = 0.5, timed: bool = True) -> Optional[float]:
    """Log what the trial will run with rough times; returns the estimated seconds (None if nothing was timed).
    ``budget`` bounds the seconds of each calibration (or one step, when a step takes longer); ``timed=False``
    (``estimate=false``) says what will run without calibrating anything.

    A problem the user can fix (a :class:`ConfigError` or :class:`FedprivError`, e.g. labels the threat model
    does not give) stops the trial here, before hours of training; any other failure of the calibration only
    costs the estimate."""
    try:
        return _announce(cfg, data=data, class_ids=class_ids, protocol=protocol, defense=defense, attack=attack,
                         cache=cache, device=device, budget=budget, timed=timed)
    except (ConfigError, FedprivError):
        raise
    except Exception as err:  # the estimate is advice: the trial itself must not fail for it
        log.warning("no time estimate for this trial (%s: %s)", type(err).__name__, err)
        return None


def _announce(cfg, *, data, class_ids, protocol, defense, attack, cache, device, budget, timed) -> Optional[float]:
    start = time.perf_counter()
    fork = [device.index or 0] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=fork), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        parts = {}
        for job in _trainings(cfg, defense):
            key = training_key(job.role, model_cfg=job.model_cfg, dataset_cfg=cfg.dataset,
                               training_cfg=job.training_cfg, defense=job.defense, epochs=job.epochs, seed=job.seed)
            name = model_name(job.model_cfg)
            if cache.path(job.role, key).exists():
                log.info("%s: %s, cached weights", job.what, name)
                continue
            seconds = training_seconds(job, data, device=device, budget=budget) if timed else None
            title = getattr(job.defense, "title", job.defense.name)
            log.info("training %s: %s on %s images x %s%s%s", job.what, name, f"{len(data.train):,}",
                     _plural(job.epochs, "epoch"), f" ({title})" if job.defense.training_signature() else "",
                     f" ≈ {format_seconds(seconds)}" if seconds is not None else "")
            if seconds is not None:
                parts[f"training {job.what}"] = seconds
        _say_victim(cfg)
        attack_seconds = attack_estimate(cfg, data=data, class_ids=class_ids, protocol=protocol, defense=defense,
                                         attack=attack, device=device, budget=budget, timed=timed)
        if attack_seconds is not None:
            parts["attack"] = attack_seconds
    if not parts:
        return None
    total = sum(parts.values())
    log.info("trial ≈ %s (%s; estimated in %.1f s)", format_seconds(total),
             ", ".join(f"{k} {format_seconds(v)}" for k, v in parts.items()), time.perf_counter() - start)
    return total


def _trainings(cfg: DictConfig, defense: Defense) -> list[Training]:
    """The classifier, the evaluator and (when it differs from the classifier) the trained victim."""
    seed = int(cfg.seed)
    jobs = [Training("classifier", "classifier", cfg.model, cfg.training, defense, int(cfg.training.epochs), seed),
            Training("evaluator", "evaluator", cfg.evaluator.model, cfg.evaluator.training, NoDefense(),
                     int(cfg.evaluator.training.epochs), int(cfg.evaluator.seed))]
    if _victim_kind(cfg) == "trained" and cfg.victim.train_epochs != cfg.training.epochs:
        jobs.append(Training("victim", "classifier", cfg.model, cfg.training, defense, int(cfg.victim.train_epochs),
                             seed))
    return jobs


def _victim_kind(cfg: DictConfig) -> str:
    if cfg.fl.get("rounds", 0) > 0:
        return "fedavg"
    if cfg.victim.checkpoint:
        return "checkpoint"
    return "trained" if cfg.victim.train_epochs > 0 else "untrained"


def _say_victim(cfg: DictConfig) -> None:
    kind, name = _victim_kind(cfg), model_name(cfg.model)
    if kind == "fedavg":
        log.info("victim: %s after %d FedAvg rounds (their time is not estimated)", name, cfg.fl.rounds)
    elif kind == "checkpoint":
        log.info("victim: %s loaded from %s", name, cfg.victim.checkpoint)
    elif kind == "untrained":
        log.info("victim: untrained %s", name)
    elif cfg.victim.train_epochs == cfg.training.epochs:
        log.info("victim: the classifier")


def training_seconds(job: Training, data, *, device: torch.device, budget: float = 0.5, steps: int = 3) -> float:
    """Seconds to train ``job``: real optimisation steps (training step, backward, optimizer step; DP-SGD's
    clipping and noise included) of a throwaway copy, timed and multiplied by epochs x batches per epoch."""
    net = build_model(job.model_cfg, data, job.defense, seed=job.seed)
    training = OmegaConf.create({**OmegaConf.to_container(job.training_cfg, resolve=True), "epochs": job.epochs})
    module, setup = training_setup(net, data, training, job.defense, epochs=job.epochs, seed=job.seed)
    module.to(device).train()
    seconds: list[float] = []
    began = time.perf_counter()
    for index, (images, labels) in enumerate(setup.loader):
        t0 = time.perf_counter()
        setup.optimizer.zero_grad()
        loss = module.training_step((images.to(device), labels.to(device)), index)
        if loss is not None:
            loss.backward()
            module.on_after_backward()  # the defense's update side on each step, when it runs in training
            setup.optimizer.step()
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        seconds.append(time.perf_counter() - t0)
        if len(seconds) > steps or time.perf_counter() - began >= budget:
            break
    return job.epochs * len(setup.loader) * representative(seconds)


def attack_estimate(cfg: DictConfig, *, data, class_ids: list[int], protocol, defense: Defense, attack,
                    device: torch.device, budget: float = 0.5, timed: bool = True) -> Optional[float]:
    """Log what the attack will do and its rough time, from a few real iterations against an untrained copy of
    the victim (an iteration costs the same whatever the weights); returns the seconds, None when not timed."""
    targets = select_targets(data.test.labels, class_ids, per_class=cfg.targets.per_class,
                             fraction=cfg.targets.fraction, seed=int(cfg.seed))
    batches = make_batches(targets, data.test.labels, batch_size=protocol.batch_size, batching=cfg.targets.batching,
                           seed=int(cfg.seed))
    what = f"attacking {_plural(len(targets), 'image')} in {_plural(len(batches), 'shared update')}"
    iterations, restarts = getattr(attack, "iterations", None), getattr(attack, "restarts", 1)
    if iterations is None or not batches:
        log.info("%s (%s)", what, attack.name)
        return None
    if not timed:
        log.info("%s x %s (%s)", what, _plural(iterations, "iteration"), _plural(restarts, "restart"))
        return None
    victim = build_model(cfg.model, data, defense, seed=int(cfg.seed)).to(device).train(cfg.victim.mode == "train")
    index = batches[0]
    generator = torch.Generator().manual_seed(int(cfg.seed))
    # The first target batch through the defense's data side, as the trial will share it (the client's other
    # data left out: a rough time needs no mixing partners from outside the batch).
    context = ClientContext(generator=torch.Generator().manual_seed(int(cfg.seed)), num_classes=data.num_classes)
    batch = defense.defend_batch(ClientBatch.from_uint8(data.test.images[index], data.test.labels[index]), context)
    x, labels = data.normalize(batch.images).to(device), batch.labels.to(device)
    update = protocol.shared_update(victim, x, batch.targets.to(device), defense=UpdateDefense(defense, generator),
                                    population=data.population(device), generator=generator)
    known = update.labels if update.labels is not None else labels
    problem = AttackProblem(model=victim, update=update, shape=tuple(data.shape), num_classes=data.num_classes,
                            bounds=data.bounds(device), labels=known.to(device), seed=int(cfg.seed), device=device,
                            protocol=protocol, defense=defense.knowledge(update.gradients))
    seconds = attack.estimate_seconds(problem, updates=len(batches), budget=budget)
    what += f" x {_plural(iterations, 'iteration')} ({_plural(restarts, 'restart')})"
    if seconds is None or not math.isfinite(seconds):
        log.info("%s", what)
        return None
    log.info("%s ≈ %s", what, format_seconds(seconds))
    return seconds


def _plural(n: int, word: str) -> str:
    return f"{n:,} {word}" if n == 1 else f"{n:,} {word}s"
