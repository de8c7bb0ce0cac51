"""The leaderboard a paper can paste: ``leaderboard.md``, ``leaderboard.tex`` (booktabs) and
``leaderboard.csv`` from finished runs (docs/report.md, "Leaderboard").

One row per run (labelled by :mod:`vssleval.report.labels`: the model name, qualified by what tells
runs of one model apart), the runs of one configuration on several datasets side by side, one column
group per dataset (runs of different datasets are never averaged together), the audio-agnostic
baselines set apart at the bottom. The best value of each column among the models (highest, or
lowest for pIA) is bold; a run that evaluated fewer records than its annotation file holds is
marked with a dagger and a footnote.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np

from vssleval.errors import VsslevalError
from vssleval.report.completeness import of_metrics, partial_line
from vssleval.report.runs import RunRecord, labels_for
from vssleval.report.tables import format_value, interval, markdown_grid, no_interval_reason, seed_spread
from vssleval.report import text
from vssleval.report.text import Md, md, tex

#: ``(metrics.json key, column title, higher is better)``, in column order.
COLUMNS = (("ciou", "cIoU@0.5", True), ("auc", "AUC", True), ("ap", "AP", True), ("max_f1", "max-F1", True),
           ("pia_silence_adap", "pIA sil.", False), ("pia_noise_adap", "pIA noise", False),
           ("pia_offscreen_adap", "pIA off.", False), ("auroc_max_neg", "AUROC max", True))
#: Models that ignore the audio: listed under the models, never bold.
FORMATS = ("md", "latex", "csv")
_FILES = {"md": "leaderboard.md", "latex": "leaderboard.tex", "csv": "leaderboard.csv"}


@dataclass
class Row:
    """One leaderboard row: its label, whether it is a baseline, and its run on each dataset."""

    name: str
    baseline: bool
    runs: dict[str, RunRecord]


def build(runs: Sequence[RunRecord]) -> tuple[list[str], list[Row]]:
    """The datasets (column groups, first-seen order) and the rows (models first, then baselines).

    A row is a run, or the runs of one configuration on several datasets: rows are keyed by the run
    labels of :func:`vssleval.report.runs.labels_for` with the dataset shown by the column groups,
    so two runs on one dataset always get two rows (docs/report.md, "Run labels")."""
    datasets: list[str] = []
    for r in runs:
        if str(r.run["dataset"]) not in datasets:
            datasets.append(str(r.run["dataset"]))
    rows: dict[tuple[str, bool], Row] = {}
    for r, name in zip(runs, labels_for(runs, shown=("dataset",))):
        row = rows.setdefault((name, r.baseline), Row(name, r.baseline, {}))
        if str(r.run["dataset"]) in row.runs:  # the labels exclude this; never keep one run silently
            raise VsslevalError(f"two runs in one leaderboard cell ({row.runs[str(r.run['dataset'])].path} and "
                                f"{r.path}): report them separately")
        row.runs[str(r.run["dataset"])] = r
    ordered = [r for r in rows.values() if not r.baseline] + [r for r in rows.values() if r.baseline]
    return datasets, ordered


def _present(rows: Sequence[Row], dataset: str) -> list[tuple[str, str, bool]]:
    return [c for c in COLUMNS if any(c[0] in r.runs[dataset].metrics for r in rows if dataset in r.runs)]


def best_values(rows: Sequence[Row], dataset: str) -> dict[str, float]:
    """The best value of each column among the non-baseline rows (all rows if there are only baselines)."""
    pool = [r for r in rows if not r.baseline and dataset in r.runs] or [r for r in rows if dataset in r.runs]
    out = {}
    for key, _, higher in COLUMNS:
        vals = [float(r.runs[dataset].metrics[key]) for r in pool
                if isinstance(r.runs[dataset].metrics.get(key), (int, float))
                and np.isfinite(float(r.runs[dataset].metrics[key]))]
        if vals:
            out[key] = max(vals) if higher else min(vals)
    return out


def _eligible(rows: Sequence[Row], row: Row, dataset: str) -> bool:
    """Whether ``row`` competes for bold on ``dataset``: models do; baselines only when no model ran there."""
    return not row.baseline or not any(not r.baseline and dataset in r.runs for r in rows)


def _is_best(metrics: Mapping[str, Any], key: str, best: Mapping[str, float], eligible: bool) -> bool:
    v = metrics.get(key)
    return (eligible and key in best and isinstance(v, (int, float)) and np.isfinite(float(v))
            and round(float(v), 3) == round(best[key], 3))


def _partials(rows: Sequence[Row], datasets: Sequence[str]) -> list[tuple[str, str, str]]:
    """``(row, dataset, partial line)`` of every partial run."""
    out = []
    for row in rows:
        for d in datasets:
            if d in row.runs:
                line = partial_line(of_metrics(row.runs[d].metrics))
                if line:
                    out.append((row.name, d, line))
    return out


def markdown(runs: Sequence[RunRecord], style: str = "bracket") -> str:
    """``leaderboard.md``: one Markdown table per dataset (a wide table would not fit a page)."""
    datasets, rows = build(runs)
    partial = {(n, d) for n, d, _ in _partials(rows, datasets)}
    lines = ["# Leaderboard", ""]
    for d in datasets:
        cols = _present(rows, d)
        best = best_values(rows, d)
        body = []
        for row in rows:
            if d not in row.runs:
                continue
            m = row.runs[d].metrics
            cells = []
            for key, _, _ in cols:
                value = format_value(m, key, style)
                cells.append(Md(f"**{value}**") if _is_best(m, key, best, _eligible(rows, row, d)) else value)
            mark = " †" if (row.name, d) in partial else ""
            body.append([row.name + mark + (" (baseline)" if row.baseline else "")] + cells)
        lines += [f"## {md(d)}", "", markdown_grid(["model", *(t for _, t, _ in cols)], body)]
    lines += _notes(rows, datasets, style, "md")
    return "\n".join(lines)


def _notes(rows: Sequence[Row], datasets: Sequence[str], style: str, fmt: str) -> list[str]:
    """The table's notes, ready for ``fmt`` (``md`` or ``latex``): names escaped as text there."""
    esc = md if fmt == "md" else tex
    static = (lambda s: s) if fmt == "md" else _tex_static
    dagger = "†" if fmt == "md" else r"$^\dagger$"
    spread = {"bracket": "value ± std over seeds (only where the metric depends on the seed) [95 % bootstrap "
                         "interval over samples]",
              "pm": "value ± half-width of the 95 % bootstrap interval over samples",
              "none": "value (mean over seeds)"}[style]
    notes = [static(f"Values: {spread}. Bold: best model per column (highest; lowest for pIA; among the baselines "
                    "when no model ran on the dataset). pIA under the adaptive "
                    "threshold; AUROC max: positive vs pooled negative raw-map maxima. Baselines ignore the audio.")]
    if style != "none":
        for row in rows:
            for d in datasets:
                why = no_interval_reason(row.runs[d].metrics) if d in row.runs else None
                if why:
                    notes.append(static("No intervals for ") + f"{esc(row.name)} on {esc(d)}: {esc(why)}.")
    notes += [f"{dagger} {esc(name)} on {esc(d)}: {esc(line)}." for name, d, line in _partials(rows, datasets)]
    if fmt == "md":
        return [""] + [f"{n}\n" for n in notes]
    return notes


