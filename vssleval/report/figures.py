"""Report figures (matplotlib, headless): maxima distributions, ROC by max value, threshold sweeps.

Figures are built on :class:`matplotlib.figure.Figure` objects rendered by the Agg (PNG) and PDF
canvases, never through pyplot's global state, so reports work without a display and from threads.
Each figure is written as PNG and PDF, each file atomically (:func:`save_figure`).
"""

from __future__ import annotations

import math
import textwrap
import threading
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from vssleval.io_utils import atomic_path
from vssleval.metrics import auroc
from vssleval.metrics.calibration import finite_maxima, rates_above
from vssleval.report.runs import RunRecord
from vssleval.report.text import figure as fig_text, visible

#: Colour and display name of each audio variant (``per_sample.csv`` spelling).
VARIANT_STYLE = {
    "positive": ("#1f77b4", "positive"),
    "silence": ("#7f7f7f", "silence"),
    "noise": ("#ff7f0e", "noise"),
    "offscreen": ("#9467bd", "offscreen"),
}
NEG_ALL_COLOR = "#d62728"
DPI = 130
#: At most this many jittered points per box (the box itself uses every value).
MAX_POINTS = 300
#: ROC curves are evaluated at no more than this many thresholds (quantiles of the pooled maxima).
ROC_POINTS = 256


def title_text(s: str, width: int = 48) -> str:
    """A panel title, legend entry or tick label: plain text (:func:`vssleval.report.text.figure`)
    wrapped at ``width`` characters, so a long run label stays beside its panel instead of
    squeezing the axes away."""
    lines = textwrap.wrap(visible(s), width) or [""]
    return "\n".join(fig_text(line) for line in lines)


def new_figure(width: float, height: float, layout: str | None = "constrained"):
    """A pyplot-free figure (rendered by Agg for PNG, by the PDF backend for PDF)."""
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), layout=layout)


def panel_axes(fig, n: int, max_cols: int = 3) -> list:
    """``n`` subplots in a grid of at most ``max_cols`` columns; unused cells are hidden."""
    cols = max(1, min(n, max_cols))
    rows = max(1, math.ceil(n / cols))
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax in axes[n:]:
        ax.set_visible(False)
    return list(axes[:n])


def panel_figure(n: int, panel_w: float = 4.2, panel_h: float = 3.4, max_cols: int = 3):
    cols = max(1, min(n, max_cols))
    rows = max(1, math.ceil(n / cols))
    fig = new_figure(panel_w * cols, panel_h * rows)
    return fig, panel_axes(fig, n, max_cols)


#: zlib level 1 for PNG files (PIL's default is 6): a figure's PNG is written about 4x faster and is
#: about 10 % larger; the pixels are the same.
_FAST = {".png": {"pil_kwargs": {"compress_level": 1}}}
#: The same level for the images embedded in a PDF (an overlay figure's rows: zlib at level 6 was
#: about half of writing its PDF); set per thread by :func:`save_figure` (:func:`_pdf_image_level`).
PDF_IMAGE_LEVEL = 1
_pdf_images = threading.local()
_pdf_patch = threading.Lock()


def _pdf_image_level() -> None:
    """Let :func:`save_figure` choose the zlib level of a PDF's embedded images.

    matplotlib's PDF backend writes each image through ``PIL``'s PNG encoder
    (``PdfFile._writePng``, its deflated rows: a lossless stream whatever the level) and gives it
    no level. Wrapped once: while this thread's :func:`save_figure` writes a PDF, the image gets
    the level through ``encoderinfo`` (Pillow merges it into ``save``'s options); any other PDF
    is written as before. Without either (another matplotlib), nothing changes."""
    try:
        from matplotlib.backends.backend_pdf import PdfFile
    except ImportError:
        return
    with _pdf_patch:
        original = PdfFile.__dict__.get("_writePng")
        if original is None or getattr(original, "_vssleval_level", False):
            return

        def _writePng(self, img, *args, **kwargs):  # any signature a later matplotlib gives it
            level = getattr(_pdf_images, "level", None)
            if level is not None:
                img.encoderinfo = {**getattr(img, "encoderinfo", {}), "compress_level": level}
            return original(self, img, *args, **kwargs)

        _writePng._vssleval_level = True
        PdfFile._writePng = _writePng


