"""One trial, top to bottom: data, models, defense, shared update, attack, metrics, record.

:func:`run_trial` is what ``python -m fedpriv.sweep`` runs for each job; tests call it directly with a config
from Hydra's compose API.
"""

from __future__ import annotations

import copy
import logging
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch
from hydra.utils import get_class, instantiate
from omegaconf import DictConfig, OmegaConf
from torch import Tensor

from fedpriv.attacks.base import AttackProblem
from fedpriv.attacks.convergence import convergence_columns, per_image
from fedpriv.attacks.decode_stage import decode_targets, score_largest_component, tag_rows
from fedpriv.config.combinations import defense_input_problems
from fedpriv.config.validate import ConfigError, validate
from fedpriv.data.targets import TargetBatch, defended_batches, resolve_classes
from fedpriv.defenses import NoDefense, UpdateDefense, build_defense
from fedpriv.fl.rounds import round_victim
from fedpriv.metrics import LpipsScorer, image_scores, match_reconstructions
from fedpriv.metrics.sensitive import all_image_columns, sensitive_subset
from fedpriv.record import IMAGES_FILE, save_reconstruction_grid, save_samples, write_outcomes, write_results
from fedpriv.record.results import objective_of, summary_of
from fedpriv.training.builders import build_model, model_name, trained_model
from fedpriv.training.cache import ModelCache, load_weights
from fedpriv.training.classifier import predict
from fedpriv.sweeping.identity import trial_identity
from fedpriv.trial_parts import _accuracy, _labels, _model_correct, _server_knowledge, _victim_trained
from fedpriv.utils.estimate import announce_trial
from fedpriv.utils.runtime import resolve_device, set_verbose

log = logging.getLogger(__name__)


@dataclass
class TrialOutput:
    rows: list[dict]
    objective: float
    results_path: Path
    grid_path: Path | None
    images: dict[str, Tensor] = field(default_factory=dict)


def _build(node: DictConfig, what: str):
    log.info("building %s <%s>", what, node._target_)
    return instantiate(node)


def run_trial(cfg: DictConfig, *, output_dir: str | Path, overrides: list[str] | None = None,
              run_group: str | None = None) -> TrialOutput:
    """Run one trial and write its files into ``output_dir``; ``results.csv`` is written last, so its presence
    means the trial finished. ``run_group`` names the sweep for loggers that group runs (W&B)."""
    validate(cfg)
    set_verbose(cfg.verbose)
    output_dir = Path(output_dir)
    output_dir.mkdir(parents=True, exist_ok=True)
    device = resolve_device(cfg.device)
    seed = int(cfg.seed)
    trial_id = trial_identity(cfg)
    if getattr(get_class(cfg.attack._target_), "family", "reconstruction") == "membership":
        from fedpriv.membership.trial import run_membership_trial
        return run_membership_trial(cfg, output_dir=output_dir, overrides=overrides, run_group=run_group)

    dataset = _build(cfg.dataset, "dataset")
    protocol = _build(cfg.fl, "fl")
    defense = build_defense(cfg.defense)
    log.info("building defense %s", defense.name)
    attack = _build(cfg.attack, "attack")
    logger = _build(cfg.logger, "logger")

    data = dataset.load()
    defense.bind(data.classes)
    untrained = build_model(cfg.model, data, defense, seed=seed)
    model_problems = attack.model_problems(untrained, tuple(data.shape)) + protocol.model_problems(untrained)
    model_problems += protocol.trial_problems(victim=cfg.victim, train_labels=data.train.labels)
    # Checked during validation when the dataset declares its channels; here for any dataset, once loaded.
    model_problems += defense_input_problems(OmegaConf.to_container(cfg.defense, resolve=True),
                                             channels=data.shape[0])
    if model_problems:
        raise ConfigError(model_problems)
    class_ids = resolve_classes(OmegaConf.to_container(cfg.targets.classes) if cfg.targets.classes else None, data.classes)
    log.info("data: %s, %d train / %d test images of shape %s", data.name, len(data.train), len(data.test), data.shape)

    logger.start(config=OmegaConf.to_container(cfg, resolve=True), run_name=f"{trial_id}", output_dir=output_dir,
                 group=run_group, labels=_labels(cfg, data.name, protocol, defense, attack))
    failed = True
    try:
        cache = ModelCache(cfg.paths.cache_dir)
        announce_trial(cfg, data=data, class_ids=class_ids, protocol=protocol, defense=defense, attack=attack,
                       cache=cache, device=device, timed=cfg.estimate)
        common = dict(dataset_cfg=cfg.dataset, data=data, cache=cache, device=device, progress=cfg.progress)
        classifier, classifier_meta = trained_model(
            "classifier", model_cfg=cfg.model, training_cfg=cfg.training, defense=defense,
            epochs=cfg.training.epochs, seed=seed, **common)
        evaluator, evaluator_meta = trained_model(
            "evaluator", model_cfg=cfg.evaluator.model, training_cfg=cfg.evaluator.training, defense=NoDefense(),
            epochs=cfg.evaluator.training.epochs, seed=cfg.evaluator.seed, **common)
        batches = defended_batches(data, class_ids, cfg.targets, batch_size=protocol.batch_size, defense=defense,
                                   seed=seed)
        # MA before anything is attacked, on the classifier itself: the victim below is always another object.
        model_correct = _model_correct(classifier, data, batches, device)
        victim = _victim(cfg, data, defense, classifier, common, seed, protocol)
        classifier_meta = {**classifier_meta, "victim_accuracy": _accuracy(victim, data, device)}
        victim = attack.prepare_model(victim, _server_knowledge(data, device, seed))

        if getattr(attack, "decode", "none") == "none":  # a mixed row is scored against its largest component
            images = score_largest_component(
                _attack_targets(cfg, data, batches, protocol, defense, attack, victim, device, seed), batches)
        else:
            images = decode_targets(cfg, data, batches, protocol, defense, attack, victim, device, seed)
        images, all_images, model_correct = sensitive_subset(images, batches, cfg.targets.sensitive, model_correct)
        rows, outcomes = _score(cfg, data, class_ids, images, evaluator, device, trial_id, overrides or [],
                                defense, protocol, attack, classifier_meta, evaluator_meta, model_correct=model_correct)
        rows = all_image_columns(tag_rows(rows, attack, defense), all_images)
        write_outcomes(output_dir / IMAGES_FILE, outcomes, trial_id=trial_id)
        save_samples(output_dir / "samples.pt", images, limit=cfg.record.grid_images)
        grid_path = None
        if cfg.record.grid:
            grid_path = output_dir / "reconstructions.png"
            save_reconstruction_grid(grid_path, images, limit=cfg.record.grid_images)
        summary = summary_of(rows)
        logger.log_trial(rows=rows, grid=grid_path, summary=summary)
        # Last, and atomically: a results file means a finished trial, which a relaunched sweep skips.
        results_path = write_results(output_dir / cfg.record.results_file, rows)
        objective = objective_of(results_path, cfg.objective, baseline=cfg.baseline.results)
        log.info("trial %s: %s", trial_id, ", ".join(f"{k}={v:.4g}" for k, v in summary.items()))
        failed = False
        return TrialOutput(rows, objective, results_path, grid_path, images)
    finally:
        logger.finish(failed=failed)


