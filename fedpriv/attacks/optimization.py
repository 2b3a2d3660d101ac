"""Optimisation attacks: find inputs whose simulated update matches the shared one.

:class:`OptimizationAttack` holds what DLG, Inverting Gradients and their relatives share: the distance between
updates and its per-layer weighting, priors, the optimiser and its schedule, random restarts scored by the
matching objective, and how labels are obtained (given, inferred from the update, or optimised as soft labels).
It hands the work to :mod:`fedpriv.attacks.engine`, ``parallel`` problems (each restart is one) at a time.
"""

from __future__ import annotations

import copy
import math
from typing import Annotated, Optional

import torch
from torch import Tensor, nn
from torch.func import replace_all_batch_norm_modules_

from fedpriv.attacks.base import Attack, AttackProblem, Reconstruction
from fedpriv.attacks.decoders import Decode
from fedpriv.attacks.convergence import SUCCESS_PSNR, converged_at
from fedpriv.attacks.engine import OPTIMIZERS, SCHEDULES, MatchingModule, initial_images, run_matching
from fedpriv.attacks.labels import infer_labels
from fedpriv.attacks.objectives import DISTANCES, LAYER_WEIGHTS, defense_mask, layer_weights, masked, total_variation
from fedpriv.config.constraints import OneOf, Range
from fedpriv.fl.base import Protocol
from fedpriv.fl.fedsgd import FedSGD
from fedpriv.utils.bars import AttackBar, StepTimer

LABEL_SOURCES = ("given", "infer", "optimize")


