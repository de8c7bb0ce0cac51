"""The cross-run report: ``report.md`` with the models x metrics tables, the figures and the
calibration section, plus ``summary.csv``.

Inputs are already-loaded runs (:mod:`vssleval.report.runs`) and, optionally, what the command
layer computed from the heatmap stores (threshold-sweep curves, overlay figure paths); this module
reads no store and runs no model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from vssleval.io_utils import write_text_atomic
from vssleval.metrics.protocols import get_protocol
from vssleval.report import calibration as cal
from vssleval.report import figures, leaderboard, published, tables
from vssleval.report import text as txt
from vssleval.report.completeness import of_metrics, partial_line
from vssleval.report.runs import RunRecord, differences
from vssleval.shown_paths import in_folder

MAXIMA_FIG = "maxima.png"
ROC_FIG = "roc.png"
SWEEP_FIG = "threshold_sweep.png"


def calibrate_all(runs: Sequence[RunRecord]) -> dict[str, dict[str, Any]]:
    """Run label -> calibrated universal threshold (:func:`vssleval.report.calibration.calibrate_run`)."""
    return {r.label: cal.calibrate_run(r) for r in runs}


def _fmt(v: Any, spec: str = ".3f") -> str:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return "n/a"
    return format(f, spec) if np.isfinite(f) else "n/a"


def write_report(runs: Sequence[RunRecord], out_dir: str | Path, calibrations: Mapping[str, Mapping[str, Any]],
                 sweeps: Mapping[str, Mapping[str, Any]] | None = None,
                 overlays: Mapping[str, Path] | None = None, notes: Sequence[str] = (),
                 mixed: Sequence[str] = (), formats: Sequence[str] = leaderboard.FORMATS,
                 ci_style: str = "bracket") -> dict[str, Any]:
    """Write the figures, ``report.md`` and ``summary.csv`` into ``out_dir``.

    Args:
        runs: labelled runs, in table order. calibrations: from :func:`calibrate_all`.
        sweeps: run label -> sweep panel (see :func:`vssleval.report.figures.sweep_figure`); runs
            without one are left out of the sweep figure (its section says so).
        overlays: run label -> overlay PNG already written under ``out_dir``.
        notes: lines for the Notes section. mixed: the differences accepted with --allow-mixed.
        formats: leaderboard files to write (``md``, ``latex``, ``csv``). ci_style: how intervals
            are printed (:data:`vssleval.report.choices.CI_STYLES`).
    Returns:
        ``{'report': path, 'figures': [paths], 'summary': path, 'leaderboard': [paths]}``.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    sweeps = dict(sweeps or {})
    overlays = dict(overlays or {})
    written: list[Path] = []
    written += figures.maxima_figure(runs, calibrations, out / MAXIMA_FIG)
    roc = figures.roc_figure(runs, calibrations, out / ROC_FIG)  # none when no run heard negatives
    written += roc
    swept = [sweeps[r.label] for r in runs if r.label in sweeps]
    if swept:
        written += figures.sweep_figure(swept, out / SWEEP_FIG)

    md: list[str] = ["# vssleval report", ""]
    for r in runs:  # a partial run is said before any number
        line = partial_line(of_metrics(r.metrics))
        if line:
            md += [f"**{txt.md(r.label)}: {txt.md(line)}** (marked † in the leaderboard)", ""]
    md += _runs_section(runs, out)
    md += _tables_section(runs, mixed, ci_style)
    md += published.report_section(runs)  # the README / paper values beside native runs (docs/published.md)
    board = []
    for name, text in leaderboard.texts(runs, formats, ci_style, out).items():
        write_text_atomic(out / name, text)
        board.append(out / name)
    if board:
        md += ["## Leaderboard", "", "Models x datasets, ready for a paper: " + ", ".join(
            f"[{p.name}]({p.name})" for p in board) + " (`--format`, `--ci-style`).", ""]
    md += ["## Raw-map maxima per audio variant", "",
           f"![maxima]({MAXIMA_FIG})", "",
           "Each panel is one model run; boxes span the quartiles of the raw-map maxima over every seed x "
           "sample (whiskers 5-95 %), one box per audio variant, in the same colour in every figure. The "
           "audio-agnostic baselines share one panel, a group of boxes each: they show the same "
           "distribution for every variant. A model that uses the audio should have clearly lower maxima "
           "under silence, noise and offscreen audio. The dashed line is the calibrated universal "
           "threshold. Every panel has the same y-axis, so panels compare at a glance. "
           f"Also as [PDF]({Path(MAXIMA_FIG).with_suffix('.pdf')}).", ""]
    if roc:
        md += ["## Positive vs negative audio by maximum (ROC)", "", f"![roc]({ROC_FIG})", "",
               "A map 'detects' a sound when its raw maximum exceeds a universal threshold t. Curves sweep "
               "t for the positive maxima against each negative variant and against all of them pooled "
               "(red; the baselines' shared panel shows their pooled curves, one line style each); the "
               "circle is the calibrated threshold. AUROC 0.5 = the maxima carry no information about the "
               f"audio. Also as [PDF]({Path(ROC_FIG).with_suffix('.pdf')}).", ""]
    else:
        md += ["## Positive vs negative audio by maximum (ROC)", "",
               "No run heard negative audio (`--neg none`), so there is no ROC.", ""]
    md += _calibration_section(runs, calibrations)
    md += _sweep_section(runs, sweeps, swept)
    md += _overlay_section(runs, overlays)
    if notes or mixed:
        md += (["## Notes", ""] + [f"- mixed runs (--allow-mixed): {txt.md(n)}" for n in mixed]
               + [f"- {txt.md(n)}" for n in notes] + [""])
    report = out / "report.md"
    write_text_atomic(report, "\n".join(md))
    summary = out / "summary.csv"
    write_text_atomic(summary, tables.summary_csv(runs))
    return {"report": report, "figures": written, "summary": summary, "leaderboard": board}


