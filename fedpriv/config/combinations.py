"""Checks across config groups: settings that are valid alone but do nothing on the chosen dataset.

A defense may declare ``input_problems(channels=..., **its_keys)`` (``color`` is a no-op on grey images); the
dataset's channel count is known before loading from its class (``channels``) or its config (``channels`` of an
image folder), so the problem is reported with the rest of the configuration, before anything is computed.
"""

from __future__ import annotations

from typing import Any, Optional

from fedpriv.config.members import has_component, split_members


def dataset_channels(dataset: Any) -> Optional[int]:
    """The channel count a dataset node will load, when it is known without loading (else None)."""
    if not isinstance(dataset, dict) or "_target_" not in dataset:
        return None
    if isinstance(dataset.get("channels"), int):
        return dataset["channels"]
    from hydra.utils import get_object

    try:
        channels = getattr(get_object(dataset["_target_"]), "channels", None)
    except Exception:  # an unimportable target is reported by the per-component check
        return None
    return channels if isinstance(channels, int) else None


def defense_input_problems(defense: Any, *, channels: Optional[int]) -> list[str]:
    """``defense.*`` settings that would change nothing on images of ``channels`` channels."""
    if channels is None or not has_component(defense):
        return []
    from hydra.utils import get_object

    problems = []
    for member in split_members(defense)[0]:  # each member of a stack checks its own keys
        try:
            check = getattr(get_object(member.target), "input_problems", None)
        except Exception:  # as above: the per-component check names the target that cannot be imported
            continue
        if check is not None:
            problems += [f"defense.{p}" for p in check(channels=channels, **member.values)]
    return problems


def combination_problems(values: dict) -> list[str]:
    from fedpriv.attacks.decode_stage import decode_problems
    from fedpriv.fl.split import split_problems

    return (defense_input_problems(values.get("defense"), channels=dataset_channels(values.get("dataset")))
            + decode_problems(values) + split_problems(values))
