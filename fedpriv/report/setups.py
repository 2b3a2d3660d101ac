"""The experimental setup of each trial, so that a report never averages unrelated runs into one number.

A setup is what a report's question holds fixed: the dataset, the model, the attack, the FL protocol, whether the
victim was trained, and the evaluator that judges the reconstructions. Trials of different setups pooled into one
table give class means over unrelated runs (digits and CIFAR-10 in one "original" column), so the report refuses
them unless ``--allow-mixed``; with it, each setup gets a report of its own in a subfolder, and the top-level
``report.md`` links them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from fedpriv.report.collect import Collection, ReportError, SweepCount, Trial

# Results columns that define a setup, in the order labels show them.
SETUP_COLUMNS = ("dataset", "model", "attack", "fl", "victim_trained", "evaluator")
# Always named in a label, even when every trial agrees, so a message reads as a description of the runs.
ALWAYS_SHOWN = ("dataset", "model", "attack")


@dataclass
class Setup:
    values: dict[str, str]                          # setup column -> value, as the results file spells it
    trials: list[Trial] = field(default_factory=list)
    sources: list[str] = field(default_factory=list)   # sweep folders holding its trials, as the user named them
    label: str = ""                                 # "dataset=digits model=lenet attack=dlg"
    slug: str = ""                                  # its subfolder under --allow-mixed

    @property
    def rows(self) -> list[dict[str, str]]:
        return [row for trial in self.trials for row in trial.rows]

    @property
    def full_label(self) -> str:
        """Every setup column, for the report that shows this setup alone."""
        return " ".join(_shown(c, v) for c, v in self.values.items())

    def describe(self) -> str:
        count = len(self.trials)
        return f"{self.label} ({count} trial{'s' * (count != 1)}, {', '.join(self.sources)})"


def _shown(column: str, value: str) -> str:
    if column == "victim_trained":
        return "victim=" + ("trained" if value.strip().lower() == "true" else "untrained")
    return f"{column}={value}"


def _source(trial: Trial, sweep_dirs: list[Path]) -> str:
    for directory in sweep_dirs:
        if trial.directory == directory or trial.directory.is_relative_to(directory):
            return str(directory)
    return str(trial.directory)


def split_setups(collection: Collection, sweep_dirs: list[Path]) -> list[Setup]:
    """The setups of the collection's trials, in order of first appearance.

    A column that some trial leaves empty (results written before it existed) cannot tell setups apart and is
    not compared."""
    trials = [t for t in collection.trials if t.rows]
    columns = [c for c in SETUP_COLUMNS if all((t.rows[0].get(c) or "").strip() for t in trials)]
    setups: dict[tuple, Setup] = {}
    for trial in trials:
        key = tuple(trial.rows[0][c].strip() for c in columns)
        setup = setups.setdefault(key, Setup(dict(zip(columns, key))))
        setup.trials.append(trial)
        source = _source(trial, sweep_dirs)
        if source not in setup.sources:
            setup.sources.append(source)
    varying = {c for c in columns if len({s.values[c] for s in setups.values()}) > 1}
    shown = [c for c in columns if c in ALWAYS_SHOWN or c in varying]
    slugs: set[str] = set()
    for setup in setups.values():
        setup.label = " ".join(_shown(c, setup.values[c]) for c in shown)
        parts = [_shown(c, setup.values[c]).split("=", 1)[1] for c in columns if c in varying] or ["all"]
        slug = re.sub(r"[^A-Za-z0-9._-]+", "-", "_".join(parts)).strip("-") or "setup"
        unique, n = slug, 2
        while unique in slugs:
            unique, n = f"{slug}-{n}", n + 1
        slugs.add(unique)
        setup.slug = unique
    return list(setups.values())


def refuse_mixed(setups: list[Setup]) -> None:
    """Raise :class:`ReportError` naming every setup when there is more than one."""
    if len(setups) > 1:
        listing = ", ".join(s.describe() for s in setups)
        raise ReportError(f"these results mix {len(setups)} setups: {listing}; report them separately (one "
                          f"report command per setup's folders) or pass --allow-mixed (one report per setup)")


def setup_collection(collection: Collection, setup: Setup) -> Collection:
    """The part of ``collection`` that belongs to ``setup``. A sweep folder that spans several setups cannot say
    which of its missing trials are this setup's, so its expected count is left unknown here."""
    mine = {t.trial_id for t in setup.trials}
    counts = []
    for count in collection.counts:
        found = sum(1 for t in setup.trials if _source(t, [count.directory]) == str(count.directory))
        if found == 0:
            continue
        if found == count.found:
            counts.append(count)
        else:
            counts.append(SweepCount(count.directory, found, None,
                                     why_unknown=f"{count.directory} holds several setups (see the top-level report)"))
    trials = [t for t in collection.trials if t.trial_id in mine]
    return Collection(trials, counts, list(collection.notes))


def write_mixed_report(collection: Collection, setups: list[Setup], baselines: list, out_dir: Path, *,
                       sweeps: list[str]) -> tuple[list[str], list[str]]:
    """``--allow-mixed``: a full report per setup in ``out_dir/<slug>/``, and a top-level ``report.md`` and
    ``merged_results.csv`` (every row, with its source folder) that name the setups and link their reports."""
    from fedpriv.report.markdown import ReportDocument
    from fedpriv.report.outputs import MERGED, REPORT, _merged, write_report
    from fedpriv.utils.io import atomic_write_text

    out_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out_dir / MERGED, _merged(collection))
    written, notes = [MERGED], []
    lines = ["Nothing is averaged across setups: each has a report of its own.\n",
             "| setup | trials | sweeps | DP-SGD baseline | report |", "|---|---:|---|---|---|"]
    for setup, baseline in zip(setups, baselines):
        files, setup_notes = write_report(setup_collection(collection, setup), baseline, out_dir / setup.slug,
                                          sweeps=setup.sources, setup=setup.full_label)
        written += [f"{setup.slug}/{name}" for name in files]
        notes += [f"{setup.slug}: {note}" for note in setup_notes]
        lines.append(f"| `{setup.label}` | {len(setup.trials)} | {', '.join(f'`{s}`' for s in setup.sources)} | "
                     f"{f'`{baseline.label}`' if baseline else ''} | [{setup.slug}/{REPORT}]({setup.slug}/{REPORT}) |")
    document = ReportDocument(sweeps, collection, None, sections=[(f"{len(setups)} setups", "\n".join(lines) + "\n")])
    atomic_write_text(out_dir / REPORT, document.render())
    written.append(REPORT)
    return written, notes


def choose_baselines(setups: list[Setup], wanted: str | None) -> list:
    """The DP-SGD baseline of each setup (None where it has no DP-SGD trials), chosen before anything is
    written; an ambiguous or unmatched ``--baseline`` names the setup."""
    from fedpriv.report.baseline import dp_settings, select_baseline

    chosen = []
    for setup in setups:
        rows = setup.rows
        if len(setups) > 1 and not dp_settings(rows):
            chosen.append(None)
            continue
        try:
            chosen.append(select_baseline(rows, wanted))
        except ReportError as err:
            if len(setups) == 1:
                raise
            raise ReportError(f"setup {setup.label}: {err}") from None
    return chosen