def _runs_section(runs: Sequence[RunRecord], out: Path) -> list[str]:
    rows = []
    for r in runs:
        run = r.run
        seeds = run.get("seeds") or r.metrics.get("seeds") or []
        rows.append([r.label, r.model, run.get("dataset"), run.get("preset"), run.get("protocol"),
                     r.metrics.get("n_samples", "?"), len(seeds), ", ".join(map(str, run.get("negatives") or [])),
                     in_folder(r.path, out)])
    header = ["run", "model", "dataset", "preset", "protocol", "samples", "seeds", "negatives", "directory"]
    return ["## Runs", "", tables.markdown_grid(header, rows, left=5)]


def _tables_section(runs: Sequence[RunRecord], mixed: Sequence[str], ci_style: str = "bracket") -> list[str]:
    lines: list[str] = []
    mixed_keys = list(differences(runs))
    for protocol, group in tables.protocol_groups(runs).items():
        keys = [k for k in mixed_keys if k != "protocol"]
        rules = get_protocol(protocol)
        n_seeds = sorted({int(r.metrics.get("n_seeds", 0)) for r in group})
        lines += [f"## {rules.results_heading(n_seeds)}", ""]
        for title, cols in rules.sections():
            lines += [f"### {title}", "", tables.metric_table(group, cols, keys, ci_style)]
        if rules.table_note:
            lines += [rules.table_note, ""]
        lines += [_spread_note(group, ci_style), ""]
    return lines


def _spread_note(runs: Sequence[RunRecord], style: str) -> str:
    """What the ± and the brackets of the tables mean, with the runs' bootstrap settings."""
    boots = {(b.get("resamples"), b.get("seed")) for r in runs if isinstance(b := r.metrics.get("bootstrap"), dict)}
    setting = "; ".join(f"{n} resamples, seed {s}" for n, s in sorted(boots, key=str)) or "none"
    missing = [(r.label, why) for r in runs if (why := tables.no_interval_reason(r.metrics))]
    text = {"bracket": "Values: `value ± std over seeds [95 % bootstrap interval over samples]`; the ± only where "
                       "the metric depends on the seed.",
            "pm": "Values: `value ± half-width of the 95 % bootstrap interval over samples`.",
            "none": "Values: the mean over seeds."}[style]
    text += f" Bootstrap: {setting} (docs/metrics.md §11)."
    if missing and style != "none":
        text += " No intervals for " + "; ".join(f"{txt.md(label)} ({txt.md(why)})" for label, why in missing) + "."
    return text


