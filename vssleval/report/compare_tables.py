"""``compare.md`` and ``compare.tex``: the paired comparison of two runs as tables for a reader and
for a paper (docs/report.md, "``vssleval compare``"), from the rows of
:func:`vssleval.report.compare.compare` (the numbers of ``compare.csv``, rounded for reading).

One row per compared metric (the catalog's short label): A, B, B - A with its paired 95 % bootstrap
interval, and the permutation p-value. A metric that cannot be paired shows both values and their
difference, and ``n.c.`` with the reason in the notes. The LaTeX table follows the rules of
:mod:`vssleval.report.latex` (fits a two-column page, ``\\label{tab:compare-<dataset>-<protocol>}``).
"""

from __future__ import annotations

import math
from typing import Any, Sequence

from vssleval.metrics import resampling
from vssleval.report import latex as lt
from vssleval.report.runs import RunRecord
from vssleval.report.tables import markdown_grid
from vssleval.report.text import Md, md

FILES = ("compare.md", "compare.tex")


def _f(v: float, sign: bool = False) -> str:
    if not math.isfinite(v):
        return "n/a"
    return f"{v:+.3f}" if sign else f"{v:.3f}"


def _p(r: dict[str, Any]) -> str:
    if r.get("not_comparable"):
        return "n.c."
    p = float(r["p_value"])
    return "n/a" if not math.isfinite(p) else f"{p:.3g}" + (" (exact)" if r.get("exact") else "")


def _ci(r: dict[str, Any], why: str | None) -> str:
    lo, hi = float(r.get("ci95_low", math.nan)), float(r.get("ci95_high", math.nan))
    if r.get("not_comparable") or why or not (math.isfinite(lo) and math.isfinite(hi)):
        return ""
    return f"[{lo:+.3f}, {hi:+.3f}]"


def _about(a: RunRecord, n: int) -> str:
    return f"{n:,} samples of {a.run.get('dataset')}, protocol {a.protocol}"


def _notes(rows: Sequence[dict[str, Any]], n_boot: int, seed: int) -> list[str]:
    """Plain-text notes: the test, the interval (or why there is none), each metric not compared."""
    why = resampling.too_few_resamples(n_boot)
    notes = [f"B - A per metric on the same samples; p: two-sided paired permutation test ({n_boot} random swaps, "
             "exact where every swap was enumerated); interval: " + (f"none, {why}" if why else
             f"paired 95 % bootstrap over samples ({n_boot} resamples, seed {seed})") + "."]
    notes += [f"n.c. ({r['label']}): not comparable, {r['not_comparable']}; A and B are the runs' metrics.json values."
              for r in rows if r.get("not_comparable")]
    return notes


def markdown(rows: Sequence[dict[str, Any]], a: RunRecord, b: RunRecord, n: int, n_boot: int, seed: int) -> str:
    """``compare.md``: a heading naming A and B, one table, the notes."""
    why = resampling.too_few_resamples(n_boot)
    body = [[r["label"], Md(_f(r["a"])), Md(_f(r["b"])), Md(_f(r["diff"], True)), Md(_ci(r, why) or "-"),
             Md(_p(r))] for r in rows]
    lines = [f"# {md(b.label)} vs {md(a.label)}", "", f"A = {md(a.label)}, B = {md(b.label)}, on {md(_about(a, n))}.",
             "", markdown_grid(["metric", "A", "B", "B − A", "95 % interval", "p"], body)]
    lines += [md(note) + "\n" for note in _notes(rows, n_boot, seed)]
    return "\n".join(lines)


def latex(rows: Sequence[dict[str, Any]], a: RunRecord, b: RunRecord, n: int, n_boot: int, seed: int) -> str:
    """``compare.tex``: one booktabs table (the interval under B - A), labelled
    ``tab:compare-<dataset>-<protocol>``, A and B named in the caption."""
    why = resampling.too_few_resamples(n_boot)
    cols = (lt.Column("A", tuple(lt.Cell(_f(r["a"])) for r in rows)),
            lt.Column("B", tuple(lt.Cell(_f(r["b"])) for r in rows)),
            lt.Column("B − A", tuple(lt.Cell(_f(r["diff"], True).replace("-", "−"), _ci(r, why).replace("-", "−"))
                                     for r in rows)),
            lt.Column("p", tuple(lt.Cell(_p(r)) for r in rows)))
    table = lt.Table(tuple(r["label"] for r in rows), ("",) * len(rows), "Metric", (lt.Group("", cols),))
    caption = (f"{lt.breakable(b.label)} (B) vs {lt.breakable(a.label)} (A) on {lt.breakable(_about(a, n))}. "
               + " ".join(lt.breakable(note) for note in _notes(rows, n_boot, seed)))
    key = "tab:" + lt.label_key("compare", str(a.run.get("dataset")), a.protocol)
    return ("% written by vssleval compare; needs \\usepackage{booktabs}\n"
            + lt.tables(table, key, caption, "Comparison continued from {ref}."))
