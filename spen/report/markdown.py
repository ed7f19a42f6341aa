"""Just enough Markdown for docs/CHOICES.md: headings, bullets, paragraphs, code, emphasis.

Not a Markdown implementation: no nested lists, tables or raw HTML (which is escaped, shown
as text). Lines a bullet's indented continuation are joined to it.
"""

from __future__ import annotations

import html
import re

_INLINE = [
    (re.compile(r"\*\*(.+?)\*\*"), r"<strong>\1</strong>"),
    (re.compile(r"(?<![\w*])\*(?!\s)(.+?)(?<!\s)\*(?![\w*])"), r"<em>\1</em>"),
    (re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)"), r'<a href="\2">\1</a>'),
]
_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*#*\s*$")
_BULLET = re.compile(r"^\s{0,3}[-*+]\s+(.*)$")
_NUMBERED = re.compile(r"^\s{0,3}\d+[.)]\s+(.*)$")


def inline(text: str) -> str:
    """HTML of one line's inline Markdown: `code` spans first (left verbatim), then emphasis."""
    parts = re.split(r"(`[^`]+`)", text)
    out = []
    for part in parts:
        if len(part) > 1 and part.startswith("`") and part.endswith("`"):
            out.append(f"<code>{html.escape(part[1:-1])}</code>")
            continue
        escaped = html.escape(part, quote=False)
        for pattern, replacement in _INLINE:
            escaped = pattern.sub(replacement, escaped)
        out.append(escaped)
    return "".join(out)


def to_html(text: str, heading_offset: int = 0) -> str:
    """HTML of `text`; headings move `heading_offset` levels down (capped at h6)."""
    blocks: list[str] = []
    paragraph: list[str] = []
    items: list[str] = []
    list_tag = ""
    lines = text.splitlines()

    def flush() -> None:
        nonlocal list_tag
        if paragraph:
            blocks.append(f"<p>{inline(' '.join(paragraph))}</p>")
            paragraph.clear()
        if items:
            body = "".join(f"<li>{inline(item)}</li>" for item in items)
            blocks.append(f"<{list_tag}>{body}</{list_tag}>")
            items.clear()
            list_tag = ""

    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        if line.strip().startswith("```"):
            flush()
            code = []
            while index < len(lines) and not lines[index].strip().startswith("```"):
                code.append(lines[index])
                index += 1
            index += 1  # the closing fence
            blocks.append(f"<pre><code>{html.escape(chr(10).join(code))}</code></pre>")
            continue
        if not line.strip():
            flush()
            continue
        heading = _HEADING.match(line)
        if heading:
            flush()
            level = min(len(heading.group(1)) + heading_offset, 6)
            blocks.append(f"<h{level}>{inline(heading.group(2))}</h{level}>")
            continue
        bullet = _BULLET.match(line)
        numbered = None if bullet else _NUMBERED.match(line)
        if bullet or numbered:
            tag = "ul" if bullet else "ol"
            if paragraph or (items and list_tag != tag):
                flush()
            list_tag = tag
            items.append((bullet or numbered).group(1))  # type: ignore[union-attr]
            continue
        if items and line.startswith((" ", "\t")):
            items[-1] += " " + line.strip()
            continue
        if line.startswith("    ") and not paragraph:
            flush()
            code = [line[4:]]
            while index < len(lines) and (lines[index].startswith("    ") or not lines[index]):
                code.append(lines[index][4:])
                index += 1
            while code and not code[-1].strip():
                code.pop()
            blocks.append(f"<pre><code>{html.escape(chr(10).join(code))}</code></pre>")
            continue
        if items:
            flush()
        paragraph.append(line.strip())
    flush()
    return "\n".join(blocks)


def shift_headings(text: str, offset: int) -> str:
    """`text` with every ATX heading `offset` levels deeper (for embedding in a report)."""
    out = []
    fenced = False
    for line in text.splitlines():
        if line.strip().startswith("```"):
            fenced = not fenced
        if not fenced and _HEADING.match(line):
            line = "#" * offset + line
        out.append(line)
    return "\n".join(out)
