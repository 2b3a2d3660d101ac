"""Check the command line's overrides before Hydra composes them, and list every problem at once.

Hydra stops at the first override it cannot apply, with a hint that can make things worse ("To append to your
config use +defence=augment" runs a trial with the default defense), and lets ``+`` add keys nothing reads. Here
each override is checked on its own against ``conf/`` and the composed defaults:

- a group option must exist (``defense=augmnt``) and must not be an internal base (``experiment=_laptop``:
  files starting with ``_`` are shared by presets, not presets themselves);
- a key's first part must be a config group or a top-level key (``defence=augment``, ``+defence=augment``);
- a key must exist in the config its group options compose to (``attack.iteration=100``), else the allowed keys
  and the options that have it are named;
- each value is composed alone to catch Hydra's type errors (``training.lr=abc``);

then the composed config goes through :func:`fedpriv.config.validate.config_problems`, so one block lists the
override problems and the value problems together. Only plain commands (``-m`` and overrides) are checked; with
Hydra's other flags (``--cfg``, ``-cn``...) the command goes to Hydra untouched.
"""

from __future__ import annotations

import dataclasses
import sys
from functools import cache
from pathlib import Path
from typing import Iterable

from hydra import compose, initialize_config_dir
from hydra.core.hydra_config import HydraConfig
from hydra.core.override_parser.overrides_parser import OverridesParser
from hydra.core.override_parser.types import Glob, Override
from omegaconf import DictConfig, OmegaConf
from omegaconf.errors import OmegaConfBaseException

from fedpriv.config.members import RESERVED, has_component, member_keys
from fedpriv.config.validate import ConfigError, closest, config_problems, did_you_mean

HIDDEN = "_"  # conf/<group>/_name.yaml: a base other options include, not a choice of its own
MULTIRUN_FLAGS = ("-m", "--multirun")
MAX_CHECKED_JOBS = 10  # sweeps are checked on a few jobs covering every value; the plan checks every job later


# --- what conf/ offers --------------------------------------------------------------------------------------------


def group_options(conf_dir: str | Path) -> dict[str, list[str]]:
    """Every config group of ``conf/`` (Hydra's own ``hydra/`` left out) with all its options, internal ones too."""
    conf_dir = Path(conf_dir)
    return {d.name: sorted(f.stem for f in d.glob("*.yaml"))
            for d in sorted(conf_dir.iterdir()) if d.is_dir() and d.name != "hydra"}


def visible(options: Iterable[str]) -> list[str]:
    """The options a user chooses from: internal bases (``_``-prefixed) left out."""
    return [o for o in options if not o.startswith(HIDDEN)]


def top_level_keys() -> list[str]:
    from fedpriv.config.schema import TrialConfig

    return [f.name for f in dataclasses.fields(TrialConfig)]


@cache
def _option_keys(conf_dir: str, group: str, option: str) -> frozenset[str]:
    node = OmegaConf.load(Path(conf_dir) / group / f"{option}.yaml")
    return frozenset(k for k in node if isinstance(node, DictConfig) and k != "defaults")


# --- the command line ---------------------------------------------------------------------------------------------


def split_command_line(argv: list[str]) -> tuple[list[str], bool] | None:
    """The overrides and whether ``-m`` was given; None when Hydra's other flags are present (left to Hydra)."""
    overrides, multirun = [], False
    for arg in argv:
        if arg in MULTIRUN_FLAGS:
            multirun = True
        elif arg.startswith("-"):
            return None
        else:
            overrides.append(arg)
    return overrides, multirun


def check_command_line(argv: list[str], conf_dir: str | Path) -> None:
    """Print every problem of the command's overrides and exit with code 2; return quietly when there is none."""
    command = split_command_line(argv)
    if command is None:
        return
    overrides, multirun = command
    problems = override_problems(overrides, conf_dir, multirun=multirun)
    if problems:
        print(f"fedpriv: {ConfigError(problems)}", file=sys.stderr)
        raise SystemExit(2)


# --- checking -----------------------------------------------------------------------------------------------------


@dataclasses.dataclass
class _Checked:
    """An override that passed the static checks, as the ``key=value`` elements Hydra would apply one by one."""

    override: Override
    elements: list[str]


