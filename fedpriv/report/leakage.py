"""Image similarity of the reconstructions (PSNR, SSIM, LPIPS) against magnitude, and what PSNR means under an
input transformation.

Each point is a mean over classes of per-class means (seeds and repeated trials averaged first), as the accuracy
curves are. PSNR and SSIM grow with leakage; LPIPS is a distance and falls with it.

``psnr`` compares a reconstruction with the private original, ``psnr_defended`` with the defended input whose
update was shared. Under a strong transformation (solarize, invert) the attack can recover the defended input
almost exactly (40 dB) while scoring 2.5 dB against the original: the image is legible, only transformed. The
report names such cells, so a low PSNR is not read as privacy.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from fedpriv.report import figures
from fedpriv.report.baseline import dp_settings
from fedpriv.report.roles import UNDEFENDED
from fedpriv.report.scores import DEFENDED, magnitude_of, mean, number
from fedpriv.report.settings import DefenseSetting

# Where PSNR against the original and against the defended input tell different stories.
DIVERGENCE_DB = 10.0


@dataclass(frozen=True)
class Metric:
    column: str
    label: str
    leaks_when: str     # "higher" or "lower"


METRICS = (Metric("psnr", "PSNR (dB)", "higher"), Metric("ssim", "SSIM", "higher"),
           Metric("lpips", "LPIPS", "lower"))


def _cell_means(rows: list[dict[str, str]], columns: tuple[str, ...]) -> dict[tuple, dict[str, float]]:
    """Per (class, op, magnitude) of the augmentation rows: the mean of each column over the rows that have it."""
    groups: dict[tuple, list[dict]] = defaultdict(list)
    for row in rows:
        magnitude = magnitude_of(row.get("magnitude"))
        if row.get("defense") in DEFENDED and row.get("op") and magnitude is not None:
            groups[(row.get("class", ""), row["op"], magnitude)].append(row)
    out = {}
    for key, members in groups.items():
        values = {c: mean(number(r.get(c)) for r in members) for c in columns}
        out[key] = {c: v for c, v in values.items() if v is not None}
    return out


def similarity_by_magnitude(rows: list[dict[str, str]], column: str) -> dict[str, list[tuple[object, float]]]:
    """Per op: (magnitude, mean over classes of ``column``) sorted by magnitude; ops without values left out."""
    cells: dict[tuple[str, object], list[float]] = defaultdict(list)
    for (_, op, magnitude), values in _cell_means(rows, (column,)).items():
        if column in values:
            cells[(op, magnitude)].append(values[column])
    curves: dict[str, list] = defaultdict(list)
    for (op, magnitude), values in sorted(cells.items()):
        curves[op].append((magnitude, mean(values)))
    return dict(curves)


def _class_mean(rows: list[dict[str, str]], column: str) -> float | None:
    by_class: dict[str, list] = defaultdict(list)
    for row in rows:
        by_class[row.get("class", "")].append(number(row.get(column)))
    return mean(mean(values) for values in by_class.values())


def similarity_references(rows: list[dict[str, str]], column: str) -> dict[str, float]:
    """Horizontal reference lines: no defense, and every DP-SGD setting present (mean over classes)."""
    references = {}
    plain = _class_mean([r for r in rows if r.get("defense") == UNDEFENDED], column)
    if plain is not None:
        references["no defense"] = plain
    for setting in dp_settings(rows):
        value = _class_mean(setting.rows, column)
        if value is not None:
            references[f"DP-SGD ({setting.label})"] = value
    return references


def similarity_figures(rows: list[dict[str, str]], out_dir: Path) -> list[tuple[str, str]]:
    """Write ``<metric>_vs_magnitude.png`` for each metric the augmentation rows hold; (file, caption) pairs."""
    written = []
    for metric in METRICS:
        curves = similarity_by_magnitude(rows, metric.column)
        if not curves:
            continue
        name = f"{metric.column}_vs_magnitude.png"
        figures.similarity_curves(curves, out_dir / name, label=metric.label, leaks_when=metric.leaks_when,
                                  references=similarity_references(rows, metric.column))
        written.append((name, f"{metric.label.split(' (')[0]} of the reconstructions against magnitude, mean over "
                              f"classes ({metric.leaks_when} = more leakage)"))
    return written


def defended_divergence(settings: list[DefenseSetting], *, threshold: float = DIVERGENCE_DB) -> list[dict]:
    """The defense settings whose reconstructions match the defended input by more than ``threshold`` dB better
    than the original (means over classes), highest gap first."""
    out = []
    for setting in settings:
        psnr, defended = _class_mean(setting.rows, "psnr"), _class_mean(setting.rows, "psnr_defended")
        if psnr is not None and defended is not None and defended - psnr > threshold:
            out.append({"setting": setting.label, "psnr": psnr, "psnr_defended": defended})
    return sorted(out, key=lambda c: (-(c["psnr_defended"] - c["psnr"]), c["setting"]))


def divergence_section(cells: list[dict]) -> str:
    """Markdown explaining ``psnr`` against ``psnr_defended`` for the settings where they diverge."""
    listing = ", ".join(f"{c['setting']} ({c['psnr']:.1f} dB vs {c['psnr_defended']:.1f} dB against the defended "
                        f"input)" for c in cells)
    return (f"In {len(cells)} defense setting{'s' * (len(cells) != 1)}, the reconstructions are more than "
            f"{DIVERGENCE_DB:g} dB closer to the defended input than to the original (`psnr_defended` against "
            f"`psnr`, means over classes): {listing}.\n\n"
            "There the attack recovered the defended input, i.e. the transformed image the client shared. Its low "
            "PSNR against the original reflects the transformation (an inverted or solarized image is far from the "
            "original pixel by pixel), not privacy: the private content may be perfectly legible. Judge these "
            "settings by `psnr_defended`, the reconstructions themselves (montages) and attack accuracy (AA).\n")
