"""Figures of a run: each with its unit, the baseline measured in the same run and the ratio.

Printed as a table for people and as one JSON line per figure for machines:
`{"figure": ..., "value": ..., "unit": ..., "baseline": ..., "ratio": ..., "target": ...}`.
`ratio` is value / baseline; `target` (when the issue sets one) says which way is good.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from typing import TextIO


@dataclass(frozen=True)
class Figure:
    figure: str
    value: float
    unit: str
    baseline: float | None = None
    baseline_name: str | None = None
    target: str | None = None
    """The issue's target, e.g. "ratio >= 0.5" or "value < 25"."""
    note: str | None = None

    @property
    def ratio(self) -> float | None:
        if self.baseline is None or self.baseline == 0:
            return None
        return self.value / self.baseline

    @property
    def meets(self) -> bool | None:
        """Whether the target holds; None without a target."""
        if self.target is None:
            return None
        subject, operator, bound = self.target.split()
        measured = self.ratio if subject == "ratio" else self.value
        if measured is None:
            return None
        limit = float(bound)
        return {"<": measured < limit, "<=": measured <= limit, ">": measured > limit,
                ">=": measured >= limit}[operator]

    def json_line(self) -> str:
        record = asdict(self)
        record["value"] = _rounded(self.value)
        record["baseline"] = _rounded(self.baseline)
        record["ratio"] = _rounded(self.ratio)
        record["meets"] = self.meets
        ordered = {key: record[key] for key in (
            "figure", "value", "unit", "baseline", "ratio", "baseline_name", "target", "meets",
            "note")}
        return json.dumps(ordered)


def _rounded(value: float | None) -> float | None:
    if value is None or not math.isfinite(value):
        return None
    if value == 0:
        return 0.0
    digits = max(0, 4 - math.floor(math.log10(abs(value))))
    return round(value, digits)


def _text(value: float | None) -> str:
    if value is None:
        return "-"
    if value == 0:
        return "0"
    if abs(value) >= 1000:
        return f"{value:,.0f}"
    if abs(value) >= 10:
        return f"{value:.1f}"
    if abs(value) >= 0.1:
        return f"{value:.3f}"
    return f"{value:.3g}"


@dataclass
class Report:
    figures: list[Figure] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, figure: Figure) -> Figure:
        self.figures.append(figure)
        return figure

    def note(self, text: str) -> None:
        self.notes.append(text)

    def table(self) -> str:
        rows = [("figure", "value", "unit", "baseline", "ratio", "target", "meets")]
        for item in self.figures:
            meets = {True: "yes", False: "NO", None: ""}[item.meets]
            rows.append((item.figure, _text(item.value), item.unit, _text(item.baseline),
                         _text(item.ratio), item.target or "", meets))
        widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
        lines = []
        for index, row in enumerate(rows):
            cells = [cell.ljust(width) if column in (0, 2, 5) else cell.rjust(width)
                     for column, (cell, width) in enumerate(zip(row, widths, strict=True))]
            lines.append("  ".join(cells).rstrip())
            if index == 0:
                lines.append("  ".join("-" * width for width in widths))
        baselines = sorted({f"{item.figure}: {item.baseline_name}" for item in self.figures
                            if item.baseline_name})
        lines.append("")
        lines.append("baselines (same run):")
        lines += [f"  {text}" for text in baselines]
        if self.notes:
            lines.append("")
            lines += [f"note: {text}" for text in self.notes]
        return "\n".join(lines)

    def write(self, out: TextIO) -> None:
        out.write(self.table() + "\n\n")
        for item in self.figures:
            out.write(item.json_line() + "\n")
        out.flush()
