"""`spen report`: render the collected results into reports/index.html, reports/index.md and
the charts both show, reports/figures/NAME.svg.

The HTML carries its CSS inline; both pages show each chart by its relative path, figures/NAME.svg.
Everything is rendered before anything is written, so a render that fails leaves the previous
report as it was; then the figures folder is replaced whole, each page atomically, and the
charts of an earlier render that this one no longer shows are removed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from spen.io import atomic_dir, atomic_open
from spen.report import markdown
from spen.report.cells import FIGURES, Chart
from spen.report.collect import load_inputs
from spen.report.context import build_context
from spen.report.provenance import check_strict

TEMPLATES = Path(__file__).with_name("templates")
OUTPUTS = {"index.html": "index.html.j2", "index.md": "index.md.j2"}


def _md_cell(text: Any) -> str:
    """A Markdown table cell: pipes escaped, line breaks flattened."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def environment() -> jinja2.Environment:
    """The Jinja2 environment of the templates: HTML autoescaped, undefined names an error."""
    env = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=lambda name: bool(name and name.endswith(".html.j2")),
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["inline"] = lambda text: Markup(markdown.inline(text))
    env.filters["mdcell"] = _md_cell
    return env


def render(context: dict[str, Any]) -> dict[str, str]:
    """The text of each output file, by name."""
    env = environment()
    return {
        name: env.get_template(template).render(**context) for name, template in OUTPUTS.items()
    }


def figures(context: dict[str, Any]) -> dict[str, str]:
    """The SVG text of every chart in the context (alone or in a list), by file name."""
    found: dict[str, str] = {}
    for value in context.values():
        for item in value if isinstance(value, list) else [value]:
            if isinstance(item, Chart):
                if item.file in found:
                    raise ValueError(f"two charts of the report are named {item.name}")
                found[item.file] = item.svg
    return found


def build_report(
    summary: Path,
    bench: Path | None,
    out: Path,
    root: Path | None = None,
    strict: bool = False,
) -> list[Path]:
    """Render the report of `summary` (and the benchmarks in `bench`) into directory `out`:
    index.html, index.md and the folder of their figures. Returns those three paths. `strict`:
    refuse (ValueError, nothing written) when the inputs git tracks are not all committed."""
    inputs = load_inputs(summary, bench, root)
    if strict:
        check_strict(inputs.environment["git"])
    context = build_context(inputs)
    pages = render(context)
    charts = figures(context)
    folder = out / FIGURES
    with atomic_dir(folder) as staging:
        for name, svg in charts.items():
            with atomic_open(staging / name) as handle:
                handle.write(svg)
    written = []
    for name, text in pages.items():
        path = out / name
        with atomic_open(path) as handle:
            handle.write(text)
        written.append(path)
    # atomic_dir keeps what the old folder held beyond the new charts: an earlier render's
    # charts go once the pages that showed them are replaced
    for stale in folder.glob("*.svg"):
        if stale.name not in charts:
            stale.unlink()
    return [*written, folder]
