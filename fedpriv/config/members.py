"""A config node made of several components: ``defense=[prune,noise]`` on the command line.

Hydra's multi-select of a config group merges the chosen yamls into one node, so the merged ``defense`` node
holds every member's keys side by side. Each defense yaml names itself in ``_members_: {<name>: <class path>}``;
merging keeps those entries in the order the options were chosen, so the node knows its members. Every other key
belongs to the one member whose constructor takes it; a key two members both take cannot be split and is a
config error, as is a key none of them takes.

A node with one member (or none declared) is an ordinary component: its ``_target_`` is built with its keys, so
``defense._target_=...`` overrides keep working.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

MEMBERS = "_members_"
HYDRA_KEYS = {"_target_", "_partial_", "_recursive_", "_convert_", "_args_"}
RESERVED = HYDRA_KEYS | {MEMBERS}


@dataclass
class Member:
    """One component of a node: its name in ``_members_``, its class path and the keys that belong to it."""

    name: str
    target: str
    values: dict[str, Any] = field(default_factory=dict)

    def node(self) -> dict[str, Any]:
        """The member as an ordinary component node (``_target_`` and its keys)."""
        return {"_target_": self.target, **self.values}


def is_stack(node: Any) -> bool:
    """Whether ``node`` declares two or more members."""
    return isinstance(node, Mapping) and isinstance(node.get(MEMBERS), Mapping) and len(node[MEMBERS]) > 1


def has_component(node: Any) -> bool:
    """Whether ``node`` describes a component: a ``_target_``, or members to build."""
    return isinstance(node, Mapping) and ("_target_" in node or isinstance(node.get(MEMBERS), Mapping)
                                          and len(node[MEMBERS]) > 0)


def split_members(node: dict, key: str = "defense") -> tuple[list[Member], list[str]]:
    """The members of ``node`` with their keys, and the problems that keep it from being split (keys none or two
    members take, members that cannot be imported), each message naming ``key``."""
    values = {k: v for k, v in node.items() if k not in RESERVED}
    if not is_stack(node):
        declared = node.get(MEMBERS) or {}
        name = next(iter(declared), None)
        target = node.get("_target_") or declared.get(name)
        return [Member(name or str(target).rsplit(".", 1)[-1].lower(), target, values)], []

    from fedpriv.config.validate import did_you_mean, settable_keys

    members, problems, accepted = [], [], {}
    for name, target in node[MEMBERS].items():
        members.append(Member(str(name), str(target)))
        keys = settable_keys(str(target))
        if keys is None:
            problems.append(f"{key}.{MEMBERS}.{name}={target!r} cannot be imported")
            keys = []
        accepted[str(name)] = keys
    chosen = f"[{','.join(m.name for m in members)}]"
    for name, value in values.items():
        takers = [m for m in members if name in accepted[m.name]]
        if len(takers) == 1:
            takers[0].values[name] = value
        elif takers:
            listed = " and ".join(f"{m.name} ({m.target})" for m in takers)
            problems.append(f"{key}.{name}: taken by both {listed}, so {key}={chosen} cannot tell whose it is; "
                            "these cannot be combined while both take it")
        else:
            allowed = sorted({k for keys in accepted.values() for k in keys})
            problems.append(f"{key}.{name}: unknown key for {key}={chosen}{did_you_mean(name, allowed)}; allowed "
                            f"keys: {', '.join(allowed)}")
    return members, problems


def member_keys(node: dict) -> list[str] | None:
    """Every key the members of ``node`` may set (None when a member's keys cannot be read)."""
    from fedpriv.config.validate import settable_keys

    targets = list((node.get(MEMBERS) or {}).values()) if is_stack(node) else [node.get("_target_")]
    keys: list[str] = []
    for target in targets:
        if not target:
            return None
        found = settable_keys(str(target))
        if found is None:
            return None
        keys += [k for k in found if k not in keys]
    return keys


def hashable(node: Any) -> Any:
    """``node`` as identities and cache keys hash it (their hashes sort mapping keys): one defense as its
    ``_target_`` and keys alone, as before members were named; a stack with its members as an ordered list."""
    if not isinstance(node, dict) or MEMBERS not in node:
        return node
    rest = {k: v for k, v in node.items() if k != MEMBERS}
    return {**rest, MEMBERS: [[str(k), str(v)] for k, v in node[MEMBERS].items()]} if is_stack(node) else rest