def _victim(cfg, data, defense, classifier, common, seed, protocol):
    """The attacked model: from a file, the defended classifier after N epochs, the global model after
    ``fl.rounds`` rounds of FedAvg (never together with the first two; checked up front), or an untrained copy.

    Always a model of its own: computing updates in train mode moves BatchNorm's running statistics, and a
    malicious server changes the weights, neither of which may reach the classifier that MA is measured on."""
    if protocol.federation.rounds > 0:
        victim, _ = round_victim(protocol.federation, model_cfg=cfg.model, dataset_cfg=cfg.dataset, data=data,
                                 defense=defense, defense_cfg=cfg.defense, seed=seed, cache=common["cache"],
                                 device=common["device"])
    elif cfg.victim.checkpoint:
        victim = build_model(cfg.model, data, defense, seed=seed)
        load_weights(victim, cfg.victim.checkpoint)
        victim = victim.to(common["device"])
    elif cfg.victim.train_epochs == cfg.training.epochs:
        victim = copy.deepcopy(classifier)
    elif cfg.victim.train_epochs > 0:
        victim, _ = trained_model("classifier", model_cfg=cfg.model, training_cfg=cfg.training, defense=defense,
                                  epochs=cfg.victim.train_epochs, seed=seed, **common)
    else:
        victim = build_model(cfg.model, data, defense, seed=seed).to(common["device"])
    return victim.train(cfg.victim.mode == "train")