def _drop_layout_engine(fig) -> None:
    """Keep ``fig``'s axes where its layout engine put them, and no engine at all: with
    ``set_layout_engine("none")`` a placeholder engine stays, and ``savefig`` still draws the whole
    figure once before drawing it to the file, measuring every text for nothing (about a third of
    writing a PDF)."""
    import matplotlib

    with matplotlib.rc_context({"figure.autolayout": False, "figure.constrained_layout.use": False}):
        fig.set_layout_engine(None)  # None, with both rcParams off: no engine


def save_figure(fig, png: str | Path, dpi: int = DPI) -> list[Path]:
    """Write ``fig`` to ``png`` and to the PDF beside it, each atomically; return both paths.

    The PNG is drawn first; the PDF keeps the axes positions that its layout engine (constrained
    layout) found then instead of searching for them again: it measures every text of the figure,
    about a third of a figure's drawing (docs/performance.md §10.2). The PDF's images are deflated
    at :data:`PDF_IMAGE_LEVEL` (the same pixels)."""
    png = Path(png)
    paths = [png, png.with_suffix(".pdf")]
    _pdf_image_level()
    for n, path in enumerate(paths):
        if n and fig.get_layout_engine() is not None:
            _drop_layout_engine(fig)  # the positions of the last draw stay
        _pdf_images.level = PDF_IMAGE_LEVEL if path.suffix == ".pdf" else None
        try:
            with atomic_path(path) as tmp:
                fig.savefig(tmp, format=path.suffix[1:], dpi=dpi, **_FAST.get(path.suffix, {}))
        finally:
            _pdf_images.level = None
    return paths


# -- maxima distributions ------------------------------------------------------------------------
def separates(cal: Mapping[str, Any] | None) -> bool:
    """Whether a calibration found a threshold better than chance (TPR > FPR); otherwise its
    threshold is just "below every value" and is not drawn."""
    if not cal:
        return False
    tpr, fpr, t = cal.get("tpr", np.nan), cal.get("fpr", np.nan), cal.get("threshold", np.nan)
    return bool(np.isfinite(t) and np.isfinite(tpr) and np.isfinite(fpr) and tpr > fpr)


def panels(runs: Sequence[RunRecord]) -> list[tuple[str, list[RunRecord]]]:
    """``(title, runs)`` of each panel: one per model run, then one shared panel for every
    audio-agnostic baseline (``baseline: true`` in its YAML), whose panels would otherwise be
    near-identical copies of each other."""
    models = [(r.label, [r]) for r in runs if not r.baseline]
    base = [r for r in runs if r.baseline]
    if len(base) == 1:
        return models + [(base[0].label, base)]
    return models + ([("baselines (audio-agnostic)", base)] if base else [])


def _box_group(ax, run: RunRecord, x0: float, width: float, rng) -> list[float]:
    """Boxes (and jittered points) of one run's maxima per variant, centred on ``x0``; returns
    the x position of each variant's box."""
    variants = ["positive", *run.negatives]
    step = width / len(variants)
    xs = [x0 + (i - (len(variants) - 1) / 2) * step for i in range(len(variants))]
    for v, x in zip(variants, xs):
        d = run.maxima(v)
        if not d.size:
            continue
        bp = ax.boxplot([d], positions=[x], widths=0.8 * step, whis=(5, 95), showfliers=False,
                        patch_artist=True, medianprops={"color": "black"})
        bp["boxes"][0].set_facecolor(VARIANT_STYLE[v][0])
        bp["boxes"][0].set_alpha(0.35)
        if d.size > MAX_POINTS:
            d = rng.choice(d, MAX_POINTS, replace=False)
        ax.scatter(x + rng.uniform(-0.3, 0.3, d.size) * step, d, s=6, alpha=0.5, color=VARIANT_STYLE[v][0],
                   linewidths=0)
    return xs


