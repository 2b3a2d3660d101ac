"""Check a composed trial config against the schemas of its parts and report every problem at once.

Two kinds of schema are checked. The top-level blocks (``targets``, ``training``...) are dataclasses in
:mod:`fedpriv.config.schema`; Hydra already enforces their keys and types while composing, and this module adds
their value constraints. Every node with a ``_target_`` (dataset, model, defense, attack, ...) is checked
against the constructor signature of that target: unknown keys, wrong types, missing required values and the
``Range``/``OneOf`` constraints declared there. A target may also define ``config_problems(**values)`` for
checks that span several keys or touch the file system (a dataset root that does not exist).
"""

from __future__ import annotations

import dataclasses
import difflib
import inspect
import types
import typing
from typing import Any, Iterable

from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import MissingMandatoryValue, OmegaConfBaseException

from fedpriv.config.constraints import Injected, OneOf, Range
from fedpriv.config.members import RESERVED, has_component, is_stack, split_members


class ConfigError(ValueError):
    """Raised when a config has problems; the message lists each one with its key."""

    def __init__(self, problems: Iterable[str]):
        self.problems = list(problems)
        lines = "\n".join(f"  - {p}" for p in self.problems)
        count = len(self.problems)
        super().__init__(f"the configuration has {count} problem{'s' if count != 1 else ''} (nothing was run):\n{lines}")


def validate(cfg: DictConfig) -> None:
    """Raise :class:`ConfigError` listing every problem of ``cfg``; return quietly when there is none."""
    problems = config_problems(cfg)
    if problems:
        raise ConfigError(problems)


def config_problems(cfg: DictConfig) -> list[str]:
    from fedpriv.config.schema import TrialConfig

    try:
        trial = OmegaConf.masked_copy(cfg, [k for k in cfg.keys() if k != "hydra"])
        values = OmegaConf.to_container(trial, resolve=True, throw_on_missing=True)
    except MissingMandatoryValue as err:
        return [f"{getattr(err, 'full_key', None) or '?'}: must be set (it has no default)"]
    except OmegaConfBaseException as err:
        key = getattr(err, "full_key", None) or "?"
        return [f"{key}: cannot be resolved ({getattr(err, 'msg', err)})"]
    from fedpriv.config.combinations import combination_problems
    from fedpriv.sweeping.advantage import baseline_problems

    return (_dataclass_problems(TrialConfig, values, prefix="") + combination_problems(values)
            + baseline_problems(values))


# --- dataclass blocks -------------------------------------------------------------------------------------------


def _dataclass_problems(schema: type, values: dict, prefix: str) -> list[str]:
    problems = []
    hints = typing.get_type_hints(schema, include_extras=True)
    names = [f.name for f in dataclasses.fields(schema)]
    # Hydra lets ``+key=value`` add keys that no schema declares; nothing would read them, so they are mistakes.
    for name in values:
        if name not in names:
            problems.append(f"{_join(prefix, name)}: unknown key{did_you_mean(name, names)}; "
                            f"allowed keys{' in ' + prefix if prefix else ''}: {', '.join(names)}")
    for name in names:
        if name in values:
            problems += _value_problems(values[name], hints[name], _join(prefix, name))
    if not problems and hasattr(schema, "config_problems"):
        # Checks that touch the file system (a weights file that must load) run once the types are right.
        problems += [_join(prefix, p) for p in schema.config_problems(**values)]
    return problems


def closest(name: str, candidates: Iterable[str]) -> str | None:
    """The candidate closest to a mistyped ``name``, or None when none is close."""
    close = difflib.get_close_matches(name, list(candidates), n=1, cutoff=0.6)
    return close[0] if close else None


def did_you_mean(name: str, candidates: Iterable[str]) -> str:
    """``" (did you mean X?)"`` naming the closest candidate, or ``""`` when none is close."""
    match = closest(name, candidates)
    return f" (did you mean {match}?)" if match else ""


# --- component nodes (anything with a _target_) -----------------------------------------------------------------


