"""``python -m fedpriv.sweep --help``: what a user can choose, read from ``conf/``, in place of Hydra's config dump.

Groups and their options come from the folders of ``conf/`` (internal ``_``-prefixed bases left out), defaults
from ``conf/config.yaml``, launchers from ``conf/hydra/launcher/`` and the ones fedpriv registers, so a new option
shows up here without an edit. ``--cfg job`` and ``--hydra-help`` still give Hydra's own views.
"""

from __future__ import annotations

import dataclasses
import textwrap
from pathlib import Path

from omegaconf import OmegaConf

from fedpriv.config.overrides import group_options, visible

HELP_FLAGS = ("-h", "--help")
WIDTH = 100

COMMANDS = [
    ("python -m fedpriv.sweep", "one trial, default config (offline, real images, about a minute on a CPU)"),
    ("python -m fedpriv.sweep -m defense=augment defense.magnitude=1,3,5,7,9",
     "a sweep: one trial per value, under multirun/"),
    ("python -m fedpriv.sweep -m experiment=seed000_cifar10_small dataset.root=/data/cifar10",
     "a preset grid at laptop scale"),
    ("python -m fedpriv.progress multirun/<sweep>", "trials done, running and left"),
    ("python -m fedpriv.report multirun/<sweep>", "tables and figures from the trials that finished"),
]


def defaults(conf_dir: Path) -> dict[str, str]:
    """The option each group takes when none is given (``conf/config.yaml``'s defaults list)."""
    chosen = {}
    for entry in OmegaConf.to_container(OmegaConf.load(conf_dir / "config.yaml")).get("defaults", []):
        if isinstance(entry, dict):
            chosen.update({str(k).removeprefix("override ").lstrip("/"): v for k, v in entry.items()})
    return chosen


def launchers(conf_dir: Path) -> list[str]:
    """``hydra/launcher`` options: fedpriv's yaml files and the launchers its Hydra plugin registers."""
    from hydra.core.config_store import ConfigStore

    import hydra_plugins.fedpriv_launchers  # noqa: F401  (registers submitit_local)

    names = {f.stem for f in (conf_dir / "hydra" / "launcher").glob("*.yaml")}
    store = ConfigStore.instance()
    for name in store.list("hydra/launcher"):
        if store.load(f"hydra/launcher/{name}").provider == "fedpriv":
            names.add(name.removesuffix(".yaml"))
    return sorted(visible(names))


def help_text(conf_dir: str | Path) -> str:
    conf_dir = Path(conf_dir)
    groups = group_options(conf_dir)
    chosen = defaults(conf_dir)
    presets = visible(groups.pop("experiment", []))
    order = [g for g in chosen if g in groups] + [g for g in groups if g not in chosen]
    rows = {g: _options(visible(groups[g]), chosen.get(g)) for g in order}
    rows["hydra/launcher"] = _options(launchers(conf_dir), "local") + " (local: one trial after another)"
    width = max(map(len, rows)) + 2
    lines = [
        "fedpriv: privacy attacks and defenses in federated learning, one trial per command, a sweep with -m.",
        "",
        "Usage: python -m fedpriv.sweep [-m] [group=option ...] [key=value ...]",
        "  A trial takes one option of each group (* marks the default) and any key=value changes;",
        "  with -m, comma lists (defense.magnitude=1,3,5) become a sweep of one trial per combination.",
        "",
        "Config groups:",
        *(_wrapped(f"  {g:<{width}}", text) for g, text in rows.items()),
        "",
        "Presets (experiment=<name>; add -m to run the grid; *_small: the same grid at laptop scale):",
        _wrapped("  ", ", ".join(presets)),
        "",
        _wrapped("", "Top-level keys: " + ", ".join(_top_level(set(groups))) + "."),
        "",
        "Common commands:",
        *(f"  {command}\n      {what}" for command, what in COMMANDS),
        "",
        "More:",
        "  python -m fedpriv.sweep [overrides] --cfg job   the composed config, every key with its value",
        "  python -m fedpriv.sweep --hydra-help            Hydra's own flags (--multirun, --cfg, --info...)",
        f"  {conf_dir}/<group>/<option>.yaml documents each option's keys; README.md the rest.",
    ]
    return "\n".join(lines)


def _top_level(groups: set[str]) -> list[str]:
    """Top-level keys that are not groups; blocks of keys (``training.*``) marked as such."""
    from fedpriv.config.schema import TrialConfig

    return [f.name + (".*" if f.default_factory is not dataclasses.MISSING else "")
            for f in dataclasses.fields(TrialConfig) if f.name not in groups]


def _options(options: list[str], default: str | None) -> str:
    return ", ".join(f"{o}*" if o == default else o for o in options)


def _wrapped(prefix: str, text: str) -> str:
    return textwrap.fill(text, width=WIDTH, initial_indent=prefix, subsequent_indent=" " * len(prefix))