def _tex_static(text: str) -> str:
    """This module's own note text in LaTeX: escaped, with its ± and † as math."""
    return tex(text).replace("±", r"$\pm$").replace("†", r"$^\dagger$")


def _tex_cell(metrics: Mapping[str, Any], key: str, bold: bool, style: str) -> str:
    v = metrics.get(key)
    if not isinstance(v, (int, float)) or not np.isfinite(float(v)):
        return "--"
    value = f"{float(v):.3f}"
    value = rf"\textbf{{{value}}}" if bold else value
    ci = interval(metrics, key)
    if style == "pm" and ci:
        return rf"{value}\,$\pm$\,{(ci[1] - ci[0]) / 2:.3f}"
    if style == "bracket" and (ci or seed_spread(metrics, key) is not None):
        std = seed_spread(metrics, key)
        second = (rf"$\pm${std:.3f} " if std is not None else "") + (f"[{ci[0]:.3f}, {ci[1]:.3f}]" if ci else "")
        return rf"\begin{{tabular}}[t]{{@{{}}r@{{}}}}{value}\\{{\scriptsize {second.strip()}}}\end{{tabular}}"
    return value


def latex(runs: Sequence[RunRecord], style: str = "bracket") -> str:
    """``leaderboard.tex``: a booktabs ``table`` (needs ``\\usepackage{booktabs}``), column groups per dataset."""
    datasets, rows = build(runs)
    groups = [(d, _present(rows, d)) for d in datasets]
    partial = {(n, d) for n, d, _ in _partials(rows, datasets)}
    spec = "l" + "".join("r" * len(cols) for _, cols in groups)
    out = [r"% written by vssleval report; needs \usepackage{booktabs}", r"\begin{table}[t]", r"\centering",
           r"\small", rf"\begin{{tabular}}{{{spec}}}", r"\toprule"]
    head, rules, start = [""], [], 2
    for d, cols in groups:
        head.append(rf"\multicolumn{{{len(cols)}}}{{c}}{{{tex(d)}}}")
        rules.append(rf"\cmidrule(lr){{{start}-{start + len(cols) - 1}}}")
        start += len(cols)
    out += [" & ".join(head) + r" \\", " ".join(rules)]
    out.append(" & ".join(["Model"] + [tex(t) for _, cols in groups for _, t, _ in cols]) + r" \\")
    out.append(r"\midrule")
    best = {d: best_values(rows, d) for d in datasets}
    seen_baseline = False
    for row in rows:
        if row.baseline and not seen_baseline:
            out.append(r"\midrule")
            seen_baseline = True
        marks = any((row.name, d) in partial for d in datasets)
        cells = [tex(row.name) + (r"$^\dagger$" if marks else "")]
        for d, cols in groups:
            r = row.runs.get(d)
            for key, _, _ in cols:
                bold = r is not None and _is_best(r.metrics, key, best[d], _eligible(rows, row, d))
                cells.append("--" if r is None else _tex_cell(r.metrics, key, bold, style))
        out.append(" & ".join(cells) + r" \\")
    out += [r"\bottomrule", r"\end{tabular}"]
    notes = _notes(rows, datasets, style, "latex")
    out.append(r"\caption{" + " ".join(notes) + "}")
    out += [r"\end{table}", ""]
    return "\n".join(out)


