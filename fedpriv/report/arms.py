"""The reference arms a sweep lacks (no defense, DP-SGD) and the exact commands that add them.

Curves and advantage scores are read against references: the undefended trial and DP-SGD. A sweep without them
gets figures with no reference lines, so the report says how to add each missing arm: the sweep's own command
with the defense replaced (a preset's grid over the old defense's keys is left out by the sweep planner), into
a folder beside the sweep, and the report command that includes it.
"""

from __future__ import annotations

from pathlib import Path

from fedpriv.report.collect import override_tokens
from fedpriv.report.roles import DP, REFERENCES, UNDEFENDED

REFERENCE_DEFENSES = REFERENCES
DP_SIGMAS = "0.5,1.0"


def _is_defense_key(key: str) -> bool:
    return key == "defense" or key.startswith("defense.")


def _quote(token: str) -> str:
    return f"'{token}'" if any(ch in token for ch in " []{}()*?$\"'<>|&;") else token


def arm_overrides(rows: list[dict[str, str]]) -> list[str]:
    """The overrides the trials share outside the defense group, in the order first seen; keys that vary among
    the trials (a seed sweep) become a comma list so the arm repeats them."""
    values: dict[str, list[str]] = {}
    for trial_overrides in dict.fromkeys(row.get("overrides") or "" for row in rows):
        for (key, _), token in zip(override_tokens(trial_overrides), trial_overrides.split()):
            if not key or _is_defense_key(key):
                continue
            value = token.split("=", 1)[1]
            seen = values.setdefault(token.split("=", 1)[0], [])
            if value not in seen:
                seen.append(value)
    return [f"{key}={','.join(found)}" for key, found in values.items()]


def _dp_preset(overrides: list[str]) -> str | None:
    """The DP-SGD grid that goes with a seed preset (``seed000_cifar10_small`` -> ``seed000_cifar10_dp_small``)."""
    from fedpriv.sweep import config_dir

    for token in overrides:
        key, _, name = token.partition("=")
        if key == "experiment" and "," not in name:
            stem = name[:-len("_small")] if name.endswith("_small") else name
            candidate = f"{stem}_dp{'_small' if name.endswith('_small') else ''}"
            if candidate != name and (Path(config_dir()) / "experiment" / f"{candidate}.yaml").is_file():
                return candidate
    return None


def missing_arms_section(rows: list[dict[str, str]], sweeps: list[str], *, baseline: str | None = None) -> str | None:
    """Markdown with the commands that add the missing reference arms, or None when both are there (or when
    nothing but reference arms was run)."""
    present = {row.get("defense") for row in rows}
    missing = [d for d in REFERENCE_DEFENSES if d not in present]
    if not missing or not present - set(REFERENCE_DEFENSES):
        return None
    common = arm_overrides([r for r in rows if r.get("defense") not in REFERENCE_DEFENSES])
    first = sweeps[0].rstrip("/")
    commands, folders, after = [], [], ""
    if UNDEFENDED in missing:
        folders.append(f"{first}-none")
        commands.append(" ".join(["python -m fedpriv.sweep -m", *map(_quote, common), f"defense={UNDEFENDED}",
                                  f"hydra.sweep.dir={folders[-1]}"]))
    preset = _dp_preset(common) if DP in missing else None
    if DP in missing:
        folders.append(f"{first}-dpsgd")
        if preset:
            arm = [f"experiment={preset}" if t.startswith("experiment=") else t for t in common]
        else:
            arm = [*common, f"defense={DP}", f"defense.noise_multiplier={DP_SIGMAS}"]
        commands.append(" ".join(["python -m fedpriv.sweep -m", *map(_quote, arm), f"hydra.sweep.dir={folders[-1]}"]))
    report = " ".join(["python -m fedpriv.report", *map(_quote, sweeps), *folders])
    if baseline or (DP in missing and not preset):
        report += " --baseline " + _quote(baseline or f"defense.noise_multiplier={DP_SIGMAS.split(',')[0]}")
    elif preset:
        # The preset's comment names its advantage baseline (seed 000: sigma 0.5 on CIFAR-10, 0.2 on CIFAR-100).
        after = (f"`{preset}` sweeps several noise multipliers: the report lists them and asks which one is the "
                 f"advantage-score baseline (`--baseline \"defense.noise_multiplier=<sigma>\"`; the preset's file "
                 f"names the paper's).\n")
    described = {UNDEFENDED: f"no-defense (`defense={UNDEFENDED}`)", DP: "DP-SGD"}
    names = " and no ".join(described[m] + " trials" for m in missing)
    return (f"These results have no {names}, so the figures have no {'such ' * (len(missing) < 2)}reference "
            f"lines{' and there are no advantage scores' if DP in missing else ''}. Add "
            f"{'them' if len(missing) > 1 else 'it'} with the sweep's own command, the defense replaced (a preset's "
            f"grid over the old defense's keys is left out), then report all folders together:\n\n"
            "```bash\n" + "\n".join(commands + [report]) + "\n```\n" + (f"\n{after}" if after else ""))
