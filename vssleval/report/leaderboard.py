"""The leaderboard a paper can paste: ``leaderboard.md``, ``leaderboard.tex`` (booktabs) and
``leaderboard.csv`` from finished runs (docs/report.md, "Leaderboard").

One row per run (labelled by :mod:`vssleval.report.labels`: the model name, qualified by what tells
runs of one model apart), the runs of one configuration on several datasets side by side, one column
group per (dataset, protocol) (runs of different datasets are never averaged together), the
audio-agnostic baselines set apart at the bottom. A group's columns are the leaderboard rows of its
protocol's metric catalog (:attr:`vssleval.metrics.protocols.base.Protocol.metrics`), so every
protocol has its own columns and runs of two protocols never share one. The best value of each column
among the models (highest, or lowest where the catalog says lower is better) is bold; a run that
evaluated fewer records than its annotation file holds is marked with a dagger and a footnote.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from vssleval.errors import VsslevalError
from vssleval.metrics.catalog import Metric
from vssleval.metrics.protocols import get_protocol
from vssleval.report.completeness import of_metrics, partial_line
from vssleval.report.runs import RunRecord, labels_for
from vssleval.report import latex as latex_tables
from vssleval.report.tables import format_value, interval, markdown_grid, no_interval_reason, shown_spread
from vssleval.report import published, text
from vssleval.report.text import Md, md
from vssleval.shown_paths import in_folder

FORMATS = ("md", "latex", "csv")
_FILES = {"md": "leaderboard.md", "latex": "leaderboard.tex", "csv": "leaderboard.csv"}


@dataclass(frozen=True)
class Group:
    """A column group: one dataset under one protocol, whose catalog gives the columns."""

    dataset: str
    protocol: str
    title: str

    def columns(self) -> list[Metric]:
        """The protocol's leaderboard columns (its catalog rows with ``leaderboard``)."""
        return get_protocol(self.protocol).leaderboard_columns()


@dataclass
class Row:
    """One leaderboard row: its label, whether it is a baseline, and its run in each group."""

    name: str
    baseline: bool
    runs: dict[Group, RunRecord]


def _groups(runs: Sequence[RunRecord]) -> dict[tuple[str, str], Group]:
    """``(dataset, protocol)`` -> its group, first-seen order; titled by the dataset alone when every
    run has one protocol, else ``dataset (protocol P)``."""
    keys: list[tuple[str, str]] = []
    for r in runs:
        key = (str(r.run["dataset"]), r.protocol)
        if key not in keys:
            keys.append(key)
    several = len({p for _, p in keys}) > 1
    return {k: Group(k[0], k[1], f"{k[0]} (protocol {k[1]})" if several else k[0]) for k in keys}


def build(runs: Sequence[RunRecord]) -> tuple[list[Group], list[Row]]:
    """The column groups (first-seen order) and the rows (models first, then baselines).

    A row is a run, or the runs of one configuration on several datasets / protocols: rows are keyed
    by the run labels of :func:`vssleval.report.runs.labels_for` with the dataset and the protocol
    shown by the column groups, so two runs in one group always get two rows (docs/report.md, "Run
    labels")."""
    for r in runs:
        get_protocol(r.protocol)  # an unknown protocol: one line naming the known ones
    groups = _groups(runs)
    rows: dict[tuple[str, bool], Row] = {}
    for r, name in zip(runs, labels_for(runs, shown=("dataset", "protocol"))):
        row = rows.setdefault((name, r.baseline), Row(name, r.baseline, {}))
        group = groups[(str(r.run["dataset"]), r.protocol)]
        if group in row.runs:  # the labels exclude this; never keep one run silently
            raise VsslevalError(f"two runs in one leaderboard cell ({row.runs[group].path} and "
                                f"{r.path}): report them separately")
        row.runs[group] = r
    ordered = [r for r in rows.values() if not r.baseline] + [r for r in rows.values() if r.baseline]
    return list(groups.values()), ordered


def _present(rows: Sequence[Row], group: Group) -> list[Metric]:
    return [c for c in group.columns() if any(c.key in r.runs[group].metrics for r in rows if group in r.runs)]


def best_values(rows: Sequence[Row], group: Group) -> dict[str, float]:
    """The best value of each column with a direction among the non-baseline rows (all rows if there
    are only baselines), for the columns where at least two rows compete (one row is no contest)."""
    pool = [r for r in rows if not r.baseline and group in r.runs] or [r for r in rows if group in r.runs]
    out = {}
    for col in group.columns():
        if col.higher_is_better is None:
            continue
        vals = [float(r.runs[group].metrics[col.key]) for r in pool
                if isinstance(r.runs[group].metrics.get(col.key), (int, float))
                and np.isfinite(float(r.runs[group].metrics[col.key]))]
        if len(vals) >= 2:
            out[col.key] = max(vals) if col.higher_is_better else min(vals)
    return out


