"""The report's building blocks: table cells, tables and charts, and how numbers read in them.

Both templates (HTML and Markdown) lay out the same `Table`s and `Chart`s, so the two files
always say the same thing. A cell without data says why ("not run", ...).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from spen.aggregate import mean_std

NOT_RUN = "not run"
DASH = "—"
#: the folder, beside index.html and index.md, that holds the charts as NAME.svg
FIGURES = "figures"


@dataclass
class Cell:
    """One table cell: its text, a CSS class (`num`, `missing`, `up`, `down`, ...), a key the
    tests can find it by (`data-cell` in HTML) and an optional tooltip."""

    text: str
    cls: str = ""
    key: str = ""
    title: str = ""
    sub: str = ""  # a small trailer, e.g. `n=3`

    @property
    def full(self) -> str:
        """The text with its trailer, as plain text (Markdown)."""
        return f"{self.text} ({self.sub})" if self.sub else self.text


@dataclass
class Table:
    """Column labels (with optional spanning groups above them) and rows of cells."""

    id: str
    header: list[str]
    rows: list[list[Cell]]
    groups: list[tuple[str, int]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    title: str = ""

    @property
    def flat_header(self) -> list[str]:
        """Column labels with their group prefixed (Markdown has one header row)."""
        if not self.groups:
            return self.header
        prefixes = [label for label, span in self.groups for _ in range(span)]
        return [f"{p} {h}".strip() if p else h for p, h in zip(prefixes, self.header, strict=True)]


@dataclass
class Chart:
    """A figure: its file name (without `.svg`), title, SVG text and caption."""

    name: str
    title: str
    svg: str
    caption: str

    @property
    def file(self) -> str:
        """The figure's file name, `NAME.svg`."""
        return f"{self.name}.svg"

    @property
    def path(self) -> str:
        """Where the pages find the figure, relative to them: `figures/NAME.svg`."""
        return f"{FIGURES}/{self.file}"


def fmt(value: float | None, digits: int = 2) -> str:
    """The number to `digits` decimals; a dash for None."""
    return DASH if value is None else f"{value:.{digits}f}"


def stat_text(mean: float, std: float | None, digits: int = 2) -> str:
    """`88.81 ± 0.32`; a single seed has no std: `88.81`."""
    spread = "" if std is None else f" ± {std:.{digits}f}"
    return f"{mean:.{digits}f}{spread}"


def stat(
    mean: float, std: float | None, n: int, key: str = "", digits: int = 2, count: str = "n"
) -> Cell:
    """A cell `88.81 ± 0.32 (n=3)`: mean ± sample std over `n` seeds (or `count`: what was
    counted, e.g. `passes`)."""
    return Cell(stat_text(mean, std, digits), "num", key, sub=f"{count}={n}")


def stat_cell(values: Sequence[float], key: str = "", digits: int = 2, count: str = "n") -> Cell:
    """The mean ± sample std of `values` (as `spen aggregate` computes them); not run when
    there are none."""
    if not values:
        return Cell(NOT_RUN, "missing", key)
    stats = mean_std(values)
    return stat(stats["mean"], stats["std"], len(values), key, digits, count)


def diff_cell(ours: float | None, paper: float | None, key: str) -> Cell:
    """`ours − paper`, signed and coloured by its sign; a dash when either is missing."""
    if ours is None or paper is None:
        return Cell(DASH, "na", key)
    delta = ours - paper
    return Cell(f"{delta:+.2f}", "num up" if delta >= 0 else "num down", key)


def text_cell(text: Any, cls: str = "") -> Cell:
    """A cell showing `text` as it is."""
    return Cell(str(text), cls)