def csv_text(runs: Sequence[RunRecord]) -> str:
    """``leaderboard.csv``: one line per (row, dataset); the row's label, the run's model name and
    folder, every column's value, interval and std at full precision, and the completeness of the run."""
    datasets, rows = build(runs)
    header = ["model", "dataset", "baseline", "n_evaluated", "n_expected", "partial", "model_name", "run_dir"]
    for key, _, _ in COLUMNS:
        header += [key, f"{key}_ci95_low", f"{key}_ci95_high", f"{key}_std"]
    lines = [header]
    for row in rows:
        for d in datasets:
            if d not in row.runs:
                continue
            run = row.runs[d]
            m = run.metrics
            c = of_metrics(m)
            line = [row.name, d, int(row.baseline), c["n_evaluated"], c["n_expected"], partial_line(c) or "",
                    run.model, str(run.path)]
            for key, _, _ in COLUMNS:
                ci = interval(m, key)
                line += [_num(m.get(key)), *(_num(v) for v in (ci or ("", ""))), _num(m.get(f"{key}_std"))]
            lines.append(line)
    return text.csv_text(lines)


def _num(v: Any) -> str:
    return repr(float(v)) if isinstance(v, (int, float)) and not isinstance(v, bool) else ""


def texts(runs: Sequence[RunRecord], formats: Sequence[str], style: str = "bracket") -> dict[str, str]:
    """``{file name: text}`` of each requested format."""
    make = {"md": lambda: markdown(runs, style), "latex": lambda: latex(runs, style), "csv": lambda: csv_text(runs)}
    return {_FILES[f]: make[f]() for f in formats}
