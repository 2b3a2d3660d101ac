"""The trial's handling of mixing defenses (Mixup, InstaHide): what a reconstruction is scored against, and the
adaptive decoder (``attack.decode=mixup``) that seed 003 runs after gradient inversion.

- Without a decoder, a reconstruction of a mixed input can at best be the mixture; seed 003 scores it against the
  mixture's largest-weight private image (:func:`score_largest_component`), not against the row's own image, which
  may carry less weight than one of its partners.
- With ``attack.decode=mixup`` the attacker watches the client over ``attack.decode_epochs`` epochs: every epoch the
  client shares one batch-size-1 update per encoding of its dataset (its target images), the attack inverts each,
  and :func:`fedpriv.attacks.decoders.decode_mixup` solves the recovered encodings for the private images, with
  the encodings' mapping and weights when ``attack.decode_mapping`` grants them (GradAttack's strong attacker, the
  paper's setting). The decoded images are scored against the private images themselves.
"""

from __future__ import annotations

import time

import torch
from torch import Tensor

from fedpriv.attacks.base import AttackProblem
from fedpriv.attacks.decoders import MixupDecoder, mixing_knowledge, paired_with
from fedpriv.defenses import UpdateDefense
from fedpriv.defenses.mixing import MixingDefense, encode_epochs, scoring_references


def decode_problems(values: dict) -> list[str]:
    """Config errors of ``attack.decode`` (``values``: the resolved trial config), found before anything runs."""
    attack, defense = values.get("attack") or {}, values.get("defense")
    if not isinstance(attack, dict) or attack.get("decode", "none") in (None, "none"):
        return []
    if attack["decode"] == "loda_inverse":
        if not _members_of(defense, "fedpriv.defenses.loda.Loda"):
            name = defense.get("_target_") if isinstance(defense, dict) else defense
            return [f"attack.decode=loda_inverse undoes LODA, but defense is {name}; allowed: attack.decode=none, "
                    f"or defense=loda"]
        return []
    if not mixing_members(defense):
        name = defense.get("_target_") if isinstance(defense, dict) else defense
        return [f"attack.decode={attack['decode']} undoes a mixing defense, but defense is {name}; allowed: "
                f"attack.decode=none, or defense=mixup|instahide"]
    batch_size = (values.get("fl") or {}).get("batch_size", 1)
    if batch_size != 1:
        return [f"attack.decode={attack['decode']} inverts one encoding per shared update, but fl.batch_size="
                f"{batch_size}; allowed: fl.batch_size=1"]
    return []


def mixing_members(defense) -> list[str]:
    """Targets of the members of a defense node that mix images (empty when none does)."""
    return _members_of(defense, MixingDefense)


def _members_of(defense, kind) -> list[str]:
    """Targets of the members of a defense node whose class is ``kind`` or a subclass (``kind`` may be named)."""
    from hydra.utils import get_object

    from fedpriv.config.members import has_component, split_members

    if not isinstance(defense, dict) or not has_component(defense):
        return []
    found = []
    for member in split_members(defense)[0]:
        try:
            cls = get_object(member.target)
        except Exception:  # reported by the per-component check
            continue
        if isinstance(kind, str):
            kind = get_object(kind)
        if isinstance(cls, type) and issubclass(cls, kind):
            found.append(member.target)
    return found


def mixing_defense(defense) -> MixingDefense | None:
    """The mixing member of a built defense (itself, or a member of a stack), or None."""
    for member in [defense, *getattr(defense, "members", [])]:
        if isinstance(member, MixingDefense):
            return member
    return None


def score_largest_component(images: dict[str, Tensor], batches) -> dict[str, Tensor]:
    """``images`` with ``original`` replaced, row by row, by the largest-weight private component of its mixture
    (rows keep the batches' order, as the trial builds them); unchanged when the batches were not mixed."""
    if not batches or "mix_weight" not in batches[0].batch.info:
        return images
    references = [scoring_references(target.batch.images, target.batch.info) for target in batches]
    return {**images, "original": torch.cat(references).cpu().float()}


def decode_targets(cfg, data, batches, protocol, defense, attack, victim, device, seed) -> dict[str, Tensor]:
    """Run the adaptive decoder on the client's target images (see the module); returns the trial's image dict with
    one row per private image: ``reconstruction`` the decoded estimate paired with it, ``defended`` its first
    epoch's encoding, ``initial`` the inversion of that encoding. ``attack.decode=loda_inverse`` goes to
    :func:`fedpriv.attacks.loda_inverse.loda_decode_targets`."""
    if attack.decode == "loda_inverse":
        from fedpriv.attacks.loda_inverse import loda_decode_targets

        return loda_decode_targets(cfg, data, batches, protocol, defense, attack, victim, device, seed)
    mixer = mixing_defense(defense)
    index = torch.cat([t.index for t in batches])
    originals = torch.cat([t.originals for t in batches]).float() / 255
    labels = data.test.labels[index].long()
    encoded = encode_epochs(mixer, originals, labels, epochs=attack.decode_epochs, num_classes=data.num_classes,
                            generator=torch.Generator().manual_seed(seed + 3))
    update_defense = UpdateDefense(defense, torch.Generator().manual_seed(seed + 104729))
    others = torch.Generator().manual_seed(seed + 7919)
    population, bounds = data.population(device), data.bounds(device)
    problems = []
    for number in range(len(encoded)):
        x = data.normalize(encoded.images[number : number + 1]).to(device)
        update = protocol.shared_update(victim, x, encoded.targets[number : number + 1].to(device),
                                        defense=update_defense, population=population, generator=others)
        known = update.labels if update.labels is not None else encoded.labels[number : number + 1]
        problems.append(AttackProblem(model=victim, update=update, shape=tuple(data.shape),
                                      num_classes=data.num_classes, bounds=bounds, labels=known.to(device),
                                      seed=seed * 100003 + 50000 + number, device=device, progress=cfg.progress,
                                      protocol=protocol, defense=defense.knowledge(update.gradients)))
    start = time.perf_counter()
    results = attack.reconstruct_many(problems)
    recovered = torch.cat([data.denormalize(r.images.detach()).cpu() for r in results]).clamp(0, 1)
    knowledge = mixing_knowledge(mixer.knowledge([]), encoded.info, mapping=attack.decode_mapping)
    decoded = MixupDecoder(seed=seed)(recovered, knowledge)
    seconds = time.perf_counter() - start
    n = len(originals)
    first = slice(0, n)  # epoch 0: encoding i is led by private image i
    initial = torch.cat([r.initial if r.initial is not None else torch.full_like(r.images, float("nan"))
                         for r in results[:n]])
    return {"index": index, "original": originals, "defended": encoded.images[first].float(),
            "reconstruction": paired_with(decoded, originals).float(),
            "initial": data.denormalize(initial.detach()).cpu(), "labels": labels,
            "guessed": torch.cat([r.labels.detach().cpu().view(-1) for r in results[:n]]),
            "seconds": torch.full((n,), seconds / n)}


def tag_rows(rows: list[dict], attack, defense) -> list[dict]:
    """Under a mixing defense or LODA, name the decoder in every row, as a defense column, so that a report keeps the
    decoded arms apart from the gradient-only ones (other defenses' rows are left as they are)."""
    from fedpriv.attacks.loda_inverse import loda_defense

    decode = getattr(attack, "decode", "none")
    if mixing_defense(defense) is None and loda_defense(defense) is None:
        return rows
    for row in rows:
        row["decode"] = decode
        row["defense_columns"] = " ".join([*row["defense_columns"].split(), "decode"])
    return rows