def _calibration_section(runs: Sequence[RunRecord], calibrations: Mapping[str, Mapping[str, Any]]) -> list[str]:
    lines = ["## Calibration of a universal threshold", "",
             f"Rule `{cal.RULE}` (maximize TPR - FPR) on each run's positive maxima vs its pooled negative maxima "
             "(`vssleval.metrics.calibrate_threshold`); TPR = positives whose max exceeds t, FPR = negatives "
             "whose max exceeds t (those highlight something under a universal threshold).", ""]
    rows = []
    for r in runs:
        c = calibrations[r.label]
        t = _fmt(c["threshold"], ".4g") if figures.separates(c) else "none"
        rows.append([r.label, r.run.get("dataset"), "calibrated", t, _fmt(c["tpr"]), _fmt(c["fpr"]),
                     _fmt(c["balanced_accuracy"]), _fmt(c["auroc"])])
        for name, tr in cal.configured_thresholds(r).items():
            rows.append([r.label, r.run.get("dataset"), f"model YAML {name}", _fmt(tr["threshold"], ".4g"),
                         _fmt(tr["tpr"]), _fmt(tr["fpr"]), _fmt(tr["balanced_accuracy"]), _fmt(tr["auroc"])])
    lines.append(tables.markdown_grid(["run", "dataset", "threshold from", "t", "TPR", "FPR", "balanced acc.",
                                       "AUROC (pooled)"], rows, left=3))
    lines += ["'none': no threshold does better than chance (TPR = FPR at best), as for any audio-agnostic map. "
              "AUROC (pooled) pools every seed; `metrics.json`'s `auroc_max_neg` is the mean of per-seed values.", ""]
    moves = cal.transfers(runs, calibrations)
    lines += ["### Transfer to another dataset", ""]
    if not moves:
        lines += ["No model has runs on two datasets in this report, so no transfer is shown (add a run of the "
                  "same model and preset on another dataset, with --allow-mixed).", ""]
    else:
        rows = [[m.source.label, m.source.run.get("dataset"), m.target.label, m.target.run.get("dataset"),
                 _fmt(m.applied["threshold"], ".4g"), _fmt(m.applied["tpr"]), _fmt(m.applied["fpr"]),
                 _fmt(m.applied["balanced_accuracy"]), _fmt(m.oracle["threshold"], ".4g"),
                 _fmt(m.oracle["balanced_accuracy"])] for m in moves]
        lines += [tables.markdown_grid(["run", "calibrated on", "target run", "applied to", "threshold", "TPR", "FPR",
                                        "balanced acc.", "target's own t", "its balanced acc."], rows, left=4),
                  "The gap between the last column and 'balanced acc.' is what is lost by reusing a threshold "
                  "calibrated on another dataset.", ""]
    return lines


def _sweep_section(runs: Sequence[RunRecord], sweeps: Mapping[str, Any], swept: Sequence[Any]) -> list[str]:
    lines = ["## cIoU success rate and pIA vs the threshold", ""]
    if swept:
        lines += [f"![threshold sweep]({SWEEP_FIG})", "",
                  "Every map binarized with `map > t` after the run's upsampling (the clean protocol's rule for a "
                  "universal threshold): solid = fraction of positives with cIoU >= 0.5, dashed = mean pIA of "
                  "each negative variant. A useful threshold keeps the solid curve high where the dashed ones "
                  f"are near 0; identical curves (audio-agnostic maps) overlap. Also as [PDF]({Path(SWEEP_FIG).with_suffix('.pdf')}).", ""]
        lines += [f"- {txt.md(p['label'])}: {txt.md(p['note'])}" for p in swept if p.get("note")]
        lines.append("")
    missing = [r.label for r in runs if r.label not in sweeps]
    if missing:
        lines += [f"Not computed for {', '.join(map(txt.md, missing))} (needs the heatmap store; see Notes).", ""]
    return lines


def _overlay_section(runs: Sequence[RunRecord], overlays: Mapping[str, Path]) -> list[str]:
    lines = ["## Overlays", ""]
    shown = [r for r in runs if r.label in overlays]
    if shown:
        lines += ["image | positive | silence | noise | offscreen (first seed's draws), each map as the clean "
                  "protocol scores it (upsampled to 224 px), one colour scale per sample (its colour bar), the "
                  "ground-truth boxes in white; the second row of each sample keeps the pixels above the positive "
                  "map's adaptive threshold (the rule of pIA and cIoU_adap), and its titles give the fraction "
                  "above it (the sample's pIA) and the positive mask's IoU.", ""]
        for r in shown:
            rel = Path(overlays[r.label])
            lines += [f"### {txt.md(r.label)}", "", f"![overlays {txt.md(r.label)}]({rel.as_posix()})", ""]
    missing = [r.label for r in runs if r.label not in overlays]
    if missing:
        lines += [f"No overlays for {', '.join(map(txt.md, missing))} (see Notes).", ""]
    return lines
