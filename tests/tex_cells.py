"""Reading the cells of the LaTeX tables the report writes (vssleval/report/latex.py) in tests."""

from __future__ import annotations

import re

#: a cell of several lines: ``\begin{tabular}[t]{@{}r@{}}line\\line\end{tabular}``
_NESTED = re.compile(r"\\begin\{tabular\}\[\w\]\{@\{\}\w@\{\}\}|\\end\{tabular\}")


def tex_plain(cell: str) -> str:
    r"""A cell's text with its lines joined by a space.

    >>> tex_plain(r"\begin{tabular}[b]{@{}c@{}}pIA\\silence\end{tabular}")
    'pIA silence'
    """
    return _NESTED.sub("", cell).replace("\\\\", " ")