def override_problems(arguments: list[str], conf_dir: str | Path, *, multirun: bool) -> list[str]:
    """Every problem of the overrides ``arguments`` (as typed after ``python -m fedpriv.sweep``), in one list."""
    checker = _Checker(str(Path(conf_dir).resolve()))
    chosen, values = checker.static_checks(arguments, multirun=multirun)
    with initialize_config_dir(config_dir=checker.conf_dir, version_base="1.3"):
        configs = [checker.check_values(combination, values) for combination in _zip(list(chosen.values()))]
        if multirun and checker.problems:
            applied = [[e for e in v.elements if e not in checker.rejected] for v in values]
            configs = [_compose(job) for job in _zip([*chosen.values(), *(a for a in applied if a)])]
    problems = checker.problems
    if problems or not multirun:  # a clean sweep is validated trial by trial by the plan (fedpriv.sweeping.plan)
        for cfg in configs:
            if isinstance(cfg, DictConfig):
                HydraConfig.instance().set_config(cfg)  # so that ${hydra:...} in a value resolves as in the trial
                problems += config_problems(cfg)
    return list(dict.fromkeys(problems))


class _Checker:
    def __init__(self, conf_dir: str):
        self.conf_dir = conf_dir
        self.groups = group_options(conf_dir)
        self.problems: list[str] = []
        self.rejected: set[str] = set()

    def static_checks(self, arguments: list[str], *, multirun: bool) -> tuple[dict[str, list[str]], list[_Checked]]:
        """Parse ``arguments`` and check them against ``conf/``: the group choices and the value overrides left."""
        groups, keys = self.groups, top_level_keys()
        parsed = []
        for argument in arguments:
            try:
                parsed += OverridesParser.create().parse_overrides([argument])
            except Exception as err:
                lines = [line for line in str(err).splitlines() if line.strip()]
                self.problems.append(f"{argument}: cannot be parsed ({lines[1 if len(lines) > 1 else 0]}); see "
                                     "https://hydra.cc/docs/advanced/override_grammar/basic/")
        chosen: dict[str, list[str]] = {}
        values: list[_Checked] = []
        for override in parsed:
            key = override.key_or_group
            if key == "hydra" or key.startswith(("hydra.", "hydra/")):
                continue  # Hydra's own settings (launcher, sweep folder): Hydra checks them
            if override.is_sweep_override() and not multirun:
                self.problems.append(f"{override.input_line}: several values make a sweep; add -m to run one trial "
                                     "per value")
                continue
            if key in groups:
                problem, elements = _group_elements(override, groups[key])
                if problem:
                    self.problems.append(problem)
                elif elements:
                    chosen[key] = elements
                continue
            head = key.split(".")[0]
            if head not in groups and head not in keys:
                match = closest(head, sorted(set(groups) | set(keys)))
                if match in groups and "." not in key:  # defence=augment: the group, with the option typed
                    match = f"{match}={override.get_value_element_as_str()}"
                hint = f" (did you mean {match}?)" if match else ""
                self.problems.append(
                    f"{override.input_line}: fedpriv has no config group or key {head!r}{hint}; groups: "
                    f"{', '.join(groups)}; top-level keys: {', '.join(k for k in keys if k not in groups)}")
                continue
            values.append(_Checked(override, _elements(override)))
        return chosen, values

    def check_values(self, combination: list[str], values: list[_Checked]) -> DictConfig | None:
        """The config of ``combination`` (group choices) with every value applied, or None."""
        cfg = _compose([*combination, *(e for v in values for e in v.elements)])
        if isinstance(cfg, DictConfig):
            return cfg
        base = _compose(combination)
        if isinstance(base, Exception):
            self.problems.append(f"{' '.join(combination)}: {hydra_message(base)}")
            return None
        choices = dict(base.hydra.runtime.choices)
        tree = OmegaConf.to_container(OmegaConf.masked_copy(base, [k for k in base if k != "hydra"]), resolve=False)
        applied = []
        for value in values:
            problem = _key_problem(tree, value.override, choices, self.groups, self.conf_dir)
            if problem:
                self.problems.append(problem)
                self.rejected.update(value.elements)
                continue
            for element in value.elements:
                alone = _compose([*combination, element])
                if isinstance(alone, Exception):
                    self.problems.append(f"{element}: {hydra_message(alone)}")
                    self.rejected.add(element)
                else:
                    applied.append(element)
        cfg = _compose([*combination, *applied])
        return cfg if isinstance(cfg, DictConfig) else None