def _component_problems(node: dict, key: str) -> list[str]:
    if is_stack(node):  # defense=[augment,dpsgd]: keys split among the members, each checked as if alone
        members, problems = split_members(node, key)
        return problems + [p for member in members for p in _component_problems(member.node(), key)]
    node = node if "_target_" in node else split_members(node, key)[0][0].node()
    target_path = node["_target_"]
    where = key or "<root>"
    try:
        from hydra.utils import get_object

        target = get_object(target_path)
    except Exception as err:  # an import error names the missing module; keep it in the message
        return [f"{_join(key, '_target_')}={target_path!r} cannot be imported ({err})"]
    if node.get("_partial_"):
        return []
    try:
        params, hints, takes_kwargs = _signature(target)
    except (TypeError, ValueError, NameError):
        return []
    settable = [n for n in params if not _is_injected(hints.get(n))]

    problems = []
    for name, value in node.items():
        if name in RESERVED:
            continue
        if name not in params:
            if not takes_kwargs:
                allowed = f"allowed keys: {', '.join(settable)}" if settable else "it takes no keys"
                problems.append(f"{_join(key, name)}: unknown key for {where} ({target_path})"
                                f"{did_you_mean(name, settable)}; {allowed}")
            continue
        if _is_injected(hints.get(name)):
            problems.append(f"{_join(key, name)}: is set by the trial at build time; remove it from the config")
            continue
        problems += _value_problems(value, hints.get(name, Any), _join(key, name))
    for name in settable:
        if params[name].default is inspect.Parameter.empty and name not in node:
            problems.append(f"{_join(key, name)}: required by {target_path} but not set")
    if not problems and hasattr(target, "config_problems"):
        given = {k: v for k, v in node.items() if k not in RESERVED}
        problems += [f"{key}.{p}" if key else p for p in target.config_problems(**given)]
    return problems


def settable_keys(target_path: str) -> list[str] | None:
    """The keys a config node with ``_target_: target_path`` may set, or None when they cannot be read."""
    try:
        from hydra.utils import get_object

        params, hints, _ = _signature(get_object(target_path))
    except Exception:
        return None
    return [n for n in params if not _is_injected(hints.get(n))]


def _signature(target) -> tuple[dict[str, inspect.Parameter], dict[str, Any], bool]:
    """Keyword parameters of ``target`` with their annotations.

    A class whose ``__init__`` forwards ``**kwargs`` to its base (``Digits(image_size, **common)``) accepts the
    base's parameters too; they are collected along the method resolution order until an ``__init__`` without
    ``**kwargs``, so unknown keys are still caught.
    """
    functions = [target]
    if inspect.isclass(target):
        functions = []
        for cls in target.__mro__:
            if cls is object:  # object.__init__ takes nothing from a config
                break
            init = cls.__dict__.get("__init__")
            if init is None:
                continue
            functions.append(init)
            if not any(p.kind is inspect.Parameter.VAR_KEYWORD for p in inspect.signature(init).parameters.values()):
                break
    params, hints, takes_kwargs = {}, {}, False
    for function in functions:
        signature = inspect.signature(function)
        hints.update({k: v for k, v in typing.get_type_hints(function, include_extras=True).items() if k not in hints})
        for name, p in signature.parameters.items():
            if name != "self" and p.kind not in (inspect.Parameter.VAR_POSITIONAL, inspect.Parameter.VAR_KEYWORD):
                params.setdefault(name, p)
        takes_kwargs = any(p.kind is inspect.Parameter.VAR_KEYWORD for p in signature.parameters.values())
    return params, hints, takes_kwargs


def _is_injected(annotation: Any) -> bool:
    return typing.get_origin(annotation) is typing.Annotated and any(
        isinstance(m, Injected) for m in annotation.__metadata__
    )


# --- values ------------------------------------------------------------------------------------------------------


def _value_problems(value: Any, annotation: Any, key: str) -> list[str]:
    constraints = ()
    if typing.get_origin(annotation) is typing.Annotated:
        constraints = annotation.__metadata__
        annotation = typing.get_args(annotation)[0]

    if has_component(value):
        return _component_problems(value, key)
    if dataclasses.is_dataclass(annotation) and isinstance(value, dict):
        return _dataclass_problems(annotation, value, key)

    type_problem = _type_problem(value, annotation)
    if type_problem:
        return [f"{key}={value!r} {type_problem}"]

    problems = []
    if value is not None:
        for c in constraints:
            if isinstance(c, (Range, OneOf)):
                message = c.check(value)
                if message:
                    problems.append(f"{key}={value!r} {message}")
    problems += _nested_problems(value, annotation, key)
    return problems