class OptimizationAttack(Attack):
    """Common options of the optimisation attacks.

    Args:
        iterations: optimiser steps per restart.
        restarts: independent random starts per problem; the one with the lowest matching objective is kept.
        optimizer / lr / schedule: ``adam``, ``sgd`` or ``lbfgs``; its step size; ``step`` (drops by 10x at
            3/8, 5/8, 7/8 of the run), ``cosine`` or ``none``.
        signed: step on the sign of the image gradient (Adam/SGD).
        box: project candidates into the valid pixel range after every step.
        distance: ``cosine``, ``euclidean`` or ``l1`` between candidate and shared updates.
        layer_weights: ``equal``, ``linear`` or ``exp`` weighting of parameter tensors, input side first.
        tv_weight: weight of the total-variation prior.
        init: ``randn`` or ``uniform`` starting candidates.
        labels: ``given`` (the server knows them), ``infer`` (from the last layer's gradient: iDLG's rule at
            batch size 1, a counting rule above), or ``optimize`` (soft labels optimised with the images).
        parallel: problems optimised together in one vectorised computation (restarts count as problems).
        adaptive: when the threat model grants the defense's mask of kept entries (``problem.defense.mask``, set
            by gradient pruning), match only those entries of the update; false matches the whole update, as an
            attacker unaware of the defense would.
        decode: ``none``, or ``mixup``: after inverting, solve the recovered encodings of a mixing defense (Mixup,
            InstaHide) for the client's private images (:mod:`fedpriv.attacks.decode_stage`); ``loda_inverse``:
            find the private image the recovered LODA encoding is a stationary point for
            (:mod:`fedpriv.attacks.loda_inverse`).
        decode_c / decode_steps / decode_lr: ``loda_inverse``'s guess of LODA's ``c`` and its Adam steps and rate.
        decode_epochs: epochs of the client's encodings the decoder collects (each private image leads one
            encoding per epoch, so ``decode_epochs`` times the images are inverted). 8 by default: enough for an
            over-determined system at CPU scale; GradAttack collects 20.
        decode_mapping: the threat model grants the mapping and weights of every encoding (GradAttack's strong
            attacker, seed 003's setting); false estimates them from the encodings.
        converged_below: the matching objective below which a run counts as converged (DLG's "loss ~0"); results
            rows report the first iteration below it (of the kept restart), empty if never.
        success_psnr: PSNR (dB) a converged reconstruction must exceed to count as a success (20 dB: a mean
            squared pixel error of 0.01).
    """

    name = "optimization"
    vectorizable = True

    def __init__(
        self,
        *,
        iterations: Annotated[int, Range(1)] = 300,
        restarts: Annotated[int, Range(1, 256)] = 1,
        optimizer: Annotated[str, OneOf(OPTIMIZERS)] = "adam",
        lr: Annotated[float, Range(0, None, low_open=True)] = 0.1,
        schedule: Annotated[str, OneOf(SCHEDULES)] = "step",
        signed: bool = True,
        box: bool = True,
        distance: Annotated[str, OneOf(tuple(DISTANCES))] = "cosine",
        layer_weights: Annotated[str, OneOf(LAYER_WEIGHTS)] = "equal",
        tv_weight: Annotated[float, Range(0)] = 1e-4,
        init: Annotated[str, OneOf(("randn", "uniform"))] = "randn",
        labels: Annotated[str, OneOf(LABEL_SOURCES)] = "infer",
        parallel: Annotated[int, Range(1, 4096)] = 1,
        adaptive: bool = True,
        decode: Decode = "none",
        decode_epochs: Annotated[int, Range(1, 100)] = 8,
        decode_mapping: bool = True,
        decode_c: Annotated[float, Range(0)] = 1.0,
        decode_steps: Annotated[int, Range(1)] = 100,
        decode_lr: Annotated[float, Range(0, None, low_open=True)] = 0.05,
        converged_below: Annotated[float, Range(0, None, low_open=True)] = 1e-3,
        success_psnr: float = SUCCESS_PSNR,
    ):
        self.decode, self.decode_epochs, self.decode_mapping = decode, decode_epochs, decode_mapping
        self.decode_c, self.decode_steps, self.decode_lr = decode_c, decode_steps, decode_lr
        self.iterations, self.restarts = iterations, restarts
        self.adaptive = adaptive
        self.converged_below, self.success_psnr = converged_below, success_psnr
        self.optimizer, self.lr, self.schedule = optimizer, lr, schedule
        self.signed, self.box = signed, box
        self.distance, self.layer_weighting, self.tv_weight = distance, layer_weights, tv_weight
        self.init, self.label_source, self.parallel = init, labels, parallel

    # --- hooks for subclasses -----------------------------------------------------------------------------------

    def penalty(self, model: nn.Module, params: dict, buffers: dict, x: Tensor) -> Tensor | float:
        """Extra prior on one problem's candidates (besides total variation); vmappable."""
        return 0.0

    def joint_penalty(self, problems: list[int]) -> Optional[callable]:
        """A term over all candidates of a chunk (entry i belongs to ``problems[i]``), or None."""
        return None

    # --- the attack ---------------------------------------------------------------------------------------------

    def reconstruct(self, problem: AttackProblem) -> Reconstruction:
        return self.reconstruct_many([problem])[0]

    def reconstruct_many(self, problems: list[AttackProblem]) -> list[Reconstruction]:
        labels = [self.problem_labels(p) for p in problems]
        entries = [(i, r) for i, _ in enumerate(problems) for r in range(self.restarts)]
        chunks = [group[start : start + self.chunk_size] for group in self._groups(problems, entries)
                  for start in range(0, len(group), self.chunk_size)]
        bar = AttackBar(chunks=len(chunks), iterations=self.iterations, updates=len(problems), restarts=self.restarts,
                        enabled=bool(problems) and problems[0].progress)
        best: dict[int, tuple] = {}
        try:
            for chunk in chunks:
                self._run_chunk(problems, labels, chunk, best, bar.chunk(chunk))
        finally:
            bar.close()
        out = []
        for i, problem in enumerate(problems):
            objective, images, initial, guessed, seconds, restart, curve = best[i]
            out.append(Reconstruction(images=images, labels=guessed, loss=objective, initial=initial, info={
                "attack_seconds": seconds, "best_restart": restart, "iterations": self.iterations * self.restarts,
                "matching_loss": objective, "converged_at": converged_at(curve, self.converged_below),
                "objective_curve": curve}))
        return out

    @property
    def chunk_size(self) -> int:
        """Problems (restarts included) optimised together; L-BFGS couples them, so it takes one at a time."""
        return 1 if self.optimizer == "lbfgs" or not self.vectorizable else self.parallel

    def estimate_seconds(self, problem: AttackProblem, *, updates: int, budget: float = 0.5) -> Optional[float]:
        """Seconds to attack ``updates`` shared updates like ``problem``: a few real iterations of one full chunk
        are timed (for about ``budget`` seconds, or one step when a step takes longer) and extrapolated."""
        entries = [(0, r) for _ in range(updates) for r in range(self.restarts)][: self.chunk_size]
        module, _ = self._chunk_module([problem], [self.problem_labels(problem)], entries)
        timer = StepTimer(steps=4, budget=budget)
        run_matching(module, device=problem.device, progress=timer, steps=4)
        chunks = math.ceil(updates * self.restarts / self.chunk_size)
        return chunks * self.iterations * timer.per_step()

    def problem_labels(self, problem: AttackProblem) -> Tensor:
        if self.label_source == "given":
            if problem.labels is None:
                from fedpriv.config.validate import ConfigError

                raise ConfigError(["attack.labels=given but the threat model gives the server no labels"])
            return problem.labels
        if self.label_source == "optimize":
            return torch.empty(0)
        return infer_labels(problem)

    def mask(self, problem: AttackProblem) -> list[Tensor] | None:
        """The update entries this attack matches for ``problem`` (None: all of them)."""
        return defense_mask(problem, self.adaptive)

    def _groups(self, problems, entries):
        """Entries that can share one vectorised computation: same model, protocol, shapes and masking."""
        groups: dict[tuple, list] = {}
        for i, r in entries:
            p = problems[i]
            key = (id(p.model), id(p.protocol), p.reconstruct_size, tuple(g.shape for g in p.update.gradients),
                   self.mask(p) is not None)
            groups.setdefault(key, []).append((i, r))
        return list(groups.values())

    def _run_chunk(self, problems, labels, chunk, best, bar):
        module, init = self._chunk_module(problems, labels, chunk)
        seconds = run_matching(module, device=problems[chunk[0][0]].device, progress=bar) / len(chunk)
        final = module.final_objective
        guessed_all = module.current_labels().detach()
        for k, (i, r) in enumerate(chunk):
            guessed = guessed_all[k].argmax(-1) if guessed_all.is_floating_point() else guessed_all[k]
            initial = torch.maximum(torch.minimum(init[k], module.high[0]), module.low[0])
            spent = best[i][4] + seconds if i in best else seconds
            if i not in best or float(final[k]) < best[i][0]:
                best[i] = (float(final[k]), module.candidate[k].detach().clone(), initial, guessed, spent, r,
                           module.objective_curve[:, k])
            else:
                best[i] = (*best[i][:4], spent, *best[i][5:])

    def _chunk_module(self, problems, labels, chunk) -> tuple[MatchingModule, Tensor]:
        """The matching module of one chunk of (problem, restart) entries, and its starting candidates."""
        first = problems[chunk[0][0]]
        device, n = first.device, first.reconstruct_size
        shape = (n, *first.shape)
        inits = []
        for i, r in chunk:
            generator = torch.Generator().manual_seed(problems[i].seed * 1009 + r)
            inits.append(initial_images(self.init, shape, problems[i].bounds, generator))
        init = torch.stack(inits).to(device)
        if self.label_source == "optimize":
            label_init = torch.stack([torch.randn((n, first.num_classes),
                                                  generator=torch.Generator().manual_seed(problems[i].seed * 1013 + r))
                                      for i, r in chunk]).to(device)
        else:
            label_init = torch.stack([labels[i].to(device) for i, _ in chunk])
        targets = [torch.stack([problems[i].update.gradients[j] for i, _ in chunk]).to(device)
                   for j in range(len(first.update.gradients))]
        if self.mask(first) is not None:  # masks travel with the targets: each problem has its own
            masks = [self.mask(problems[i]) for i, _ in chunk]
            targets += [torch.stack([m[j] for m in masks]).to(device, targets[j].dtype) for j in range(len(targets))]
        module = MatchingModule(
            problem_loss=self.problem_loss(first), targets=targets, labels=label_init, init=init,
            bounds=tuple(b.to(device) for b in first.bounds), iterations=self.iterations, optimizer=self.optimizer,
            lr=self.lr, schedule=self.schedule, signed=self.signed, box=self.box,
            optimize_labels=self.label_source == "optimize", joint_penalty=self.joint_penalty([i for i, _ in chunk]),
            vectorize=self.vectorizable and len(chunk) > 1,  # vmap over one problem only adds overhead
        )
        return module, init

    def problem_loss(self, problem: AttackProblem):
        """The per-problem loss for ``problem``'s model and protocol: (objective + priors, objective)."""
        model = problem.model
        if model.training:
            # Train-mode BatchNorm normalises with batch statistics; a copy without running buffers keeps that
            # behaviour and lets vmap run (nothing is updated in place).
            model = copy.deepcopy(model)
            replace_all_batch_norm_modules_(model)
        params = {k: v.detach() for k, v in model.named_parameters()}
        buffers = {k: v.detach() for k, v in model.named_buffers()}
        protocol: Protocol = problem.protocol or FedSGD(batch_size=problem.batch_size)
        distance = DISTANCES[self.distance]
        weights = layer_weights(self.layer_weighting, len(params))
        tv_weight = self.tv_weight
        count, is_masked = len(problem.update.gradients), self.mask(problem) is not None

        def loss(x: Tensor, labels: Tensor, *target: Tensor) -> tuple[Tensor, Tensor]:
            candidate = protocol.simulate(model, params, buffers, x, labels)
            if is_masked:  # target = the shared update's tensors, then their masks
                candidate, target = masked(candidate, target[count:]), masked(target[:count], target[count:])
            objective = distance(candidate, target, weights)
            total = objective + self.penalty(model, params, buffers, x)
            if tv_weight > 0:
                total = total + tv_weight * total_variation(x)
            return total, objective

        return loss
