"""Charts as SVG text, with no plotting library: the report's learning curves, reliability
diagrams and speed against accuracy (line charts, whose series may be points alone) and its
claims (a forest plot)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from xml.sax.saxutils import escape

# Okabe-Ito colours (colour-blind safe), then a few more; series cycle through dash patterns too.
PALETTE = (
    "#0072B2",
    "#E69F00",
    "#009E73",
    "#D55E00",
    "#CC79A7",
    "#56B4E9",
    "#000000",
    "#F0E442",
    "#8C564B",
    "#7F7F7F",
)
DASHES = ("", "6 3", "2 2", "8 3 2 3")


@dataclass(frozen=True)
class ForestRow:
    """One row of a forest plot: an estimate with its standard error and, optionally, a
    reference value (another source's estimate), under a group heading."""

    group: str
    label: str
    estimate: float
    se: float
    reference: float | None = None
    key: str = ""  # the row's `data-row` attribute


@dataclass(frozen=True)
class Series:
    """One line: a legend label and its (x, y) points, x increasing; `joined`: False draws the
    points alone (a scatter), in any order."""

    label: str
    points: Sequence[tuple[float, float]]
    style: int | None = None  # index into the palette (default: the series' position)
    joined: bool = True


def nice_ticks(low: float, high: float, count: int = 5, integer: bool = False) -> list[float]:
    """About `count` round tick values covering [low, high] (steps of 1, 2 or 5 x 10^k);
    with `integer`, steps of at least 1."""
    if not (math.isfinite(low) and math.isfinite(high)):
        raise ValueError(f"ticks of a non-finite range [{low}, {high}]")
    if high < low:
        low, high = high, low
    if high == low:
        low, high = low - 1, high + 1
    raw = (high - low) / max(count - 1, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    fraction = raw / magnitude
    step = magnitude * (1 if fraction < 1.5 else 2 if fraction < 3 else 5 if fraction < 7 else 10)
    if integer:
        step = max(step, 1)
    first = math.floor(low / step) * step
    ticks = []
    value = first
    while value < high + step * 0.999:
        ticks.append(round(value, 10))
        value += step
    return ticks


def _label(value: float) -> str:
    return f"{value:g}"


def _open(width: int, height: float, title: str) -> list[str]:
    """The start of an SVG document: its `<svg>` tag and the title line."""
    return [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
        f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}" '
        'font-family="system-ui, sans-serif" font-size="11">',
        f'<text x="{width / 2:.1f}" y="16" text-anchor="middle" font-size="13" '
        f'font-weight="600">{escape(title)}</text>',
    ]


def line_chart(
    series: Sequence[Series],
    *,
    title: str,
    x_label: str,
    y_label: str,
    width: int = 560,
    height: int = 300,
) -> str:
    """An SVG document (one `<svg>` element) plotting `series` with axes, grid and a legend.

    The legend sits under the plot, so long labels never squeeze it. An empty `series` gives a
    chart that says there is nothing to plot.
    """
    left, right, top, plot_height = 56, 16, 28, height
    legend_rows = math.ceil(len(series) / 2)
    total_height = top + plot_height + 44 + 18 * legend_rows + 8
    plot_width = width - left - right
    out = _open(width, total_height, title)
    points = [p for s in series for p in s.points]
    if not points:
        out.append(
            f'<text x="{width / 2:.1f}" y="{top + plot_height / 2:.1f}" text-anchor="middle" '
            'fill="#666">no finished runs to plot</text></svg>'
        )
        return "".join(out)
    xs = [p[0] for p in points]
    ys = [p[1] for p in points]
    x_ticks = nice_ticks(min(xs), max(xs), 6, integer=all(float(x).is_integer() for x in xs))
    y_ticks = nice_ticks(min(ys), max(ys), 5)
    x0, x1 = x_ticks[0], x_ticks[-1]
    y0, y1 = y_ticks[0], y_ticks[-1]

    def sx(x: float) -> float:
        return left + (x - x0) / (x1 - x0) * plot_width

    def sy(y: float) -> float:
        return top + plot_height - (y - y0) / (y1 - y0) * plot_height

    bottom = top + plot_height
    for y in y_ticks:
        out.append(
            f'<line x1="{left}" x2="{left + plot_width}" y1="{sy(y):.1f}" y2="{sy(y):.1f}" '
            'stroke="#e3e3e3"/>'
            f'<text x="{left - 6}" y="{sy(y) + 4:.1f}" text-anchor="end">{_label(y)}</text>'
        )
    for x in x_ticks:
        out.append(
            f'<line x1="{sx(x):.1f}" x2="{sx(x):.1f}" y1="{bottom}" y2="{bottom + 4}" '
            'stroke="#444"/>'
            f'<text x="{sx(x):.1f}" y="{bottom + 16}" text-anchor="middle">{_label(x)}</text>'
        )
    out.append(
        f'<rect x="{left}" y="{top}" width="{plot_width}" height="{plot_height}" fill="none" '
        'stroke="#444"/>'
        f'<text x="{left + plot_width / 2:.1f}" y="{bottom + 32}" text-anchor="middle">'
        f"{escape(x_label)}</text>"
        f'<text transform="translate(14 {top + plot_height / 2:.1f}) rotate(-90)" '
        f'text-anchor="middle">{escape(y_label)}</text>'
    )
    legend_top = bottom + 44
    column_width = plot_width / 2
    for index, line in enumerate(series):
        style = index if line.style is None else line.style
        colour = PALETTE[style % len(PALETTE)]
        dash = DASHES[(style // len(PALETTE)) % len(DASHES)]
        dash_attr = f' stroke-dasharray="{dash}"' if dash else ""
        coords = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in line.points)
        out.append(f"<g><title>{escape(line.label)}</title>")
        if line.joined and len(line.points) > 1:
            out.append(
                f'<polyline points="{coords}" fill="none" stroke="{colour}" '
                f'stroke-width="1.8"{dash_attr}/>'
            )
        radius = 2.2 if line.joined else 3.5
        for x, y in line.points:
            out.append(f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="{radius}" fill="{colour}"/>')
        out.append("</g>")
        lx = left + (index % 2) * column_width
        ly = legend_top + (index // 2) * 18
        out.append(
            f'<line x1="{lx:.1f}" x2="{lx + 22:.1f}" y1="{ly:.1f}" y2="{ly:.1f}" '
            f'stroke="{colour}" stroke-width="2"{dash_attr}/>'
            if line.joined
            else f'<circle cx="{lx + 11:.1f}" cy="{ly:.1f}" r="{radius}" fill="{colour}"/>'
        )
        out.append(f'<text x="{lx + 28:.1f}" y="{ly + 4:.1f}">{escape(line.label)}</text>')
    out.append("</svg>")
    return "".join(out)


def forest_plot(
    rows: Sequence[ForestRow],
    *,
    title: str,
    x_label: str,
    width: int = 720,
    label_width: int = 250,
) -> str:
    """An SVG document (one `<svg>` element) drawing each row as a dot at its estimate with a
    bar of ± 2 SE, its reference as a hollow diamond, and a vertical line at zero. Rows are
    labelled on the left, under a heading wherever their group changes; a legend sits below."""
    row_height, heading_height, top, right = 18, 22, 28, 16
    left = label_width
    plot_width = width - left - right
    starts = [i == 0 or row.group != rows[i - 1].group for i, row in enumerate(rows)]
    plot_height = heading_height * sum(starts) + row_height * len(rows)
    bottom = top + plot_height
    total_height = bottom + 40 + 22
    values = [0.0]
    for row in rows:
        values += [row.estimate - 2 * row.se, row.estimate + 2 * row.se]
        if row.reference is not None:
            values.append(row.reference)
    ticks = nice_ticks(min(values), max(values), 6)
    x0, x1 = ticks[0], ticks[-1]

    def sx(x: float) -> float:
        return left + (x - x0) / (x1 - x0) * plot_width

    ours, theirs = PALETTE[0], PALETTE[3]
    out = _open(width, total_height, title)
    for x in ticks:
        out.append(
            f'<line x1="{sx(x):.1f}" x2="{sx(x):.1f}" y1="{top}" y2="{bottom}" stroke="#e3e3e3"/>'
            f'<text x="{sx(x):.1f}" y="{bottom + 16}" text-anchor="middle">{_label(x)}</text>'
        )
    out.append(
        f'<line x1="{sx(0):.1f}" x2="{sx(0):.1f}" y1="{top}" y2="{bottom}" stroke="#444" '
        'stroke-width="1.2"/>'
        f'<line x1="{left}" x2="{left + plot_width}" y1="{bottom}" y2="{bottom}" stroke="#444"/>'
        f'<text x="{left + plot_width / 2:.1f}" y="{bottom + 32}" text-anchor="middle">'
        f"{escape(x_label)}</text>"
    )
    y = float(top)
    for item, start in zip(rows, starts, strict=True):
        if start:
            out.append(
                f'<text x="4" y="{y + 15:.1f}" font-weight="600">{escape(item.group)}</text>'
            )
            y += heading_height
        mid = y + row_height / 2
        low, high = sx(item.estimate - 2 * item.se), sx(item.estimate + 2 * item.se)
        tip = f"{item.label}: Δ = {item.estimate:+.2f}, SE {item.se:.2f}"
        if item.reference is not None:
            tip += f"; paper {item.reference:+.1f}"
        out.append(
            f'<g data-row="{escape(item.key)}"><title>{escape(tip)}</title>'
            f'<text x="14" y="{mid + 4:.1f}">{escape(item.label)}</text>'
            f'<line x1="{low:.1f}" x2="{high:.1f}" y1="{mid:.1f}" y2="{mid:.1f}" '
            f'stroke="{ours}" stroke-width="1.8"/>'
        )
        for end in (low, high):
            out.append(
                f'<line x1="{end:.1f}" x2="{end:.1f}" y1="{mid - 4:.1f}" y2="{mid + 4:.1f}" '
                f'stroke="{ours}" stroke-width="1.5"/>'
            )
        out.append(f'<circle cx="{sx(item.estimate):.1f}" cy="{mid:.1f}" r="3.5" fill="{ours}"/>')
        if item.reference is not None:
            out.append(_diamond(sx(item.reference), mid, theirs))
        out.append("</g>")
        y += row_height
    legend = bottom + 50
    out.append(
        f'<circle cx="{left + 6}" cy="{legend}" r="3.5" fill="{ours}"/>'
        f'<line x1="{left - 4}" x2="{left + 16}" y1="{legend}" y2="{legend}" stroke="{ours}" '
        'stroke-width="1.8"/>'
        f'<text x="{left + 24}" y="{legend + 4}">ours: Δ ± 2 SE</text>'
        + _diamond(left + 160, legend, theirs)
        + f'<text x="{left + 172}" y="{legend + 4}">the paper\'s Δ</text></svg>'
    )
    return "".join(out)


def _diamond(x: float, y: float, colour: str, size: float = 4.5) -> str:
    """A hollow diamond centred on (x, y)."""
    corners = ((x, y - size), (x + size, y), (x, y + size), (x - size, y))
    points = " ".join(f"{cx:.1f},{cy:.1f}" for cx, cy in corners)
    return f'<polygon points="{points}" fill="#fff" stroke="{colour}" stroke-width="1.6"/>'