def _nested_problems(value: Any, annotation: Any, key: str) -> list[str]:
    """Recurse into containers whose items carry their own schema (lists/dicts of dataclasses or components)."""
    args = [a for a in typing.get_args(annotation) if a is not type(None)]
    origin = typing.get_origin(annotation)
    if origin in (typing.Union, types.UnionType) and len(args) == 1:
        return _nested_problems(value, args[0], key)
    problems = []
    if isinstance(value, dict):
        item_type = args[1] if origin is dict and len(args) == 2 else Any
        for k, v in value.items():
            if isinstance(v, dict) and (has_component(v) or dataclasses.is_dataclass(_strip(item_type))):
                problems += _value_problems(v, item_type, _join(key, str(k)))
            elif annotation is Any and isinstance(v, dict):
                problems += _nested_problems(v, Any, _join(key, str(k)))
    elif isinstance(value, list):
        item_type = args[0] if origin in (list, tuple) and args else Any
        for i, v in enumerate(value):
            if isinstance(v, dict):
                problems += _value_problems(v, item_type, f"{key}[{i}]")
    return problems


def _strip(annotation: Any) -> Any:
    if typing.get_origin(annotation) is typing.Annotated:
        return typing.get_args(annotation)[0]
    return annotation


_TYPE_NAMES = {int: "an integer", float: "a number", bool: "true or false", str: "a string", list: "a list", dict: "a mapping"}


def _type_problem(value: Any, annotation: Any) -> str | None:
    """None when ``value`` fits ``annotation``; otherwise a short phrase saying what was expected."""
    annotation = _strip(annotation)
    if annotation is Any or annotation is inspect.Parameter.empty:
        return None
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin in (typing.Union, types.UnionType):
        if any(_type_problem(value, a) is None for a in args):
            return None
        named = [_describe(a) for a in args if a is not type(None)]
        return f"has the wrong type; expected {' or '.join(named)}{' or null' if type(None) in args else ''}"
    if origin is typing.Literal:
        return None if value in args else f"is not allowed; allowed values: {', '.join(map(str, args))}"
    if annotation is type(None):
        return None if value is None else "should be null"
    if value is None:
        return f"is null; expected {_describe(annotation)}"
    base = origin or annotation
    if base in (list, tuple, typing.Sequence):
        if not isinstance(value, (list, tuple)):
            return "has the wrong type; expected a list"
        if args and args[-1] is not Ellipsis:
            for item in value:
                if not isinstance(item, dict) and _type_problem(item, args[0]):
                    return f"has an item of the wrong type; expected a list of {_describe(args[0])}"
        return None
    if base in (dict, typing.Mapping):
        return None if isinstance(value, dict) else "has the wrong type; expected a mapping"
    if base is bool:
        return None if isinstance(value, bool) else f"has the wrong type; expected {_TYPE_NAMES[bool]}"
    if base is int:
        return None if isinstance(value, int) and not isinstance(value, bool) else f"has the wrong type; expected {_TYPE_NAMES[int]}"
    if base is float:
        ok = isinstance(value, (int, float)) and not isinstance(value, bool)
        return None if ok else f"has the wrong type; expected {_TYPE_NAMES[float]}"
    if base is str:
        return None if isinstance(value, str) else f"has the wrong type; expected {_TYPE_NAMES[str]}"
    if dataclasses.is_dataclass(base):
        return None if isinstance(value, dict) else "has the wrong type; expected a mapping"
    return None


def _describe(annotation: Any) -> str:
    annotation = _strip(annotation)
    base = typing.get_origin(annotation) or annotation
    return _TYPE_NAMES.get(base, getattr(base, "__name__", str(base)))


def _join(prefix: str, name: str) -> str:
    return f"{prefix}.{name}" if prefix else name
