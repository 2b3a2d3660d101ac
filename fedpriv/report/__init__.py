"""``python -m fedpriv.report SWEEP_DIR [...]``: tables and figures from whatever trials of a sweep have finished.

Finds every ``results.csv`` under the sweep folders, says how many trials are still missing, and writes the
merged results, utility and leakage per setting of every defense (whatever its name), seed 000's DP table,
advantage scores over a DP-SGD baseline with the best three augmentations per class (every number with its 95%
interval; a baseline that defended nothing is marked), figures and a ``report.md`` into
``<first sweep dir>/report/`` (or ``--out``). Results of several setups (dataset, model,
attack, ...) are refused, or with ``--allow-mixed`` reported one setup per subfolder.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fedpriv.report.collect import Collection, ReportError, check_sweep_dirs, collect

PROG = "fedpriv-report"


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog=PROG, description="Tables and figures from whatever trials of fedpriv sweeps have finished: merged "
                               "results, utility and leakage per defense setting, the DP-SGD table, advantage "
                               "scores over a DP baseline, the best augmentations per class, figures and "
                               "report.md.")
    p.add_argument("sweep_dir", nargs="+", help="sweep folders (searched recursively for results.csv)")
    p.add_argument("--baseline", metavar="OVERRIDES",
                   help="the DP-SGD run to score against, as key=value tokens of its overrides, e.g. "
                        "\"defense.noise_multiplier=0.5\" (needed when the results hold several DP-SGD settings)")
    p.add_argument("--out", metavar="DIR", help="where to write the report (default: <first sweep dir>/report)")
    p.add_argument("--allow-mixed", action="store_true",
                   help="accept results of several setups (dataset, model, attack, FL protocol, victim training, "
                        "evaluator) and write one report per setup in a subfolder, rather than stopping")
    return p


def _output_dir(out: str | None, sweep_dirs: list[Path]) -> Path:
    path = Path(out).expanduser() if out else sweep_dirs[0] / "report"
    if path.exists() and not path.is_dir():
        raise ReportError(f"--out '{out}' exists and is not a directory")
    return path


def _summary(collection: Collection, baseline, out_dir: Path, written: list[str], notes: list[str]) -> str:
    counts = collection.counts
    known = [c for c in counts if c.expected is not None]
    total = f"{len(collection.trials)} finished trial{'s' * (len(collection.trials) != 1)}"
    if known:
        expected, missing = sum(c.expected for c in known), sum(c.missing for c in known)
        where = "" if len(known) == len(counts) else f" in the {len(known)} of {len(counts)} sweeps with a multirun.yaml"
        total += f"; {expected} expected and {missing} missing{where}"
    else:
        total += "; expected count unknown"
    lines = [f"{PROG}: {total}"]
    for c in counts:
        state = (f"expected unknown: {c.why_unknown}" if c.expected is None
                 else f"{c.expected} expected, {c.missing} missing")
        lines.append(f"  {c.directory}: {c.found} finished, {state}")
    if baseline is not None:
        lines.append(f"baseline: DP-SGD {baseline.label} ({baseline.trials} trial{'s' * (baseline.trials != 1)})")
    lines += [f"note: {n}" for n in collection.notes + notes]
    lines.append(f"wrote {len(written)} files to {out_dir} (start with {out_dir / 'report.md'})")
    return "\n".join(lines)


def run(args: argparse.Namespace) -> int:
    from fedpriv.report.membership import split_membership, write_membership_report
    from fedpriv.report.outputs import write_report
    from fedpriv.report.setups import choose_baselines, refuse_mixed, split_setups, write_mixed_report

    sweep_dirs = check_sweep_dirs(args.sweep_dir)
    out_dir = _output_dir(args.out, sweep_dirs)
    collection = collect(sweep_dirs)
    if not collection.trials:
        where = ", ".join(str(d) for d in sweep_dirs)
        raise ReportError(f"sweep_dir: no results.csv under {where} (no trial has finished yet, or the wrong folder)")
    # Membership trials (one row each, no images) get their own tables and ROC figures.
    collection, membership = split_membership(collection)
    if not collection.trials:
        written = write_membership_report(membership, out_dir, name="report.md")
        print(_summary(membership, None, out_dir, written, []))
        return 0
    # Refuse mixed setups and choose baselines before writing anything, so no half-made report is left behind.
    setups = split_setups(collection, sweep_dirs)
    if not args.allow_mixed:
        refuse_mixed(setups)
    baselines = choose_baselines(setups, args.baseline)
    sweeps = [str(d) for d in sweep_dirs]
    extra = []
    if membership.trials:
        extra = [f"{len(membership.trials)} membership trial(s) reported in {out_dir / 'membership'}"]
        write_membership_report(membership, out_dir / "membership")
    if len(setups) == 1:
        written, notes = write_report(collection, baselines[0], out_dir, sweeps=sweeps, setup=setups[0].full_label)
        print(_summary(collection, baselines[0], out_dir, written, notes + extra))
    else:
        written, notes = write_mixed_report(collection, setups, baselines, out_dir, sweeps=sweeps)
        notes = [f"{len(setups)} setups, one report each: " + "; ".join(
            f"{s.label} -> {out_dir / s.slug}" for s in setups)] + notes
        print(_summary(collection, None, out_dir, written, notes + extra))
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    try:
        return run(args)
    except ReportError as err:
        print(f"{PROG}: error: {err}", file=sys.stderr)
        return 2


__all__ = ["main", "parser", "run"]
