"""The Markdown that ``vssleval report`` writes, as HTML: what ``report.html`` shows of ``report.md``.

``report.html`` renders the very text of ``report.md`` and ``leaderboard.md`` (docs/report.md,
"report.html"), so a table or a column added to them shows in the browser without more work. This
is no general Markdown reader: it reads the subset those files are written in (headings, pipe tables,
paragraphs, ``-`` lists, ``>`` quotes, ``**bold**``, ``` `code` ```, links, images and the backslash
escapes of :func:`vssleval.report.text.md`), and escapes everything else as text.
"""

from __future__ import annotations

import html
import re

_ESCAPABLE = set("\\`*_{}[]()#+-.!|~<>&")
_LINK = re.compile(r"(!?)\[((?:\\.|[^\]\\])*)\]\(([^)\s]*)\)")


def inline(text: str) -> str:
    """One line of inline Markdown as HTML (escapes, code, bold, links, images).

    Examples:
    >>> inline(r"a \\| **b** `c<d` [x](y.md) 0.5 \\[0.4, 0.6\\]")
    'a | <strong>b</strong> <code>c&lt;d</code> <a href="y.md">x</a> 0.5 [0.4, 0.6]'
    """
    out: list[str] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c == "\\" and i + 1 < n and text[i + 1] in _ESCAPABLE:
            out.append(html.escape(text[i + 1]))
            i += 2
        elif c == "`":
            end = text.find("`", i + 1)
            if end < 0:
                out.append("`")
                i += 1
            else:
                out.append(f"<code>{html.escape(text[i + 1:end])}</code>")
                i = end + 1
        elif text.startswith("**", i) and (end := _closing(text, i + 2)) > 0:
            out.append(f"<strong>{inline(text[i + 2:end])}</strong>")
            i = end + 2
        elif c in "![" and (m := _LINK.match(text, i)):
            label, href = m.group(2), html.escape(m.group(3), quote=True)
            if m.group(1):
                out.append(f'<img src="{href}" alt="{html.escape(_plain(label), quote=True)}" loading="lazy">')
            else:
                out.append(f'<a href="{href}">{inline(label)}</a>')
            i = m.end()
        else:
            out.append(html.escape(c))
            i += 1
    return "".join(out)


def _closing(text: str, start: int) -> int:
    """Index of the ``**`` closing a bold span opened before ``start`` (skipping escapes), or -1."""
    i = start
    while i < len(text) - 1:
        if text[i] == "\\":
            i += 2
        elif text.startswith("**", i):
            return i if i > start else -1
        else:
            i += 1
    return -1


def _plain(text: str) -> str:
    """Inline Markdown without its markup (an image's alt text)."""
    return re.sub(r"\\(.)", r"\1", text)


def split_row(line: str) -> list[str]:
    """The cells of a pipe-table row (still Markdown), split on the ``|`` no backslash escapes.

    Examples:
    >>> split_row(r"| a \\| b | 1 |")
    ['a \\\\| b', '1']
    """
    body = line.strip()
    body = body[1:] if body.startswith("|") else body
    cells, cur, i = [], [], 0
    while i < len(body):
        if body[i] == "\\" and i + 1 < len(body):
            cur.append(body[i:i + 2])
            i += 2
            continue
        if body[i] == "|":
            cells.append("".join(cur).strip())
            cur = []
        else:
            cur.append(body[i])
        i += 1
    if "".join(cur).strip():
        cells.append("".join(cur).strip())
    return cells


def _is_rule(line: str) -> bool:
    return bool(re.fullmatch(r"\|?\s*:?-{3,}:?\s*(\|\s*:?-{3,}:?\s*)*\|?", line.strip()))


def table(header: list[str], aligns: list[str], rows: list[list[str]]) -> str:
    """A sortable HTML table (``class="sortable"``: the page's script sorts it by a clicked header)."""
    def cell(tag: str, text: str, align: str) -> str:
        css = ' class="num"' if align == "right" else ""
        return f"<{tag}{css}>{inline(text)}</{tag}>"

    head = "".join(cell("th", h, a) for h, a in zip(header, aligns))
    body = "".join("<tr>" + "".join(cell("td", c, a) for c, a in zip(r, aligns)) + "</tr>" for r in rows)
    return f'<table class="sortable"><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>'


def to_html(markdown: str, prefix: str, skip_title: bool = True) -> str:
    """The block structure of ``markdown`` as HTML; headings get ids ``prefix`` + their words (unique
    within the text); ``skip_title``: leave out a leading ``# title``."""
    lines = markdown.splitlines()
    out: list[str] = []
    used: set[str] = set()
    i = 0
    while i < len(lines):
        line = lines[i]
        stripped = line.strip()
        if not stripped:
            i += 1
            continue
        heading = re.match(r"(#{1,6})\s+(.*)", stripped)
        if heading:
            level = len(heading.group(1))
            if not (skip_title and level == 1 and not out):
                ident = base = prefix + _anchor(heading.group(2))
                while ident in used:  # two sections of one title (e.g. per protocol) get two ids
                    ident = f"{base}-{len(used)}"
                used.add(ident)
                out.append(f'<h{level + 1} id="{ident}">{inline(heading.group(2))}</h{level + 1}>')
            i += 1
        elif stripped.startswith("|") and i + 1 < len(lines) and _is_rule(lines[i + 1]):
            header = split_row(stripped)
            aligns = ["right" if c.strip().endswith(":") and not c.strip().startswith(":") else "left"
                      for c in split_row(lines[i + 1])]
            aligns += ["left"] * (len(header) - len(aligns))
            i += 2
            rows = []
            while i < len(lines) and lines[i].strip().startswith("|"):
                rows.append(split_row(lines[i]))
                i += 1
            out.append(table(header, aligns, rows))
        elif stripped.startswith("- "):
            items = []
            while i < len(lines) and lines[i].strip().startswith("- "):
                items.append(f"<li>{inline(lines[i].strip()[2:])}</li>")
                i += 1
            out.append("<ul>" + "".join(items) + "</ul>")
        elif stripped.startswith(">"):
            quoted = []
            while i < len(lines) and lines[i].strip().startswith(">"):
                quoted.append(lines[i].strip()[1:].strip())
                i += 1
            out.append(f"<blockquote>{inline(' '.join(quoted))}</blockquote>")
        else:
            para = []
            while i < len(lines) and lines[i].strip() and not _block_start(lines, i):
                para.append(lines[i].strip())
                i += 1
            if not para:  # a line that looked like a block start but is none: show it as text
                para, i = [stripped], i + 1
            tag = "figure" if len(para) == 1 and para[0].startswith("![") else "p"
            out.append(f"<{tag}>{inline(' '.join(para))}</{tag}>")
    return "\n".join(out)


def _block_start(lines: list[str], i: int) -> bool:
    s = lines[i].strip()
    if re.match(r"#{1,6}\s", s) or s.startswith(("- ", ">")):
        return True
    return s.startswith("|") and i + 1 < len(lines) and _is_rule(lines[i + 1])


def _anchor(title: str) -> str:
    """An ``id`` for a heading: its words, lower case, joined by ``-``."""
    words = re.findall(r"[a-z0-9]+", _plain(title).lower())
    return "-".join(words)[:60] or "section"
