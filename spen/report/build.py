"""`spen report`: render the collected results into reports/index.html and reports/index.md.

The HTML is one self-contained file (inline CSS, charts as inline SVG); the Markdown twin holds
the same tables, its charts as SVG data URIs. Both are written atomically.
"""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import jinja2
from markupsafe import Markup

from spen.io import atomic_open
from spen.report import markdown
from spen.report.collect import load_inputs
from spen.report.content import build_context

TEMPLATES = Path(__file__).with_name("templates")
OUTPUTS = {"index.html": "index.html.j2", "index.md": "index.md.j2"}


def _md_cell(text: Any) -> str:
    """A Markdown table cell: pipes escaped, line breaks flattened."""
    return str(text).replace("|", "\\|").replace("\n", " ")


def _svg_data_uri(svg: str) -> str:
    return "data:image/svg+xml;base64," + base64.b64encode(svg.encode("utf-8")).decode("ascii")


def environment() -> jinja2.Environment:
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
    env.filters["svg_uri"] = _svg_data_uri
    return env


def render(context: dict[str, Any]) -> dict[str, str]:
    """The text of each output file, by name."""
    env = environment()
    return {
        name: env.get_template(template).render(**context) for name, template in OUTPUTS.items()
    }


def build_report(
    summary: Path, bench: Path | None, out: Path, root: Path | None = None
) -> list[Path]:
    """Render the report of `summary` (and the benchmarks in `bench`) into directory `out`."""
    context = build_context(load_inputs(summary, bench, root))
    written = []
    for name, text in render(context).items():
        path = out / name
        with atomic_open(path) as handle:
            handle.write(text)
        written.append(path)
    return written