def _eligible(rows: Sequence[Row], row: Row, group: Group) -> bool:
    """Whether ``row`` competes for bold in ``group``: models do; baselines only when no model ran there."""
    return not row.baseline or not any(not r.baseline and group in r.runs for r in rows)


def _is_best(metrics: Mapping[str, Any], key: str, best: Mapping[str, float], eligible: bool) -> bool:
    v = metrics.get(key)
    return (eligible and key in best and isinstance(v, (int, float)) and np.isfinite(float(v))
            and round(float(v), 3) == round(best[key], 3))


def _partials(rows: Sequence[Row], groups: Sequence[Group]) -> list[tuple[str, Group, str]]:
    """``(row, group, partial line)`` of every partial run."""
    out = []
    for row in rows:
        for g in groups:
            if g in row.runs:
                line = partial_line(of_metrics(row.runs[g].metrics))
                if line:
                    out.append((row.name, g, line))
    return out


def markdown(runs: Sequence[RunRecord], style: str = "bracket") -> str:
    """``leaderboard.md``: one Markdown table per column group (a wide table would not fit a page)."""
    groups, rows = build(runs)
    partial = {(n, g) for n, g, _ in _partials(rows, groups)}
    lines = ["# Leaderboard", ""]
    for g in groups:
        cols = _present(rows, g)
        best = best_values(rows, g)
        body = []
        for row in rows:
            if g not in row.runs:
                continue
            m = row.runs[g].metrics
            cells = []
            for col in cols:
                value = format_value(m, col.key, style)
                cells.append(Md(f"**{value}**") if _is_best(m, col.key, best, _eligible(rows, row, g)) else value)
            mark = " †" if (row.name, g) in partial else ""
            body.append([row.name + mark + (" (baseline)" if row.baseline else "")] + cells)
        lines += [f"## {md(g.title)}", "", markdown_grid(["model", *(c.short for c in cols)], body)]
        lines += published.leaderboard_notes([(row.name, row.runs[g]) for row in rows if g in row.runs])
    lines += _notes(rows, groups, style, "md")
    return "\n".join(lines)


def _bold_rule(groups: Sequence[Group]) -> str:
    """How bold is chosen, with the columns the catalogs mark lower-is-better."""
    lower = list(dict.fromkeys(c.short for g in groups for c in g.columns() if c.higher_is_better is False))
    return ("Bold: best model per column (highest" + (f"; lowest for {', '.join(lower)}" if lower else "")
            + "; among the baselines when no model ran on the dataset; none where fewer than two compete).")


def _notes(rows: Sequence[Row], groups: Sequence[Group], style: str, fmt: str) -> list[str]:
    """The table's notes, ready for ``fmt`` (``md`` or ``latex``): names escaped as text there."""
    esc = md if fmt == "md" else latex_tables.breakable  # a long name may break in a caption
    static = (lambda s: s) if fmt == "md" else _tex_static
    dagger = "†" if fmt == "md" else r"$^\dagger$"
    spread = {"bracket": "value ± std over seeds (only where the metric depends on the seed and the std shows at "
                         "3 decimals) [95 % bootstrap interval over samples]",
              "pm": "value ± half-width of the 95 % bootstrap interval over samples",
              "none": "value (mean over seeds)"}[style]
    protocols = list(dict.fromkeys(g.protocol for g in groups))
    said = " ".join(n for n in (get_protocol(p).leaderboard_note for p in protocols) if n)
    notes = [static(f"Values: {spread}. {_bold_rule(groups)} {said + ' ' if said else ''}Baselines ignore the audio.")]
    if style != "none":  # one line per group and reason, naming its rows
        missing: dict[tuple[Group, str], list[str]] = {}
        for row in rows:
            for g in groups:
                why = no_interval_reason(row.runs[g].metrics) if g in row.runs else None
                if why:
                    missing.setdefault((g, why), []).append(row.name)
        notes += [static("No intervals for ") + f"{', '.join(map(esc, names))} on {esc(g.title)}: {esc(why)}."
                  for (g, why), names in missing.items()]
    notes += [f"{dagger} {esc(name)} on {esc(g.title)}: {esc(line)}." for name, g, line in _partials(rows, groups)]
    if fmt == "md":
        return [""] + [f"{n}\n" for n in notes]
    return notes


def _tex_static(text: str) -> str:
    """This module's own note text in LaTeX: escaped, with its ± and † as math."""
    return latex_tables.ltx(text)


