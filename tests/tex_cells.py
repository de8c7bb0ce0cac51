"""The LaTeX tables the report writes (vssleval/report/latex.py) in tests: their cells, and compiling them."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

import shared

#: a cell of several lines: ``\begin{tabular}[t]{@{}r@{}}line\\line\end{tabular}``
_NESTED = re.compile(r"\\begin\{tabular\}\[\w\]\{@\{\}\w@\{\}\}|\\end\{tabular\}")


def tex_plain(cell: str) -> str:
    r"""A cell's text with its lines joined by a space.

    >>> tex_plain(r"\begin{tabular}[b]{@{}c@{}}pIA\\silence\end{tabular}")
    'pIA silence'
    """
    return _NESTED.sub("", cell).replace("\\\\", " ")


def _pdflatex() -> str:
    """``pdflatex``, or a skip naming the script that installs it (a failure under
    VSSLEVAL_REQUIRE_FULL_FIXTURES=1, where CI has installed it)."""
    exe = shutil.which("pdflatex")
    found = exe and shutil.which("kpsewhich") and subprocess.run(
        ["kpsewhich", "booktabs.sty"], capture_output=True, text=True).stdout.strip()
    if not found:
        why = ("pdflatex with booktabs is not installed (bash scripts/system_packages.sh installs "
               "texlive-latex-base and texlive-latex-recommended)")
        if os.environ.get("VSSLEVAL_REQUIRE_FULL_FIXTURES", "") not in ("", "0"):
            pytest.fail(why + " but VSSLEVAL_REQUIRE_FULL_FIXTURES=1")
        pytest.skip(why)
    return exe


def compile_overfull(folder: Path, parts: dict[str, str]) -> dict[str, list[str]]:
    """Compile every ``parts`` text (a file each) in one two-column A4 article; ``{part: [overfull
    box lines of the log]}`` (empty lists when everything fits). The document must compile."""
    exe = _pdflatex()
    body = []
    for name, text in parts.items():
        (folder / f"{name}.tex").write_text(text, encoding="utf-8")
        body += [rf"\typeout{{CASE {name}}}", rf"\input{{{name}.tex}}", r"\clearpage"]
    doc = "\n".join([r"\documentclass[twocolumn,a4paper]{article}", r"\usepackage{booktabs}",
                     r"\begin{document}", *body, r"\end{document}", ""])
    (folder / "doc.tex").write_text(doc, encoding="utf-8")
    proc = subprocess.run([exe, "-interaction=nonstopmode", "-halt-on-error", "doc.tex"], cwd=folder,
                          capture_output=True, text=True, timeout=shared.HANG_S)
    log = (folder / "doc.log").read_text(encoding="utf-8", errors="replace")
    assert proc.returncode == 0, log[-3000:]
    found: dict[str, list[str]] = {name: [] for name in parts}
    case = None
    for line in log.splitlines():
        if line.startswith("CASE "):
            case = line[5:].strip()
        elif "Overfull \\hbox" in line or "Overfull \\vbox" in line:
            found[case or "preamble"].append(line)
    return found
