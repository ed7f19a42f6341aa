"""Markdown to HTML for the report (docs/CHOICES.md, table notes), by markdown-it-py:
CommonMark with tables; raw HTML is escaped, shown as text."""

from __future__ import annotations

import re

from markdown_it import MarkdownIt

_RENDERER = MarkdownIt("commonmark", {"html": False}).enable("table")
_HEADING = re.compile(r"^(#{1,6})\s")


def inline(text: str) -> str:
    """HTML of one line's inline Markdown (code spans, emphasis, links), no paragraph."""
    return _RENDERER.renderInline(text)


def to_html(text: str, heading_offset: int = 0) -> str:
    """HTML of `text`; headings move `heading_offset` levels down (capped at h6)."""
    return _RENDERER.render(shift_headings(text, heading_offset)).strip()


def shift_headings(text: str, offset: int) -> str:
    """`text` with every ATX heading `offset` levels deeper, at most h6 (outside code fences)."""
    out = []
    fenced = False
    for line in text.splitlines():
        if line.strip().startswith("```"):
            fenced = not fenced
        heading = None if fenced else _HEADING.match(line)
        if heading and offset:
            level = min(len(heading.group(1)) + offset, 6)
            line = "#" * level + line[len(heading.group(1)) :]
        out.append(line)
    return "\n".join(out)
