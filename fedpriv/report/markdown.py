"""Markdown for the report: each table on its own, and ``report.md`` linking tables and embedding figures."""

from __future__ import annotations

from dataclasses import dataclass, field

from fedpriv.report.collect import Collection
from fedpriv.report.intervals import Estimate
from fedpriv.report.tables import Table, cell_text

# Long tables stay whole in their own .md file; report.md shows their head and links the rest.
PREVIEW_ROWS = 40


def _escape(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _is_number(value: object) -> bool:
    return isinstance(value, (int, float, Estimate)) and not isinstance(value, bool)


def table_markdown(table: Table, *, limit: int | None = None) -> str:
    """A GitHub-flavoured Markdown table; numeric columns right-aligned, numbers with two decimals."""
    numeric = [any(_is_number(row[i]) for row in table.rows) and all(
        row[i] is None or _is_number(row[i]) for row in table.rows) for i in range(len(table.columns))]
    lines = ["| " + " | ".join(_escape(c) for c in table.columns) + " |",
             "|" + "|".join("---:" if n else "---" for n in numeric) + "|"]
    rows = table.rows if limit is None else table.rows[:limit]
    for row in rows:
        lines.append("| " + " | ".join(_escape(cell_text(v)) for v in row) + " |")
    if limit is not None and len(table.rows) > limit:
        lines.append(f"\n({len(table.rows) - limit} more rows in [{table.name}.md]({table.name}.md))")
    return "\n".join(lines) + "\n"


def table_document(table: Table) -> str:
    parts = [f"# {table.title}\n"]
    if table.note:
        parts.append(f"{table.note}\n")
    parts.append(table_markdown(table) if table.rows else "(no rows)\n")
    return "\n".join(parts)


@dataclass
class ReportDocument:
    """What ``report.md`` shows, in order: counts, baseline, tables, figures, notes."""

    sweeps: list[str]
    collection: Collection
    baseline: str | None
    tables: list[Table] = field(default_factory=list)
    figures: list[tuple[str, str]] = field(default_factory=list)    # (file name, caption)
    notes: list[str] = field(default_factory=list)
    sections: list[tuple[str, str]] = field(default_factory=list)    # (title, Markdown) after the figures
    setup: str | None = None        # what every trial shares: "dataset=digits model=lenet attack=dlg"
    warnings: list[str] = field(default_factory=list)   # shown first, in bold: numbers not to be trusted

    def render(self) -> str:
        out = ["# fedpriv sweep report\n", "Sweeps: " + ", ".join(f"`{s}`" for s in self.sweeps) + "\n"]
        if self.setup:
            out.append(f"Setup: `{self.setup}`\n")
        for warning in self.warnings:
            out.append(f"> **WARNING: {_escape(warning)}**\n")
        out.append(self._counts())
        if self.baseline:
            out.append(f"DP-SGD baseline for advantage scores: `{self.baseline}`\n")
        for table in self.tables:
            out.append(f"## {table.title}\n")
            if table.note:
                out.append(f"{table.note} Files: [{table.name}.csv]({table.name}.csv), "
                           f"[{table.name}.md]({table.name}.md).\n")
            out.append(table_markdown(table, limit=PREVIEW_ROWS) if table.rows else "(no rows)\n")
        if self.figures:
            out.append("## Figures\n")
            for name, caption in self.figures:
                out.append(f"### {caption}\n\n![{caption}]({name})\n")
        for title, body in self.sections:
            out.append(f"## {title}\n\n{body}")
        missing = [job for count in self.collection.counts for job in count.missing_jobs]
        if missing:
            out.append("## Missing trials\n\nOverrides of the jobs that have no results yet:\n")
            out.append("\n".join(f"- `{job}`" for job in missing) + "\n")
        notes = self.collection.notes + self.notes
        if notes:
            out.append("## Notes\n\n" + "\n".join(f"- {_escape(n)}" for n in notes) + "\n")
        return "\n".join(out)

    def _counts(self) -> str:
        lines = ["| sweep | finished | expected | missing |", "|---|---:|---:|---:|"]
        for count in self.collection.counts:
            expected = "unknown" if count.expected is None else str(count.expected)
            missing = "unknown" if count.missing is None else str(count.missing)
            lines.append(f"| `{count.directory}` | {count.found} | {expected} | {missing} |")
        unknown = [c.why_unknown for c in self.collection.counts if c.expected is None]
        text = "\n".join(lines) + "\n"
        if unknown:
            text += "\nExpected count unknown: " + "; ".join(unknown) + ".\n"
        return text
