"""Write everything the report shows into one folder, each file atomically; parts without data are skipped with
a note rather than failing, because a partial sweep is the common case."""

from __future__ import annotations

from pathlib import Path

from fedpriv.record import format_rows
from fedpriv.report import figures, leakage, scores, tables
from fedpriv.report.arms import missing_arms_section
from fedpriv.report.collect import Collection
from fedpriv.report.fairness import baseline_problems
from fedpriv.report.markdown import ReportDocument, table_document
from fedpriv.report.montage import montages
from fedpriv.report.policy import policy_table
from fedpriv.report.roles import AUGMENTATION, DP, UNDEFENDED
from fedpriv.report.baseline import DpSetting, dp_settings
from fedpriv.report.convergence_table import convergence_table
from fedpriv.report.defense_table import SIMILARITY, defense_table
from fedpriv.report.knob_table import knob_leakage_table
from fedpriv.report.settings import DefenseSetting, defense_settings, other_differences
from fedpriv.report.uncertainty import interval_note, load_image_outcomes, load_image_values
from fedpriv.utils.io import atomic_write_text

MERGED = "merged_results.csv"
REPORT = "report.md"


def _write_table(table: tables.Table, out_dir: Path, written: list[str]) -> None:
    atomic_write_text(out_dir / f"{table.name}.csv", table.csv())
    atomic_write_text(out_dir / f"{table.name}.md", table_document(table))
    written += [f"{table.name}.csv", f"{table.name}.md"]


def _merged(collection: Collection) -> str:
    # Where each row came from, so a surprising number can be traced to its trial folder.
    return format_rows({**row, "source": str(trial.directory)} for trial in collection.trials for row in trial.rows)


def _references(rows: list[dict], baseline: DpSetting | None) -> dict[str, tuple[float, float]]:
    references = {}
    if baseline is not None:
        dp = scores.class_means(baseline.rows).values()
        references[f"DP-SGD ({baseline.label})"] = (scores.mean(v[0] for v in dp), scores.mean(v[1] for v in dp))
    plain = scores.class_means([r for r in rows if r.get("defense") == UNDEFENDED]).values()
    if plain:
        references["no defense"] = (scores.mean(v[0] for v in plain), scores.mean(v[1] for v in plain))
    return references


def _similarity(rows: list[dict], document: ReportDocument, out_dir: Path, baseline: DpSetting | None,
                settings: list[DefenseSetting]) -> list[str]:
    """PSNR/SSIM/LPIPS curves, the reading of PSNR under transformations, and how to add missing references."""
    document.figures += leakage.similarity_figures(rows, out_dir)
    diverged = leakage.defended_divergence(settings)
    if diverged:
        document.sections.append(("PSNR against the original and against the defended input",
                                  leakage.divergence_section(diverged)))
    arms = missing_arms_section(rows, document.sweeps, baseline=baseline.label if baseline else None)
    if arms:
        document.sections.insert(0, ("Adding reference runs", arms))
        return ["reference runs (no defense or DP-SGD) are missing: report.md shows the commands that add them"]
    return []


