"""Section 12: docs/CHOICES.md, the decisions the reproduction took, as part of the report."""

from __future__ import annotations

from spen.report import markdown
from spen.report.collect import Inputs


def choices(inputs: Inputs) -> tuple[str, str] | None:
    """docs/CHOICES.md as (HTML, Markdown), its title line dropped, headings one level down."""
    if inputs.choices is None:
        return None
    lines = inputs.choices.splitlines()
    if lines and lines[0].startswith("# "):
        lines = lines[1:]
    body = "\n".join(lines).strip() + "\n"
    return markdown.to_html(body, heading_offset=1), markdown.shift_headings(body, 1)