def _group_elements(override: Override, options: list[str]) -> tuple[str | None, list[str]]:
    group = override.key_or_group
    if override.is_delete() or override.value() is None:
        return None, [override.input_line]
    if isinstance(override.value(), Glob):
        choices = override.value().filter(options)
    else:  # one option, a list of them (defense=[augment,dpsgd]: Hydra merges their yamls), or a sweep of these
        choices = list(override.sweep_iterator()) if override.is_sweep_override() else [override.value()]
    names = [str(n) for c in choices for n in (c if isinstance(c, list) else [c])]
    shown = visible(options)
    what = "preset" if group == "experiment" else f"{group} option"
    for name in names:
        if name not in options:
            return f"{group}={name}: no such {what}{did_you_mean(name, shown)}; {what}s: {', '.join(shown)}", []
        if name.startswith(HIDDEN) and isinstance(override.value(), Glob):
            return (f"{override.input_line} takes in {name}, an internal base of other {what}s; leave such bases out "
                    f"with exclude: {group}=glob({','.join(override.value().include)},exclude=_*)"), []
        if name.startswith(HIDDEN):
            return (f"{group}={name}: an internal base of other {what}s, not a {what} to choose"
                    f"{did_you_mean(name.lstrip(HIDDEN), shown)}; {what}s: {', '.join(shown)}"), []
    return None, [f"{override.get_key_element()}={'[' + ','.join(c) + ']' if isinstance(c, list) else c}"
                  for c in choices]


def _elements(override: Override) -> list[str]:
    if override.is_delete():
        return [override.input_line]
    if override.is_sweep_override():
        return [f"{override.get_key_element()}={v}" for v in override.sweep_string_iterator()]
    return [f"{override.get_key_element()}={override.get_value_element_as_str()}"]


def _zip(lists: list[list[str]]) -> list[list[str]]:
    """Jobs that between them use every element of every list (not every combination: the plan checks those)."""
    if not lists:
        return [[]]
    count = min(max(len(items) for items in lists), MAX_CHECKED_JOBS)
    return [[items[i % len(items)] for items in lists] for i in range(count)]


def _compose(overrides: list[str]) -> DictConfig | Exception:
    try:
        return compose(config_name="config", overrides=overrides, return_hydra_config=True)
    except Exception as err:  # Hydra's composition errors (and OmegaConf's beneath them) are what is reported
        return err


def _key_problem(tree: dict, override: Override, choices: dict, groups: dict[str, list[str]],
                 conf_dir: str) -> str | None:
    """Why ``override``'s key cannot be set in ``tree`` (the composed defaults), or None when it can."""
    if override.is_force_add():
        return None
    parts = override.key_or_group.split(".")
    node = tree
    for depth, part in enumerate(parts):
        if not isinstance(node, dict):
            return None  # a list index or a scalar's child: composing says what is wrong
        if part in node:
            node = node[part]
            continue
        if override.is_add() and depth == len(parts) - 1:
            return None  # a new key: validation judges whether its component takes it
        parent = ".".join(parts[:depth])
        return _unknown_key(parent, part, node, override, choices, groups, conf_dir)
    return None


def _unknown_key(parent: str, part: str, node: dict, override: Override, choices: dict,
                 groups: dict[str, list[str]], conf_dir: str) -> str:
    key = f"{parent}.{part}" if parent else part
    chosen = f"{parent}={choices[parent]}" if choices.get(parent) else parent  # defense=none, or training
    allowed = [k for k in node if k not in RESERVED]
    declared = member_keys(node) if has_component(node) else None
    if declared and part in declared:
        return (f"{override.input_line}: {key} is not in {chosen}'s yaml; add it with a +: "
                f"+{override.input_line.lstrip('+')}")
    allowed += [k for k in declared or () if k not in allowed]
    message = f"{override.input_line}: unknown key for {chosen}{did_you_mean(part, allowed)}; "
    message += f"allowed keys: {', '.join(allowed)}" if allowed else f"{chosen} takes no keys"
    if parent in groups:
        having = [o for o in visible(groups[parent]) if part in _option_keys(conf_dir, parent, o)]
        if having:
            message += f"; {parent} options that have {part!r}: {', '.join(having)}"
    return message


def hydra_message(err: Exception) -> str:
    """Hydra's explanation without its config search path listing; OmegaConf's cause first when there is one."""
    cause = err.__cause__
    if isinstance(cause, OmegaConfBaseException):
        return _first_line(cause)
    return _first_line(err)


def _first_line(err: BaseException) -> str:
    lines = [line.strip() for line in str(err).splitlines() if line.strip()]
    return lines[0] if lines else type(err).__name__