def maxima_limits(runs: Sequence[RunRecord], calibrations: Mapping[str, Mapping[str, Any]] | None = None
                  ) -> tuple[float, float]:
    """The y-axis of every panel of ``maxima.png``: the span of every run's maxima (and of the drawn
    thresholds), 5 % margin on each side. One axis for all panels, so the baselines' panel is read on
    the scale of the models it is compared with (a constant baseline is not zoomed into showing
    float32 rounding as a difference); a span under one millionth of the values' magnitude counts
    as none and gets a margin of 5 % of that magnitude (1 at 0).

    Examples:
    >>> maxima_limits([])
    (-0.05, 0.05)
    """
    values = [run.maxima(v) for run in runs for v in ["positive", *run.negatives]]
    values += [np.array([c["threshold"]]) for c in (calibrations or {}).values() if separates(c)]
    flat = np.concatenate(values) if values else np.zeros(1)
    flat = flat[np.isfinite(flat)] if np.isfinite(flat).any() else np.zeros(1)
    lo, hi = float(flat.min()), float(flat.max())
    size = max(abs(lo), abs(hi))
    if hi - lo <= 1e-6 * size or hi == lo:
        pad = 0.05 * size if size > 0 else 0.05
        return lo - pad, hi + pad
    return lo - 0.05 * (hi - lo), hi + 0.05 * (hi - lo)


def maxima_figure(runs: Sequence[RunRecord], calibrations: Mapping[str, Mapping[str, Any]],
                  out: str | Path) -> list[Path]:
    """Box plots (with jittered points) of the raw-map maxima per audio variant (:func:`maxima_axes`)."""
    return save_figure(maxima_axes(runs, calibrations), out)


def maxima_axes(runs: Sequence[RunRecord], calibrations: Mapping[str, Mapping[str, Any]]):
    """The figure of :func:`maxima_figure`: one panel per model run, one shared panel for the
    baselines (one group of boxes each), every panel on one y-axis (:func:`maxima_limits`). Colours
    are the variants' (:data:`VARIANT_STYLE`), the same in every figure.

    Args:
        calibrations: run label -> :func:`vssleval.metrics.calibrate_threshold` result; a threshold
            that separates positives from negatives is drawn as a dashed line (model panels).
    """
    groups = panels(runs)
    shown = [c for r in runs if not r.baseline for c in [calibrations.get(r.label)] if c]
    limits = maxima_limits(runs, dict(enumerate(shown)))
    fig, axes = panel_figure(len(groups))
    rng = np.random.default_rng(0)
    for ax, (title, members) in zip(axes, groups):
        if len(members) == 1:
            run = members[0]
            xs = _box_group(ax, run, 1.0 + len(run.negatives) / 2, len(run.negatives) + 1.0, rng)
            ax.set_xticks(xs, [VARIANT_STYLE[v][1] for v in ["positive", *run.negatives]], fontsize=8)
            cal = calibrations.get(run.label) or {}
            if separates(cal):
                t = cal["threshold"]
                ax.axhline(t, color=NEG_ALL_COLOR, ls="--", lw=1, label=f"calibrated t = {t:.4g}")
            elif run.negatives:
                ax.plot([], [], ls="none", label="no threshold separates\npositive from negative maxima")
        else:  # the baselines: a group of variant boxes per run, the run's name under it
            for k, run in enumerate(members):
                _box_group(ax, run, float(k + 1), 0.8, rng)
            ax.set_xticks(range(1, len(members) + 1), [title_text(r.label, 20) for r in members], fontsize=8)
            for v in ["positive", *members[0].negatives]:
                ax.plot([], [], ls="none", marker="s", color=VARIANT_STYLE[v][0], label=VARIANT_STYLE[v][1])
        if ax.get_legend_handles_labels()[0]:
            ax.legend(loc="best", fontsize=7, frameon=False)
        ax.set_ylabel("max of raw map", fontsize=8)
        ax.set_ylim(*limits)
        ax.ticklabel_format(axis="y", useOffset=False)  # near-equal maxima: plain values, not "1e-5 + 0.9999"
        ax.set_title(title_text(title), fontsize=9)
        ax.tick_params(axis="y", labelsize=7)
        ax.grid(axis="y", alpha=0.3)
    fig.suptitle("Raw-map maxima per audio variant (boxes: quartiles, whiskers: 5-95 %; one y-axis for all panels)",
                 fontsize=10)
    return fig


