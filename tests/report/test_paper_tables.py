"""Issue 23, item 3: ``leaderboard.tex`` and ``compare.tex`` drop into a two-column paper.

The tables are built from run records made here (every leaderboard column of each protocol's
catalog, with intervals and seed spreads as ``metrics.json`` holds them: no evaluation needed), for
the widest realistic cases: 8 models and 3 baselines, a long run label, one and two datasets, every
protocol, every ``--ci-style``. All of them are compiled by one ``pdflatex`` run inside
``\\documentclass[twocolumn,a4paper]{article}`` (the narrowest common two-column ``\\textwidth``,
452 pt), and the log may hold no "Overfull \\hbox" (docs/report.md, "LaTeX tables").
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np

from tex_cells import compile_overfull, tex_plain
from vssleval.metrics.protocols import get_protocol
from vssleval.report import compare_tables
from vssleval.report import latex as lt
from vssleval.report import leaderboard
from vssleval.report.runs import RunRecord

MODELS = ["ezvsl", "slavc", "fnac", "lvs", "ssltie", "sslalign", "aclssl"]
#: a label as long as the report's labels get: a model told apart by preset and checkpoint file
LONG = "ezvsl (preset juanola2025, checkpoint ezvsl_vggss144k_best_epoch_19_lr1e-4.pth)"
BASELINES = ["center", "full", "random"]


def record(model: str, dataset: str, protocol: str, seed: int, baseline: bool = False, partial: bool = False,
           spread: float = 0.004) -> RunRecord:
    """A run record with every leaderboard column of ``protocol``: values, 95 % intervals and the std
    over seeds as ``metrics.json`` holds them (juanola2025: x100, no intervals)."""
    rng = np.random.default_rng(seed)
    scale = 100.0 if protocol == "juanola2025" else 1.0
    m: dict = {"run": {"model_name": model, "dataset": dataset, "preset": "native", "protocol": protocol,
                       "baseline": baseline},
               "n_expected": 5158, "n_evaluated": 4655 if partial else 5158, "n_skipped": 503 if partial else 0,
               "n_skipped_by_reason": {"missing_audio": 503} if partial else {}, "limited": False}
    if protocol != "juanola2025":
        m["bootstrap"] = {"resamples": 1000, "seed": 0, "level": 0.95}
    for col in get_protocol(protocol).leaderboard_columns():
        v = float(rng.uniform(0.05, 0.99)) * scale
        m[col.key] = v
        m[f"{col.key}_std"] = spread if col.key.startswith(("pia_noise", "pia_offscreen", "auroc")) else 0.0
        if protocol != "juanola2025":
            m[f"{col.key}_ci95_low"], m[f"{col.key}_ci95_high"] = max(v - 0.034, 0.0), min(v + 0.031, 1.0)
    return RunRecord(Path("/runs") / f"{model}-{dataset}-{protocol}-{seed}", m, {})


def board(datasets: list[str], protocols: list[str]) -> list[RunRecord]:
    """8 models (one with :data:`LONG` as its label, one partial) and 3 baselines on each dataset
    under each protocol."""
    runs = []
    for d in datasets:
        for p in protocols:
            names = MODELS + [LONG]
            runs += [record(n, d, p, len(runs) + k, partial=(n == "lvs")) for k, n in enumerate(names)]
            runs += [record(n, d, p, len(runs) + k, baseline=True) for k, n in enumerate(BASELINES)]
    return runs


CASES = {
    "vssleval-one-dataset": (["vggss"], ["vssleval"], "bracket"),
    "vssleval-two-datasets": (["vggss", "flickr"], ["vssleval"], "bracket"),
    "vssleval-two-datasets-pm": (["vggss", "flickr"], ["vssleval"], "pm"),
    "vssleval-three-datasets-none": (["vggss", "flickr", "is3"], ["vssleval"], "none"),
    "juanola2025-two-datasets": (["vggss", "flickr"], ["juanola2025"], "bracket"),
    "native-two-datasets": (["vggss", "flickr"], ["native"], "bracket"),
    "three-protocols": (["vggss"], ["vssleval", "juanola2025", "native"], "bracket"),
}


# -- the table itself ----------------------------------------------------------------------------
def test_label_is_derived_from_datasets_and_protocols():
    tex = leaderboard.latex(board(["vggss", "flickr"], ["vssleval"]))
    keys = re.findall(r"\\label\{([^}]*)\}", tex)
    assert keys[0] == "tab:leaderboard-vggss-flickr-vssleval"
    assert keys[1:] == [f"tab:leaderboard-vggss-flickr-vssleval-{k}" for k in range(2, len(keys) + 1)]
    assert len(keys) == tex.count(r"\begin{table*}") + tex.count(r"\begin{table}") >= 2
    assert r"Table~\ref{tab:leaderboard-vggss-flickr-vssleval-2}" in tex  # the first says where columns go


def test_every_column_is_shown_once_in_catalog_order():
    """Split tables keep every (group, column) exactly once, each group's columns in catalog order."""
    tex = leaderboard.latex(board(["vggss", "flickr"], ["vssleval"]))
    heads = []
    for line in tex.splitlines():
        if line.startswith("Model &"):
            cells = [tex_plain(c) for c in line[:-3].split(" & ")[1:]]
            heads.append(cells)
    want = [c.short for c in get_protocol("vssleval").leaderboard_columns()]
    got_each = [h[: len(h) // 2] for h in heads]  # two groups with the same columns in each table
    assert [x for h in got_each for x in h] == want
    assert all(h[: len(h) // 2] == h[len(h) // 2:] for h in heads)


def test_bold_only_where_two_compete():
    one = [record("ezvsl", "vggss", "vssleval", 0)] + [record(b, "vggss", "vssleval", i + 1, baseline=True)
                                                     for i, b in enumerate(BASELINES)]
    assert r"\textbf" not in leaderboard.latex(one)
    assert "**" not in leaderboard.markdown(one)  # a model alone wins nothing (the baselines do not compete)
    two = one + [record("slavc", "vggss", "vssleval", 9)]
    tex = leaderboard.latex(two)
    n_cols = len(get_protocol("vssleval").leaderboard_columns())
    assert tex.count(r"\textbf") >= n_cols  # every column has a best of two models


def test_no_zero_spread_is_printed():
    runs = [record("ezvsl", "vggss", "vssleval", 0, spread=0.0004), record("slavc", "vggss", "vssleval", 1)]
    tex = leaderboard.latex(runs, "bracket")
    md = leaderboard.markdown(runs, "bracket")
    assert "0.000" not in re.sub(r"\[[^]]*\]", "", tex.split(r"\caption")[0] + "".join(
        ln for ln in tex.splitlines() if " & " in ln)).replace("0.0004", "")
    assert r"$\pm$ 0.004" in tex and "± 0.004" in md  # slavc's spread shows
    assert "± 0.000" not in md and r"$\pm$ 0.000" not in tex


def test_split_tables_each_fit_the_estimate():
    for datasets, protocols, style in CASES.values():
        tex = leaderboard.latex(board(datasets, protocols), style)
        assert tex.count(r"\begin{tabular*}{\textwidth}") + tex.count(r"\begin{tabular}{@{}") >= 1
    t = lt.Table(("a",), ("",), "Model", (lt.Group("g", tuple(lt.Column(f"c{i}", (lt.Cell("0.123"),))
                                                              for i in range(40))),))
    parts = lt.split(t)
    assert len(parts) > 1 and all(lt.width(p) <= lt.TEXT_WIDTH_PT for p in parts)
    assert [c.head for p in parts for c in p.groups[0].columns] == [f"c{i}" for i in range(40)]
    assert max(len(p.groups[0].columns) for p in parts) - min(len(p.groups[0].columns) for p in parts) <= 1


# -- pdflatex ------------------------------------------------------------------------------------
def test_pdflatex_fits_every_case_in_two_columns(tmp_path):
    parts = {name: leaderboard.latex(board(d, p), style) for name, (d, p, style) in CASES.items()}
    small = [record("ezvsl", "vggss", "native", 0), record("slavc", "vggss", "native", 1)]
    parts["native-two-models"] = leaderboard.latex(small, "none")  # narrow: a one-column table
    assert r"\begin{table}[t]" in parts["native-two-models"]
    a, b = record("ezvsl", "vggss", "vssleval", 0), record(LONG, "vggss", "vssleval", 1)
    a.label, b.label = "ezvsl", LONG
    parts["compare"] = compare_tables.latex(compare_rows(), a, b, 5158, 1000, 0)
    # the width estimate is an upper bound of the typeset width, for every kind of character it meets
    texts = [(7, "[0.000, 0.000]", False), (8, "0.645", True), (8, "0.908 ± 0.004", False), (7, "[−0.011, +0.029]", False),
             (8, "pIA offscreen", False), (8, LONG, False), (8, "synthetic-vggss (protocol juanola2025)", False),
             (8, "MWQ wmk AUROC max-F1 cIoU@0.5 x_y/z", False), (8, "††† %&#", False)]
    boxes = []
    for k, (size, t, bold) in enumerate(texts):
        body = r"\textbf{" + lt.ltx(t) + "}" if bold else lt.ltx(t)
        boxes.append(rf"\setbox0\hbox{{\fontsize{{{size}}}{{10}}\selectfont {body}}}\typeout{{WIDTH {k} \the\wd0}}")
    parts["widths"] = "\n".join(boxes)
    overfull = compile_overfull(tmp_path, parts)
    assert {k: v for k, v in overfull.items() if v} == {}
    measured = {int(k): float(w) for k, w in re.findall(r"^WIDTH (\d+) ([\d.]+)pt", (tmp_path / "doc.log").read_text(),
                                                         re.M)}
    assert len(measured) == len(texts)
    for k, (size, t, bold) in enumerate(texts):
        assert measured[k] <= lt.text_width(t, size, bold) <= 1.2 * measured[k], t


def compare_rows() -> list[dict]:
    """``compare`` rows as :func:`vssleval.report.compare.compare` gives them: every compared metric
    of the clean protocol, one of them not comparable."""
    rows = []
    for k, col in enumerate(get_protocol("vssleval").compared()):
        a, b = 0.1 + 0.1 * k, 0.15 + 0.09 * k
        rows.append({"metric": col.key, "label": col.short, "a": a, "b": b, "diff": b - a,
                     "ci95_low": b - a - 0.021, "ci95_high": b - a + 0.019, "p_value": 0.0123, "exact": False,
                     "not_comparable": None})
    rows[-1].update(ci95_low=float("nan"), ci95_high=float("nan"), p_value=float("nan"),
                    not_comparable="only one run has it (runs/b has no pia_offscreen_adap)")
    return rows


def test_compare_tables_show_the_rows():
    a, b = record("ezvsl", "vggss", "vssleval", 0), record(LONG, "vggss", "vssleval", 1)
    a.label, b.label = "ezvsl", LONG
    rows = compare_rows()
    md = compare_tables.markdown(rows, a, b, 5158, 1000, 0)
    tex = compare_tables.latex(rows, a, b, 5158, 1000, 0)
    assert r"\label{tab:compare-vggss-vssleval}" in tex
    body = [ln for ln in md.splitlines() if ln.startswith("| ") and not ln.startswith("| metric")]
    assert len(body) == len(rows)
    assert body[0] == "| cIoU@0.5 | 0.100 | 0.150 | +0.050 | [+0.029, +0.069] | 0.0123 |"
    assert body[-1].endswith("| - | n.c. |") and "n.c. (pIA offscreen): not comparable, only one run" in md
    assert r"[$-$0.011, +0.029]" in tex and "[+0.029, +0.069]" in tex  # a minus sign, not a hyphen
    few = compare_tables.markdown(rows, a, b, 5158, 50, 0)  # too few resamples: no interval
    assert "[+0.029" not in few and "interval: none" in few
