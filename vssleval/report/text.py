"""Text from a run (model, class, dataset and folder names) made safe for each output format.

Every table and line a report writes passes names through one of these (docs/report.md, "Names
in tables"): a name may hold any character, and none may split a table row, start a Markdown
emphasis or link, break a LaTeX group, switch a figure title into mathtext or reorder a line.

* :func:`visible`: control, line-break and invisible formatting characters written as escapes
  (``\\n``, ``\\u202e``), so a name is one visible line (console, base of the others).
* :func:`md`: inline Markdown text (table cells, headings, list items); :class:`Md` marks text
  that is already Markdown (a bold value) so :func:`vssleval.report.tables.markdown_grid` keeps it.
* :func:`tex`: LaTeX text (``leaderboard.tex``).
* :func:`figure`: matplotlib text (titles, legends, tick labels).
* :func:`csv_text`: CSV rows through the :mod:`csv` module, quoting every field that holds a
  delimiter, a quote, ``\\r`` or ``\\n``.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from typing import Any, Iterable, Sequence

#: Unicode categories written as escapes: controls, line / paragraph separators, invisible formats
#: (bidirectional overrides, zero-width spaces, ...). The zero-width joiner is kept: emoji need it.
_HIDDEN = ("Cc", "Cf", "Zl", "Zp")
_KEEP = {"\u200d"}
_SHORT = {"\n": "\\n", "\r": "\\r", "\t": "\\t"}


def visible(s: Any) -> str:
    """``str(s)`` as one visible line: each hidden character as a Python-style escape.

    Examples:
    >>> visible("a\\nb\\u202ec")
    'a\\\\nb\\\\u202ec'
    """
    text = str(s)
    if text.isprintable():
        return text
    out = []
    for c in text:
        if c in _KEEP or unicodedata.category(c) not in _HIDDEN:
            out.append(c)
        elif c in _SHORT:
            out.append(_SHORT[c])
        else:
            code = ord(c)
            out.append(f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}" if code < 0x10000 else f"\\U{code:08x}")
    return "".join(out)


class Md(str):
    """Text that is already Markdown (e.g. ``**0.645**``): table writers keep it as it is."""


#: Characters that are Markdown syntax inside a line (escape, code, emphasis, link, raw HTML, cell
#: separator, strikethrough, entity): escaped with a backslash (CommonMark lets any ASCII punctuation
#: be escaped; GFM's tables read ``\\|`` as a literal pipe). ``_`` inside a word is no emphasis in
#: GFM and is kept there, so ``ssl_tie`` stays readable. Characters that are syntax only at the start
#: of a line (``#``, ``>``, ``-``) are left: a name never starts a line.
_MD_SPECIAL = re.compile(r"[\\`*\[\]<|~&]|(?<![0-9A-Za-z])_|_(?![0-9A-Za-z])")


def md(s: Any) -> str:
    """Plain text as inline Markdown (a table cell, a heading, a list item): one line whose
    characters all show as themselves. :class:`Md` text is returned unchanged.

    Examples:
    >>> md("a|b *c* _d_ x_y")
    'a\\\\|b \\\\*c\\\\* \\\\_d\\\\_ x_y'
    """
    if isinstance(s, Md):
        return str(s)
    return _MD_SPECIAL.sub(lambda m: "\\" + m.group(0), visible(s))


_TEX = {"\\": r"\textbackslash{}", "&": r"\&", "%": r"\%", "$": r"\$", "#": r"\#", "_": r"\_", "{": r"\{",
        "}": r"\}", "~": r"\textasciitilde{}", "^": r"\textasciicircum{}", "<": r"\textless{}",
        ">": r"\textgreater{}", "|": r"\textbar{}", '"': r"\textquotedbl{}"}


def tex(s: Any) -> str:
    r"""Plain text for LaTeX: its special characters as commands, one line.

    Examples:
    >>> tex("50% of a_b {x}")
    '50\\% of a\\_b \\{x\\}'
    """
    return "".join(_TEX.get(c, c) for c in visible(s))


def figure(s: Any) -> str:
    r"""Plain text for a matplotlib title, legend or tick label: one line, ``$`` escaped (an even
    number of ``$`` would otherwise be parsed as mathtext, and an odd one can fail to render), a
    leading ``_`` after a space (matplotlib leaves legend entries starting with ``_`` out).

    Examples:
    >>> figure("_a $x$")
    ' _a \\$x\\$'
    """
    text = visible(s).replace("$", r"\$")
    return " " + text if text.startswith("_") else text


def csv_text(rows: Iterable[Sequence[Any]]) -> str:
    """CSV text, one ``\\n``-terminated line per row, through :mod:`csv`.

    The writer is given a ``\\r\\n`` terminator, which makes it quote every field holding ``\\r``
    or ``\\n`` (with a ``\\n`` terminator a bare ``\\r`` would stay unquoted and split the row
    for any reader); each line then ends in ``\\n`` alone.

    Examples:
    >>> csv_text([["class", "n"], ["a\\rb", 1]])
    'class,n\\n"a\\rb",1\\n'
    """
    out = []
    for row in rows:
        buf = io.StringIO()
        csv.writer(buf, lineterminator="\r\n").writerow(row)
        out.append(buf.getvalue()[:-2] + "\n")
    return "".join(out)