# -- ROC by max value -----------------------------------------------------------------------------
def roc_points(pos: np.ndarray, neg: np.ndarray, points: int = ROC_POINTS) -> tuple[np.ndarray, np.ndarray]:
    """FPR and TPR of "positive if max > t" over thresholds at quantiles of the pooled maxima
    (plus one below and one above every value): :func:`vssleval.metrics.transfer`'s rates at each
    threshold (the non-finite maxima left out; NaN rates without a finite maximum on a side),
    counted for all thresholds at once (:func:`vssleval.metrics.calibration.rates_above`, what
    ``transfer`` counts with) instead of one call (and one AUROC, unused here) per threshold."""
    pooled = np.concatenate([pos, neg])
    if pooled.size == 0:
        return np.array([0.0, 1.0]), np.array([0.0, 1.0])
    qs = np.unique(np.quantile(pooled, np.linspace(0, 1, points)))
    cand = np.concatenate([[pooled.min() - 1.0], qs, (qs[:-1] + qs[1:]) / 2, [pooled.max() + 1.0]])
    thr = np.sort(cand)[::-1].astype(np.float64)
    pos, neg = finite_maxima(pos, neg)
    if pos.size == 0 or neg.size == 0:  # transfer's NaN rates
        return np.full(thr.size, np.nan), np.full(thr.size, np.nan)
    tpr, fpr = rates_above(pos, neg, thr)
    return fpr, tpr


#: line styles that tell the baselines apart in their shared ROC panel
_BASELINE_LINES = ("-", "--", ":", "-.")


