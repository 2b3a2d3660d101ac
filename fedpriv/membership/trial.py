"""A membership-inference trial: split the records, train the target, attack it, score and record.

The trial of a reconstruction attack hands it shared updates of test images; a membership attack instead needs
the target's own training records and as many it never saw. :func:`run_membership_trial` therefore chooses its
records itself (:func:`fedpriv.membership.models.membership_split`), trains the target on the members under the
trial's defense (centrally, or by FedAvg rounds when ``fl.rounds > 0``) and writes one row per trial:
the attack's ``mia_acc``, ``mia_auc``, TPR at 0.1% and 1% FPR, the loss-threshold attack's same columns
(``loss_*``, the floor every membership attack should beat), the target's train and test accuracy and epsilon.
``results.csv`` is written last and atomically, as every trial does, so a relaunched sweep skips finished ones.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import torch
from omegaconf import DictConfig, OmegaConf

from fedpriv.defenses import NoDefense, build_defense
from fedpriv.membership.attacks import MembershipProblem
from fedpriv.membership.metrics import membership_metrics
from fedpriv.membership.models import (Recipe, fedavg_epsilon, logits_of, membership_split, record_losses,
                                       reference_models)
from fedpriv.membership.records import SCORES_FILE, plot_roc, write_scores
from fedpriv.record import write_results
from fedpriv.record.results import objective_of, summary_of
from fedpriv.sweeping.identity import trial_identity
from fedpriv.training.builders import model_name
from fedpriv.training.cache import ModelCache
from fedpriv.utils.runtime import resolve_device

log = logging.getLogger(__name__)


def run_membership_trial(cfg: DictConfig, *, output_dir: str | Path, overrides: list[str] | None = None,
                         run_group: str | None = None):
    """Run one membership trial (the config is already validated) and write ``results.csv`` last."""
    from fedpriv.trial import TrialOutput, _build, _labels

    output_dir = Path(output_dir)
    device, seed, trial_id = resolve_device(cfg.device), int(cfg.seed), trial_identity(cfg)
    dataset, protocol = _build(cfg.dataset, "dataset"), _build(cfg.fl, "fl")
    defense = build_defense(cfg.defense)
    attack, logger = _build(cfg.attack, "attack"), _build(cfg.logger, "logger")
    data = dataset.load()
    defense.bind(data.classes)
    split = membership_split(len(data.train), members=attack.members, attacker=attack.attacker_records, seed=seed)
    run = protocol.federation
    how = (f"{run.rounds} FedAvg rounds over {run.num_clients} clients" if run.rounds > 0
           else f"{cfg.training.epochs} epochs centrally")
    log.info("membership: target %s on %d members (%s, defense %s); %d non-members; attacker holds %d records, "
             "%d reference models", model_name(cfg.model), len(split.members), how, defense.name,
             len(split.non_members), len(split.attacker), attack.models)

    logger.start(config=OmegaConf.to_container(cfg, resolve=True), run_name=trial_id, output_dir=output_dir,
                 group=run_group, labels=_labels(cfg, data.name, protocol, defense, attack))
    failed = True
    try:
        cache = ModelCache(cfg.paths.cache_dir)
        split_key = {"seed": seed, "members": attack.members, "attacker": attack.attacker_records}
        recipe = Recipe(cfg, data, run, cache, device, split_key)
        target, meta = recipe.train("mia-target", split.members, defense=defense, seed=seed, tag="target",
                                    defense_cfg=cfg.defense)
        epsilon, alpha = meta.get("epsilon"), None
        if run.rounds > 0:
            epsilon, alpha = fedavg_epsilon(defense, run, len(split.members))
        shadow_defense = defense if attack.mimic_defense else NoDefense()
        problem = MembershipProblem(
            target=target, data=data, records=split.records, is_member=split.is_member, device=device, seed=seed,
            train_references=lambda count: reference_models(
                recipe, split, count, seed=seed, defense=shadow_defense,
                defense_cfg=cfg.defense if attack.mimic_defense else None))
        start = time.perf_counter()
        result = attack.infer(problem)
        seconds = time.perf_counter() - start
        losses, loss_threshold = _loss_attack(problem, attack.models)

        labels = data.train.labels[split.records]
        target_logits = logits_of(target, data, split.records, device)
        train_acc = float((target_logits.argmax(1)[split.is_member] == labels[split.is_member]).float().mean())
        row = {
            "dataset": data.name, "model": model_name(cfg.model), "fl": protocol.name, "defense": defense.name,
            **defense.describe(), "defense_columns": " ".join(defense.describe()), "attack": attack.name,
            "attack_family": "membership", "seed": cfg.seed, "class": "all", "n": len(split.records),
            "members": len(split.members), "attacker_records": len(split.attacker),
            **membership_metrics(result.scores, split.is_member, result.decisions),
            **membership_metrics(-losses, split.is_member, losses < loss_threshold, prefix="loss"),
            "target_train_acc": train_acc, "target_test_acc": meta.get("test_accuracy"),
            "classifier_acc": meta.get("test_accuracy"), "epsilon": epsilon, "dp_alpha": alpha,
            "reference_models": attack.models, "fedavg_rounds": run.rounds, "attack_seconds": seconds,
            "overrides": " ".join(overrides or []), "trial_id": trial_id,
        }
        rows = [row]
        write_scores(output_dir / SCORES_FILE, records=split.records, labels=labels, is_member=split.is_member,
                     columns={"score": result.scores, "loss_score": -losses})
        grid_path = None
        if cfg.record.grid:
            grid_path = plot_roc(output_dir / "roc.png", {
                f"{attack.name} (AUC {row['mia_auc']:.3f})": (result.scores, split.is_member),
                f"loss (AUC {row['loss_auc']:.3f})": (-losses, split.is_member)},
                title=f"{data.name} {model_name(cfg.model)} {defense.name}")
        summary = {k: float(row[k]) for k in ("mia_acc", "mia_auc", "tpr_at_1pct_fpr", "loss_auc", "target_test_acc")
                   if row.get(k) is not None}
        logger.log_trial(rows=rows, grid=grid_path, summary={**summary_of(rows), **summary})
        # Last, and atomically: a results file means a finished trial, which a relaunched sweep skips.
        results_path = write_results(output_dir / cfg.record.results_file, rows)
        objective = objective_of(results_path, cfg.objective, baseline=cfg.baseline.results)
        log.info("trial %s: %s", trial_id, ", ".join(f"{k}={v:.4g}" for k, v in summary.items()))
        failed = False
        return TrialOutput(rows, objective, results_path, grid_path, {})
    finally:
        logger.finish(failed=failed)


def _loss_attack(problem: MembershipProblem, count: int) -> tuple[torch.Tensor, float]:
    """The loss-threshold attack (Yeom et al. 2018): a record is a member when the target's loss on it is below
    the mean loss the attacker's reference models reach on their own training records."""
    logits = logits_of(problem.target, problem.data, problem.records, problem.device)
    losses = record_losses(logits, problem.labels(problem.records))
    inside = [record_losses(logits_of(r.model, problem.data, r.inside, problem.device), problem.labels(r.inside))
              for r in problem.references(count)]
    return losses, float(torch.cat(inside).mean())