def _tex_cell(metrics: Mapping[str, Any] | None, key: str, bold: bool, style: str) -> latex_tables.Cell:
    """One leaderboard number for the LaTeX table: the value (with the seed spread where it shows,
    or the interval's half-width under ``pm``) and, under ``bracket``, the interval on a second line."""
    v = None if metrics is None else metrics.get(key)
    if not isinstance(v, (int, float)) or not np.isfinite(float(v)):
        return latex_tables.Cell("--")
    value = f"{float(v):.3f}"
    ci = interval(metrics, key)
    if style == "pm":
        return latex_tables.Cell(value + (f" ± {(ci[1] - ci[0]) / 2:.3f}" if ci else ""), bold=bold)
    if style == "none":
        return latex_tables.Cell(value, bold=bold)
    std = shown_spread(metrics, key)
    return latex_tables.Cell(value + (f" ± {std:.3f}" if std is not None else ""),
                             f"[{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "", bold)


def latex(runs: Sequence[RunRecord], style: str = "bracket") -> str:
    """``leaderboard.tex``: booktabs tables (``\\usepackage{booktabs}``) that fit a two-column page,
    labelled ``tab:leaderboard-<datasets>-<protocols>`` (:mod:`vssleval.report.latex`): the columns
    of each (dataset, protocol) group in catalog order, split over several tables when they do not
    fit side by side; the notes in the first table's caption."""
    groups, rows = build(runs)
    partial = {(n, g) for n, g, _ in _partials(rows, groups)}
    best = {g: best_values(rows, g) for g in groups}
    columns = []
    for g in groups:
        cols = []
        for col in _present(rows, g):
            cells = []
            for row in rows:
                r = row.runs.get(g)
                bold = r is not None and _is_best(r.metrics, col.key, best[g], _eligible(rows, row, g))
                cells.append(_tex_cell(None if r is None else r.metrics, col.key, bold, style))
            cols.append(latex_tables.Column(col.short, tuple(cells)))
        columns.append(latex_tables.Group(g.title, tuple(cols)))
    first_baseline = next((i for i, row in enumerate(rows) if row.baseline), None)
    table = latex_tables.Table(
        labels=tuple(row.name for row in rows),
        marks=tuple(r"$^\dagger$" if any((row.name, g) in partial for g in groups) else "" for row in rows),
        label_head="Model", groups=tuple(columns), rule_before=(first_baseline,) if first_baseline else ())
    on = ", ".join(latex_tables.breakable(g.title) for g in groups)
    key = "tab:" + latex_tables.label_key("leaderboard", *dict.fromkeys(g.dataset for g in groups),
                                         *dict.fromkeys(g.protocol for g in groups))
    caption = f"Leaderboard on {on}. " + " ".join(_notes(rows, groups, style, "latex"))
    continued = f"Leaderboard on {on}, continued from {{ref}} (same rows and notes)."
    return ("% written by vssleval report; needs \\usepackage{booktabs}\n"
            + latex_tables.tables(table, key, caption, continued))


def csv_text(runs: Sequence[RunRecord], folder: Path) -> str:
    """``leaderboard.csv``: one line per (row, group); the row's label, the group's dataset and
    protocol, the run's model name and folder, then for every column of every protocol in the file
    (its catalog's leaderboard rows, first-seen order) the value, interval and std at full precision
    (empty where the run's protocol has no such column), and the completeness of the run."""
    groups, rows = build(runs)
    keys = list(dict.fromkeys(c.key for g in groups for c in g.columns()))
    header = ["model", "dataset", "protocol", "baseline", "n_evaluated", "n_expected", "partial", "model_name",
              "run_dir"]
    for key in keys:
        header += [key, f"{key}_ci95_low", f"{key}_ci95_high", f"{key}_std"]
    header += ["published", "published_caution"]  # docs/published.md; last, so the columns above keep their places
    lines = [header]
    for row in rows:
        for g in groups:
            if g not in row.runs:
                continue
            run = row.runs[g]
            m = run.metrics
            c = of_metrics(m)
            mine = {col.key for col in g.columns()}
            line = [row.name, g.dataset, g.protocol, int(row.baseline), c["n_evaluated"], c["n_expected"],
                    partial_line(c) or "", run.model, in_folder(run.path, folder)]
            for key in keys:
                ci = interval(m, key) if key in mine else None
                line += ([_num(m.get(key)), *(_num(v) for v in (ci or ("", ""))), _num(m.get(f"{key}_std"))]
                         if key in mine else ["", "", "", ""])
            lines.append(line + published.csv_cells(run))
    return text.csv_text(lines)


def _num(v: Any) -> str:
    return repr(float(v)) if isinstance(v, (int, float)) and not isinstance(v, bool) else ""


def texts(runs: Sequence[RunRecord], formats: Sequence[str], style: str = "bracket",
          folder: Path | None = None) -> dict[str, str]:
    """``{file name: text}`` of each requested format; ``folder``: where they go (the csv's
    ``run_dir`` is relative to it; default: the current directory)."""
    make = {"md": lambda: markdown(runs, style), "latex": lambda: latex(runs, style),
            "csv": lambda: csv_text(runs, folder or Path.cwd())}
    return {_FILES[f]: make[f]() for f in formats}
