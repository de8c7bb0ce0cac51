"""LaTeX tables that drop into a two-column paper (docs/report.md, "LaTeX tables").

One job: lay out a table of numbers (a label column, then columns grouped under titles) so that it
fits the page, and write it as booktabs ``table*`` / ``table`` environments. The leaderboard and the
paired comparison build their cells and hand them here; nothing here knows about runs.

The width of every cell is estimated from its characters (Computer Modern widths, rounded up), in a
fixed type size (8 pt, 7 pt for the second line of a cell), so the estimate does not depend on the
document's own size. A table whose estimated width exceeds :data:`TEXT_WIDTH_PT` is split by columns
into several tables (the first columns of each group, in catalog order, in the first one), each with
the same rows; each is a ``table*`` whose ``tabular*`` spreads its columns over ``\\textwidth``. A table
narrow enough for one column of the page (:data:`COLUMN_WIDTH_PT`) is a plain ``table``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Sequence

from vssleval.report.text import tex

#: ``\\textwidth`` the tables are laid out for, in pt: the narrowest common two-column page
#: (``\\documentclass[twocolumn,a4paper]{article}``: 452 pt; US letter 469, ACL 455, CVPR 496).
TEXT_WIDTH_PT = 452.0
#: ``\\columnwidth`` of that page (221 pt): a table this narrow is a one-column ``table``.
COLUMN_WIDTH_PT = 221.0
#: Type size of the cells (pt), of a cell's second line, and the space on each side of a column.
BODY_PT, SUB_PT, TABCOLSEP_PT = 8.0, 7.0, 4.0
#: The label column (model names) is wrapped at spaces to at most this width (pt).
LABEL_MAX_PT = 110.0

# Widths of Computer Modern Roman characters in em (cmr10), rounded up; anything else counts 1 em.
_LETTERS = dict(zip("abcdefghijklmnopqrstuvwxyz",
                    (.5, .56, .45, .56, .45, .31, .5, .56, .28, .31, .53, .28, .84, .56, .5, .56, .53, .4, .4, .39,
                     .56, .53, .73, .53, .53, .45)))
_LETTERS.update(zip("ABCDEFGHIJKLMNOPQRSTUVWXYZ",
                    (.75, .71, .73, .77, .69, .66, .79, .75, .37, .52, .78, .63, .92, .75, .78, .69, .78, .74, .56,
                     .73, .75, .75, 1.03, .75, .75, .62)))
_EM = {**_LETTERS, **dict.fromkeys("0123456789", 0.5), **dict.fromkeys(".,:;'`!|", 0.28), " ": 0.34,
       **dict.fromkeys("()[]", 0.39), **dict.fromkeys("{}", 0.5), "-": 0.34, "/": 0.5, "*": 0.5, "_": 0.5,
       **dict.fromkeys("+=<>±−", 0.78), "†": 0.45, "%": 0.84, "&": 0.78, "#": 0.84, "$": 0.5, "@": 0.78}
_OTHER = 1.0
_BOLD = 1.15  # cmbx is about 15 % wider than cmr
#: Computer Modern's small design sizes are wider per em than cmr10 (a digit: 0.531 em in cmr8, 0.569 in cmr7)
_DESIGN = {10: 1.0, 9: 1.03, 8: 1.07, 7: 1.14, 6: 1.23, 5: 1.33}


def text_width(s: str, size: float = BODY_PT, bold: bool = False) -> float:
    """Estimated width in pt of plain text ``s`` set in Computer Modern at ``size`` pt (an upper bound
    for ASCII text; 1 em for any other character).

    Examples:
    >>> round(text_width("0.645"), 1)  # (4 digits x 0.5 em + a point 0.28 em) x 8 pt x cmr8's 1.07, 2 % margin
    19.9
    """
    em = 0.0
    for c in s:
        em += _EM.get(c, _OTHER)
    design = _DESIGN.get(round(size), 1.33 if size < 5 else 1.0)
    return em * size * design * (_BOLD if bold else 1.0) * 1.02


def wrap(s: str, width: float, size: float = BODY_PT) -> list[str]:
    """``s`` in lines of at most ``width`` pt, broken at spaces; a word wider than ``width`` is cut
    into pieces that fit (a name may hold no space at all)."""
    lines: list[str] = []
    for word in s.split(" "):
        pieces = [word]
        if text_width(word, size) > width:  # cut a long word, after a _ - / . where one fits
            pieces, cur = [], ""
            for c in word:
                if cur and text_width(cur + c, size) > width:
                    cut = max(cur.rfind(x) for x in "_-/.") + 1
                    cut = cut if cut > len(cur) // 2 else len(cur)
                    pieces.append(cur[:cut])
                    cur = cur[cut:]
                cur += c
            pieces.append(cur)
        for piece in pieces:
            if lines and piece is pieces[0] and text_width(lines[-1] + " " + piece, size) <= width:
                lines[-1] += " " + piece
            else:
                lines.append(piece)
    return lines or [""]


def _two_lines(s: str) -> list[str]:
    """``s`` as one line, or broken at the space that makes its widest line narrowest."""
    words = s.split(" ")
    best = [s]
    for k in range(1, len(words)):
        cut = [" ".join(words[:k]), " ".join(words[k:])]
        if max(map(text_width, cut)) < max(map(text_width, best)):
            best = cut
    return best


@dataclass(frozen=True)
class Cell:
    """One number of a table: ``text`` (plain: ``0.645``, ``0.645 ± 0.004``), an optional smaller
    second line ``sub`` (plain: ``[0.612, 0.679]``), set bold when ``bold``."""

    text: str = "--"
    sub: str = ""
    bold: bool = False

    def width(self) -> float:
        return max(text_width(self.text, bold=self.bold), text_width(self.sub, SUB_PT))


@dataclass(frozen=True)
class Column:
    """A column: its title (plain text, e.g. a catalog's short label) and one cell per row."""

    head: str
    cells: tuple[Cell, ...]

    def head_lines(self) -> list[str]:
        """The title on one line, or on two when it is wider than the cells."""
        cells = max((c.width() for c in self.cells), default=0.0)
        return [self.head] if text_width(self.head) <= cells else _two_lines(self.head)

    def width(self) -> float:
        return max([*(c.width() for c in self.cells), *map(text_width, self.head_lines())]) + 2 * TABCOLSEP_PT


@dataclass(frozen=True)
class Group:
    """Columns under one title (plain text; ``""``: no title row)."""

    title: str
    columns: tuple[Column, ...]


@dataclass(frozen=True)
class Table:
    """What :func:`tables` lays out: a row label per row (plain text) with a LaTeX mark after it
    (``$^\\dagger$`` or ``""``), the label column's title, the groups, and where a rule separates
    the rows (``rule_before``: row indices)."""

    labels: tuple[str, ...]
    marks: tuple[str, ...]
    label_head: str
    groups: tuple[Group, ...]
    rule_before: tuple[int, ...] = ()


def _label_width(t: Table) -> float:
    lines = [ln for lab in t.labels for ln in wrap(lab, LABEL_MAX_PT)] + [t.label_head]
    return max(map(text_width, lines)) + text_width("†") + 2 * TABCOLSEP_PT


def _group_width(g: Group) -> float:
    cols = sum(c.width() for c in g.columns)
    if not g.title:
        return cols
    return max(cols, max(text_width(ln) for ln in _title_lines(g)) + 2 * TABCOLSEP_PT)


def _title_lines(g: Group) -> list[str]:
    """A group's title wrapped to the width of its columns."""
    return wrap(g.title, sum(c.width() for c in g.columns) - 2 * TABCOLSEP_PT)


def width(t: Table) -> float:
    """Estimated natural width of ``t`` in pt (an upper bound)."""
    return _label_width(t) + sum(_group_width(g) for g in t.groups)


def split(t: Table, budget: float = TEXT_WIDTH_PT) -> list[Table]:
    """``t`` as one table, or as several tables of the same rows that each fit ``budget`` pt: the
    next columns of every group in each (as many as fit, spread evenly over the tables needed); when
    not even one column per group fits, the groups are taken a few at a time."""
    if width(t) <= budget:
        return [t]
    out: list[Table] = []
    groups = list(t.groups)
    while groups:
        chunk = [groups[0]]  # the most groups whose next column fits beside each other
        while len(chunk) < len(groups) and width(_with(t, [_head(g, 1) for g in groups[:len(chunk) + 1]])) <= budget:
            chunk.append(groups[len(chunk)])
        groups = groups[len(chunk):]
        left = {i: 0 for i in range(len(chunk))}
        while any(left[i] < len(g.columns) for i, g in enumerate(chunk)):
            rest = [Group(g.title, g.columns[left[i]:]) for i, g in enumerate(chunk)]
            most = max(len(g.columns) for g in rest)
            fit = max([n for n in range(1, most + 1) if width(_with(t, [_head(g, n) for g in rest])) <= budget] or [1])
            n = math.ceil(most / math.ceil(most / fit))  # the same number of columns in each table
            part = [_head(g, n) for g in rest]
            out.append(_with(t, [g for g in part if g.columns]))
            for i, g in enumerate(part):
                left[i] += len(g.columns)
    return out


def _head(g: Group, n: int) -> Group:
    return Group(g.title, g.columns[:n])


def _with(t: Table, groups: Sequence[Group]) -> Table:
    return Table(t.labels, t.marks, t.label_head, tuple(groups), t.rule_before)


def label_key(*parts: str) -> str:
    """A ``\\label`` key from plain words: lower case, runs of other characters as ``-``.

    Examples:
    >>> label_key("leaderboard", "VGG-SS", "vssleval")
    'leaderboard-vgg-ss-vssleval'
    """
    return "-".join(p for p in (re.sub(r"[^a-z0-9]+", "-", str(x).lower()).strip("-") for x in parts) if p)


#: Characters of the plain texts that LaTeX sets in math (pdflatex has no text glyph for them).
_MATH = {"±": r"$\pm$", "−": r"$-$", "†": r"$^\dagger$"}


def ltx(s: str) -> str:
    """Plain text as LaTeX: :func:`vssleval.report.text.tex`, with ``± − †`` set in math."""
    return "".join(_MATH.get(c, c) for c in tex(s)) if any(c in _MATH for c in s) else tex(s)


def breakable(s: str) -> str:
    r"""Plain text for a caption, escaped (:func:`vssleval.report.text.tex`), with ``\allowbreak``
    after ``/ _ - .`` and inside long words, so a long name cannot overrun a line."""
    out, run = [], 0
    for c in s:
        out.append(ltx(c))
        run = 0 if c == " " else run + 1
        if c in "/_-." or run >= 16:
            out.append(r"\allowbreak{}")
            run = 0
    return "".join(out)


def _stack(lines: Sequence[str], align: str = "c", pos: str = "b") -> str:
    """LaTeX of escaped ``lines`` one above the other (one line: as it is)."""
    if len(lines) == 1:
        return lines[0]
    return rf"\begin{{tabular}}[{pos}]{{@{{}}{align}@{{}}}}" + r"\\".join(lines) + r"\end{tabular}"


def _cell(c: Cell) -> str:
    text = rf"\textbf{{{ltx(c.text)}}}" if c.bold else ltx(c.text)
    if not c.sub:
        return text
    sub = ltx(c.sub)
    return _stack([text, rf"{{\fontsize{{{SUB_PT:g}}}{{{SUB_PT + 1:g}}}\selectfont {sub}}}"], "r", "t")


def render(t: Table, caption: str, key: str) -> str:
    """One LaTeX table (booktabs): ``caption`` is LaTeX already, ``key`` the ``\\label``. A
    ``table*`` spreading over ``\\textwidth`` (``tabular*``), or a ``table`` when it fits a column."""
    wide = width(t) > COLUMN_WIDTH_PT
    env = "table*" if wide else "table"
    cols = [c for g in t.groups for c in g.columns]
    spec = "l" + "".join("r" * len(g.columns) for g in t.groups)
    begin = (rf"\begin{{tabular*}}{{\textwidth}}{{@{{\extracolsep{{\fill}}}}{spec}@{{}}}}" if wide
             else rf"\begin{{tabular}}{{@{{}}{spec}@{{}}}}")
    out = [rf"\begin{{{env}}}[t]", r"\centering", rf"\caption{{{caption}}}\label{{{key}}}", r"\smallskip",
           rf"{{\fontsize{{{BODY_PT:g}}}{{{BODY_PT + 1.5:g}}}\selectfont\setlength{{\tabcolsep}}{{{TABCOLSEP_PT:g}pt}}",
           begin, r"\toprule"]
    if any(g.title for g in t.groups):
        head, rules, start = [""], [], 2
        for g in t.groups:
            n = len(g.columns)
            head.append(rf"\multicolumn{{{n}}}{{c}}{{{_stack([ltx(x) for x in _title_lines(g)])}}}")
            if g.title:
                rules.append(rf"\cmidrule(lr){{{start}-{start + n - 1}}}")
            start += n
        out += [" & ".join(head) + r" \\", " ".join(rules)]
    out.append(" & ".join([ltx(t.label_head)] + [_stack([ltx(x) for x in c.head_lines()]) for c in cols]) + r" \\")
    out.append(r"\midrule")
    for i, (lab, mark) in enumerate(zip(t.labels, t.marks)):
        if i in t.rule_before:
            out.append(r"\midrule")
        name = _stack([ltx(x) for x in wrap(lab, LABEL_MAX_PT)], "l", "t") + mark
        out.append(" & ".join([name] + [_cell(c.cells[i]) for c in cols]) + r" \\")
    end = r"\end{tabular*}" if wide else r"\end{tabular}"
    out += [r"\bottomrule", end + "}", rf"\end{{{env}}}"]
    return "\n".join(out)


def tables(t: Table, key: str, caption: str, continued: str, budget: float = TEXT_WIDTH_PT) -> str:
    """``t`` as LaTeX, split to fit (:func:`split`). The first table is labelled ``key`` and has
    ``caption`` (LaTeX); the others ``key-2``, ``key-3``, ... with ``continued`` (LaTeX; ``{ref}``
    stands for a reference to the first one), and the first says where its columns continue."""
    parts = split(t, budget)
    keys = [key] + [f"{key}-{k}" for k in range(2, len(parts) + 1)]
    more = (" Columns continue in " + ", ".join(rf"Table~\ref{{{k}}}" for k in keys[1:]) + ".") if len(parts) > 1 else ""
    out = [render(parts[0], caption + more, keys[0])]
    for part, k in zip(parts[1:], keys[1:]):
        out.append(render(part, continued.replace("{ref}", rf"Table~\ref{{{key}}}"), k))
    return "\n\n".join(out) + "\n"