def write_report(collection: Collection, baseline: DpSetting | None, out_dir: Path, *,
                 sweeps: list[str], setup: str | None = None) -> tuple[list[str], list[str]]:
    """Write the merged table, the tables (CSV + Markdown), the figures and ``report.md`` into ``out_dir``.

    Returns the names of the files written and notes on what was skipped and why (warnings first)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    rows = collection.rows
    classes = scores.class_order(rows)
    written: list[str] = []
    notes: list[str] = []
    document = ReportDocument(sweeps, collection, baseline.label if baseline else None, setup=setup)
    images = load_image_outcomes(collection.trials)
    methods: set[str] = {"wilson"}

    atomic_write_text(out_dir / MERGED, _merged(collection))
    written.append(MERGED)

    defended = defense_settings(rows)
    similarity = {column: load_image_values(collection.trials, column) for column, _ in SIMILARITY}
    document.tables.append(defense_table(defended, images, similarity))
    converged = convergence_table(rows)
    if converged is not None:
        document.tables.append(converged)
    per_knob = knob_leakage_table(rows)
    if per_knob is not None:
        document.tables.append(per_knob)
    averaged = other_differences(defended)
    if averaged:
        notes.append(f"trials of one defense setting also differ in {', '.join(averaged)}; the defense settings "
                     f"table averages over them (run the report on one value at a time to separate them)")

    accuracy = scores.dp_accuracy(rows, images)
    if accuracy:
        averages = scores.dp_averages(rows, images)
        methods |= {a[key].method for a in averages.values() for key in ("ma", "aa") if a[key] is not None}
        document.tables.append(tables.dp_table(accuracy, classes, averages))
        settings = dp_settings(rows)
        if len(settings) > len({s.noise_multiplier for s in settings}):
            notes.append("some DP-SGD settings share a noise multiplier; the DP table averages them in one column "
                         "(advantage scores use only the --baseline setting)")
    else:
        notes.append(f"no DP-SGD or undefended (defense={UNDEFENDED}) trials: no DP table")

    curves = scores.accuracy_by_magnitude(rows)
    if curves:
        figures.accuracy_curves(curves, out_dir / "accuracy_vs_magnitude.png", references=_references(rows, baseline))
        document.figures.append(("accuracy_vs_magnitude.png", "MA and AA against magnitude, mean over classes"))
    else:
        notes.append(f"no augmentation trials (defense={' or '.join(AUGMENTATION)}): no advantage scores or curves")
    notes += _similarity(rows, document, out_dir, baseline, defended)

    mixed = scores.mixed_settings(rows)
    if mixed:
        notes.append(f"the augmentation trials also differ in {', '.join(mixed)}; curves and scores average over "
                     f"them (run the report on one setting at a time to separate them)")
    if curves and baseline is None:
        notes.append(f"no DP-SGD trials (defense={DP}): no advantage scores")
    elif curves:
        advantage = scores.advantage(rows, baseline.rows, images=images)
        unfair = baseline_problems(baseline.rows, [r for r in rows if r.get("defense") in scores.DEFENDED])
        if not advantage:
            notes.append("the DP baseline shares no class with the augmentation trials: no advantage scores")
        else:
            methods |= {s["advantage_ci"].method for s in advantage}
            for problem in unfair:
                document.warnings.append(f"unfair DP baseline ({baseline.label}): {problem}. The advantage scores "
                                         "below are not a comparison with a working DP defense.")
            best = scores.best_per_class(advantage, k=3)
            document.tables += [tables.best_table(best, classes, unfair=bool(unfair)),
                                tables.advantage_table(advantage, baseline.label, unfair=bool(unfair))]
            figures.advantage_heatmap(advantage, classes, out_dir / "advantage_heatmap.png")
            figures.advantage_components(best, classes, out_dir / "advantage_components.png")
            document.figures[:0] = [
                ("advantage_heatmap.png", "Advantage score per class and op (best magnitude per cell)"),
                ("advantage_components.png", "MA and AA advantage of each class's best augmentation")]

    found = policy_table(collection, baseline, classes, notes)
    if found is not None:
        document.tables.insert(0, found)
    for table in document.tables:
        _write_table(table, out_dir, written)
    shown = montages(collection.trials, out_dir)
    if not shown and curves:
        notes.append("no samples.pt in the single-op augmentation trials: no reconstruction montage")
    document.figures += shown
    written += [name for name, _ in document.figures]

    with_images = {trial_id for trial_id, _ in images}
    missing = sum(1 for trial in collection.trials if trial.trial_id not in with_images)
    notes.append(interval_note(methods, images_missing=missing))
    document.notes = notes
    atomic_write_text(out_dir / REPORT, document.render())
    written.append(REPORT)
    return written, [f"WARNING: {w}" for w in document.warnings] + notes
