"""report.html shows report.md's own Markdown (vssleval/report/mdhtml.py): what the report writers
produce, names with Markdown characters included, comes out as the same text in the same cells."""

from __future__ import annotations

import doctest
import html
import re

from vssleval.report import mdhtml
from vssleval.report.tables import markdown_grid
from vssleval.report.text import Md


def _cells(page: str) -> list[list[str]]:
    """Each table row's cells as plain text."""
    rows = re.findall(r"<tr>(.*?)</tr>", page)
    return [[html.unescape(re.sub(r"<[^>]+>", "", c)) for c in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", r)] for r in rows]


def test_docstring_examples():
    assert doctest.testmod(mdhtml).failed == 0


def test_a_table_of_the_report_writer_keeps_every_cell_and_its_text():
    names = ["a|b", "x_y *z*", "<script>alert(1)</script>", "[link](http://x)", "back\\slash & co"]
    grid = markdown_grid(["run", "cIoU@0.5"], [[n, Md(f"**0.{i}50**")] for i, n in enumerate(names)])
    page = mdhtml.to_html("# title\n\n## Results\n\n" + grid, "md-")
    assert _cells(page) == [["run", "cIoU@0.5"]] + [[n, f"0.{i}50"] for i, n in enumerate(names)]
    assert "<script>" not in page and "<strong>0.050</strong>" in page
    assert 'class="num">' in page  # the right-aligned number column
    assert "title" not in page and '<h3 id="md-results">' in page  # the page has its own title


def test_blocks_figures_lists_quotes_and_unique_ids():
    text = ("## Overlays\n\n![maxima](maxima.png)\n\nA caption with `code` and [PDF](maxima.pdf).\n\n"
            "- one\n- two \\*\n\n> **warning**\n\n## Overlays\n")
    page = mdhtml.to_html(text, "md-")
    assert '<figure><img src="maxima.png" alt="maxima" loading="lazy"></figure>' in page
    assert '<p>A caption with <code>code</code> and <a href="maxima.pdf">PDF</a>.</p>' in page
    assert "<ul><li>one</li><li>two *</li></ul>" in page
    assert "<blockquote><strong>warning</strong></blockquote>" in page
    assert re.findall(r'id="([^"]+)"', page) == ["md-overlays", "md-overlays-1"]
