"""README.md runs as written from a fresh clone, and the numbers it quotes are what its own commands
print (docs/testing.md, "Docs as tests"; the markers and the runner are tests/test_docs_commands.py's).

README's run (``bash eval_models.sh``, the main job, then ``compare``, ``export`` and the notebook
example) is the most expensive single fixture of the suite; it lies in a module of its own so that
pytest-xdist (``--dist loadfile``: one module per worker at a time) runs it beside the other pages,
not after them on the same worker.
"""

from __future__ import annotations

import csv
import json
import re

import pytest

from shared import ROOT
from test_docs_commands import PageRun, check_page_run, markdown_rows, run_page

pytestmark = pytest.mark.heavy(90)  # the main job from a cold cache: first to start under xdist


@pytest.fixture(scope="session")
def readme_run(tmp_path_factory, docs_cache) -> PageRun:
    """README's commands in order, once per session: the main job (``bash eval_models.sh``, about a
    minute of CPU) and the commands that read its runs."""
    return run_page("README.md", tmp_path_factory.mktemp("readme"), docs_cache)


@pytest.mark.slow
def test_readme_runs_as_written(readme_run):
    check_page_run(readme_run)


# -- tests: the numbers README quotes --------------------------------------------------------------
def _section(text: str, start: str, stop: str) -> str:
    return text[text.index(start):text.index(stop, text.index(start))]


def readme_tables() -> list[list[list[str]]]:
    """README's main-job tables: the report excerpt, then the leaderboard excerpt."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    part = _section(text, "### What the main job shows", "## Evaluating published models")
    tables, current = [], []
    for line in part.splitlines() + [""]:
        if line.startswith("|"):
            current.append(line)
        elif current:
            tables.append(markdown_rows("\n".join(current)))
            current = []
    return tables


def _labels() -> dict[str, str]:
    """Headline label -> metrics.json key, from the clean protocol's catalog."""
    from vssleval.metrics.protocols import PROTOCOLS

    return {m.label: m.key for m in PROTOCOLS["vssleval"].metrics}


@pytest.mark.slow
def test_readme_main_job_table_is_what_the_main_job_gives(readme_run):
    header, *rows = readme_tables()[0]
    labels = _labels()
    stated, got = [], []
    for row in rows:
        metrics = json.loads((readme_run.clone / "runs" / "main" / f"{row[0]}-synthetic-is3" / "metrics.json")
                             .read_text())
        for title, cell in zip(header[1:], row[1:]):
            if title.startswith("median max "):  # "median max positive / silence / ..." -> one per variant
                names, values = title[len("median max "):].split(" / "), cell.split(" / ")
            else:
                names, values = [None], [cell]
            for name, value in zip(names, values):
                key = labels[f"median max {name}" if name else title]
                stated.append((row[0], key, value))
                got.append((row[0], key, f"{metrics[key]:.3f}"))
    assert len(stated) >= 30 and stated == got


@pytest.mark.slow
def test_readme_leaderboard_excerpt_is_the_leaderboard(readme_run):
    header, *rows = readme_tables()[1]
    board = (readme_run.clone / "runs" / "main" / "report-synthetic-is3" / "leaderboard.md").read_text()
    part = board[board.index("## synthetic-is3"):]
    real_header, *real_rows = markdown_rows(part.split("\n## ")[0])
    by_model = {r[0]: dict(zip(real_header, r)) for r in real_rows}
    stated = [(row[0], title, cell) for row in rows for title, cell in zip(header[1:], row[1:])]
    got = [(model, title, by_model[model][title]) for model, title, _ in stated]
    assert len(stated) >= 15 and stated == got


@pytest.mark.slow
def test_readme_compare_line_is_what_compare_gives(readme_run):
    text = " ".join((ROOT / "README.md").read_text(encoding="utf-8").split())
    m = re.search(r"cIoU@0\.5 B − A = ([+-][\d.]+) \[([+-][\d.]+), ([+-][\d.]+)\], p = ([\d.]+)", text)
    out = re.search(r"vssleval compare \S+ \S+ --out (\S+)", text).group(1)
    with open(readme_run.clone / out / "compare.csv", newline="") as fh:
        row = next(r for r in csv.DictReader(fh) if r["metric"] == "ciou")
    got = (f"{float(row['diff']):+.3f}", f"{float(row['ci95_low']):+.3f}", f"{float(row['ci95_high']):+.3f}",
           f"{float(row['p_value']):.3f}")
    assert m.groups() == got


def _cells(text: str, column: str) -> list[str]:
    """The ``column`` cells of the first markdown table in ``text`` that has that column."""
    for part in text.split("\n\n"):
        rows = markdown_rows(part)
        if rows and column in rows[0]:
            return [r[rows[0].index(column)] for r in rows[1:]]
    raise AssertionError(f"no table with a {column!r} column")


@pytest.mark.slow
def test_readme_notebook_example_prints_what_the_tables_show(readme_run):
    """The notebook example (README "In a notebook", run by ``readme_run``) prints cIoU@0.5 and pIA
    silence as the report it writes shows them, the arrays' shapes and the rows of ``per_sample.csv``
    (16 samples x 2 seeds), and leaves no temporary run folder behind."""
    ran = next(r for r in readme_run.ran if r.block.lang == "python" and "vssleval.evaluate(" in r.block.text)
    printed = re.search(r"^cIoU@0\.5 ([\d.]+), pIA silence ([\d.]+)$", ran.output, re.M)
    report = (readme_run.clone / "runs" / "my-report" / "report.md").read_text(encoding="utf-8")
    assert printed and printed.groups() == (_cells(report, "cIoU@0.5")[0], _cells(report, "pIA silence")[0])
    assert re.search(r"^32 \(16, 7, 7\) \(2, 16, 7, 7\) \S+$", ran.output, re.M)
    assert list((readme_run.clone.parent / "scratch" / "tmp").glob("vssleval-run-*")) == []