def _attack_targets(cfg, data, batches: list[TargetBatch], protocol, defense, attack, victim, device,
                    seed) -> dict[str, Tensor]:
    """Attack every target batch; returns originals, defended inputs and reconstructions in [0, 1]."""
    log.info("attacking %d images in %d shared updates", sum(len(b.index) for b in batches), len(batches))
    # Every draw of the shared updates comes from the seed: other clients' data, and the update-side noise.
    others = torch.Generator().manual_seed(seed + 7919)
    update_defense = UpdateDefense(defense, torch.Generator().manual_seed(seed + 104729))
    population = data.population(device)
    bounds = data.bounds(device)
    problems = []
    defense.prepare_updates(victim, [data.normalize(t.batch.images).to(device) for t in batches],
                            [t.batch.targets.to(device) for t in batches], update_defense.generator)
    for number, target in enumerate(batches):
        batch = target.batch
        x = data.normalize(batch.images).to(device)
        update = protocol.shared_update(victim, x, batch.targets.to(device), defense=update_defense,
                                        population=population, generator=others)
        known = update.labels if update.labels is not None else batch.labels  # an aggregate's: all clients'
        problems.append(AttackProblem(model=victim, update=update, shape=tuple(data.shape),
                                      num_classes=data.num_classes, bounds=bounds, labels=known.to(device),
                                      seed=seed * 100003 + number, device=device, progress=cfg.progress,
                                      protocol=protocol, defense=defense.knowledge(update.gradients)))

    start = time.perf_counter()
    results = attack.reconstruct_many(problems)
    fallback_seconds = (time.perf_counter() - start) / max(len(problems), 1)
    out = {k: [] for k in ("index", "original", "defended", "reconstruction", "initial", "labels", "guessed", "seconds")}
    for target, result in zip(batches, results):
        defended, labels = target.batch.images, target.batch.labels
        seconds = result.info.get("attack_seconds", fallback_seconds)
        reconstruction = data.denormalize(result.images.detach()).cpu()
        guessed = result.labels.detach().cpu().view(-1)
        initial = result.initial if result.initial is not None else torch.full_like(result.images, float("nan"))
        initial = data.denormalize(initial.detach()).cpu()
        if len(reconstruction) != len(labels) or len(labels) > 1:
            # Batches come back unordered: pair each shared (defended) input with its own reconstruction.
            order = match_reconstructions(reconstruction, defended)
            reconstruction, initial = reconstruction[order], initial[order]
            guessed = guessed[order]
        out["index"].append(target.index)
        out["original"].append(target.originals.float() / 255)
        out["defended"].append(defended)
        out["reconstruction"].append(reconstruction)
        out["initial"].append(initial)
        out["labels"].append(labels)
        out["guessed"].append(guessed)
        out["seconds"].append(torch.full((len(labels),), seconds / len(labels)))
        for key, value in per_image(result.info, len(labels)).items():
            out.setdefault(key, []).append(value)
    return {k: torch.cat(v) for k, v in out.items()}


def _score(cfg, data, class_ids, images, evaluator, device, trial_id, overrides, defense, protocol,
           attack, classifier_meta, evaluator_meta, *, model_correct: Tensor) -> tuple[list[dict], dict[str, Tensor | None]]:
    """The per-class rows of ``results.csv`` and the per-image outcomes behind them (``images.csv``)."""
    labels = images["labels"]
    leak = image_scores(images["reconstruction"], images["original"])
    vs_defended = image_scores(images["reconstruction"], images["defended"])
    vs_init = image_scores(images["initial"], images["original"])
    lpips = LpipsScorer(backbone=cfg.metrics.lpips.backbone, download=cfg.metrics.lpips.download,
                        enabled=cfg.metrics.lpips.enabled, device=device)
    lpips_values = lpips(images["reconstruction"], images["original"]) if lpips.available else None
    # MA (``model_correct``, measured before the attack): the defended classifier on the exact inputs whose
    # update was shared; AA: the judge on reconstructions.
    attack_correct = (predict(evaluator, data.normalize(images["reconstruction"]), data.normalize, device).cpu() == labels)
    label_correct = images["guessed"] == labels
    outcomes = {"class_id": labels, "image_index": images["index"], "ma_correct": model_correct,
                "aa_correct": attack_correct, "label_correct": label_correct, "psnr": leak["psnr"],
                "ssim": leak["ssim"], "lpips": lpips_values, "mse": leak["mse"]}

    epsilon = classifier_meta.get("epsilon")
    choices = {"dataset": data.name, "model": model_name(cfg.model), "fl": protocol.name, "defense": defense.name,
               "attack": attack.name, "evaluator": model_name(cfg.evaluator.model)}
    rows = []
    for c in class_ids:
        mask = labels == c
        n = int(mask.sum())
        if n == 0:
            continue
        mean = lambda t: float(t[mask].float().mean()) if t is not None else None
        worst = lambda t, pick: float(pick(t[mask].float())) if t is not None else None
        described = defense.describe(c)
        rows.append({
            **choices, **described, "defense_columns": " ".join(described),
            "seed": cfg.seed, "class": data.classes[c], "n": n,
            "ma": mean(model_correct), "aa": mean(attack_correct),
            "psnr": mean(leak["psnr"]), "ssim": mean(leak["ssim"]), "lpips": mean(lpips_values), "mse": mean(leak["mse"]),
            "mse255": mean(leak["mse"]) * 255 ** 2,  # seed 004's scale: squared error of 0-255 pixels
            # The class's worst case: its best-reconstructed image (seed 003 reports leakage per class this way).
            "psnr_max": worst(leak["psnr"], torch.max), "lpips_min": worst(lpips_values, torch.min),
            "epsilon": epsilon, "overrides": " ".join(overrides), "trial_id": trial_id, "class_id": c,
            "label_acc": mean(label_correct), "psnr_defended": mean(vs_defended["psnr"]),
            "ssim_defended": mean(vs_defended["ssim"]), "psnr_init": mean(vs_init["psnr"]),
            "attack_seconds": mean(images["seconds"]), "batch_size": protocol.batch_size,
            "iterations": getattr(attack, "iterations", None), "victim_trained": _victim_trained(cfg),
            "classifier_acc": classifier_meta.get("test_accuracy"), "evaluator_acc": evaluator_meta.get("test_accuracy"),
            "victim_acc": classifier_meta.get("victim_accuracy"),
            **convergence_columns(attack, images, mask, leak["psnr"]),
        })
    return rows, outcomes