def roc_figure(runs: Sequence[RunRecord], calibrations: Mapping[str, Mapping[str, Any]],
               out: str | Path) -> list[Path]:
    """Positive-vs-negative ROC by raw-map maximum, per negative variant and pooled, one panel per
    model run; the legend gives each AUROC and the calibrated threshold's operating point is marked.
    The baselines share one panel (their pooled curves). Runs without negative audio (``--neg
    none``) have no ROC and are left out; with none left, no figure is written (returns ``[]``)."""
    groups = [(t, [r for r in members if r.negatives]) for t, members in panels(runs)]
    groups = [(t, members) for t, members in groups if members]
    if not groups:
        return []
    fig, axes = panel_figure(len(groups), panel_w=3.8, panel_h=3.6)
    for ax, (title, members) in zip(axes, groups):
        if len(members) == 1:
            _roc_panel(ax, members[0], calibrations.get(members[0].label) or {})
        else:
            for k, run in enumerate(members):
                fpr, tpr = roc_points(run.maxima("positive"), run.negative_maxima())
                auc = auroc(run.maxima("positive"), run.negative_maxima())
                ax.plot(fpr, tpr, color=NEG_ALL_COLOR, lw=1.4, ls=_BASELINE_LINES[k % len(_BASELINE_LINES)],
                        label=f"{title_text(run.label, 32)} vs all: AUROC {auc:.3f}")
        ax.plot([0, 1], [0, 1], color="black", lw=0.6, ls=":")
        ax.set_xlim(-0.02, 1.02)
        ax.set_ylim(-0.02, 1.02)
        ax.set_aspect("equal")
        ax.set_xlabel("false positive rate (negative max > t)", fontsize=8)
        ax.set_ylabel("true positive rate (positive max > t)", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.set_title(title_text(title), fontsize=9)
        ax.legend(loc="lower right", fontsize=6.5, frameon=False)
    fig.suptitle("Positive vs negative audio by raw-map maximum (ROC; o = calibrated threshold)", fontsize=10)
    return save_figure(fig, out)


def _roc_panel(ax, run: RunRecord, cal: Mapping[str, Any]) -> None:
    pos = run.maxima("positive")
    for v in run.negatives:
        neg = run.maxima(v)
        fpr, tpr = roc_points(pos, neg)
        ax.plot(fpr, tpr, color=VARIANT_STYLE[v][0], lw=1.2, label=f"vs {v}: AUROC {auroc(pos, neg):.3f}")
    if len(run.negatives) > 1:
        fpr, tpr = roc_points(pos, run.negative_maxima())
        ax.plot(fpr, tpr, color=NEG_ALL_COLOR, lw=1.8, label=f"vs all: AUROC {cal.get('auroc', float('nan')):.3f}")
    if separates(cal):
        ax.plot([cal["fpr"]], [cal["tpr"]], marker="o", ms=7, mfc="none", mec="black", mew=1.5, ls="none",
                label=f"t = {cal['threshold']:.4g} (TPR {cal['tpr']:.2f}, FPR {cal['fpr']:.2f})")


# -- threshold sweep ------------------------------------------------------------------------------
def sweep_figure(panels: Sequence[Mapping[str, Any]], out: str | Path) -> list[Path]:
    """cIoU success rate and pIA per negative variant vs the raw-scale threshold, one panel per run.

    Each panel mapping: ``label``, ``curves`` (:meth:`ThresholdSweep.result`), ``calibrated``
    (a separating threshold or None), ``configured`` (``{name: threshold}`` of the model's YAML), ``note``.
    """
    fig, axes = panel_figure(len(panels))
    for ax, p in zip(axes, panels):
        c = p["curves"]
        x = c["threshold"]
        ax.plot(x, c["ciou"], color=VARIANT_STYLE["positive"][0], lw=2, label="cIoU@0.5 (positive)")
        for v in ("silence", "noise", "offscreen"):
            if f"pia_{v}" in c:
                ax.plot(x, c[f"pia_{v}"], color=VARIANT_STYLE[v][0], lw=1.3, ls="--", label=f"pIA {v}")
        t = p.get("calibrated")
        if t is not None and np.isfinite(t):
            ax.axvline(t, color=NEG_ALL_COLOR, lw=1, label=f"calibrated t = {t:.4g}")
        lo, hi = float(x.min()), float(x.max())
        for name, value in (p.get("configured") or {}).items():
            if lo <= value <= hi:
                ax.axvline(value, color="black", lw=0.8, ls=":", label=f"YAML {fig_text(name)} = {value:.4g}")
            else:  # drawing it would squash the curves: say where it is instead
                ax.plot([], [], ls="none", label=f"YAML {fig_text(name)} = {value:.4g} (off scale)")
        ax.set_ylim(-0.02, 1.02)
        ax.set_xlabel("universal threshold (raw map scale)", fontsize=8)
        ax.set_ylabel("fraction", fontsize=8)
        ax.tick_params(labelsize=7)
        ax.grid(alpha=0.3)
        ax.set_title(title_text(p["label"]) + (f"\n{title_text(p['note'])}" if p.get("note") else ""), fontsize=8)
        ax.legend(loc="best", fontsize=6.5, frameon=False)
    fig.suptitle("Success rate (positive) and pIA (negatives) as functions of the threshold", fontsize=10)
    return save_figure(fig, out)
