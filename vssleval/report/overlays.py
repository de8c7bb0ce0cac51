"""Overlay figures: image | positive | silence | noise | offscreen, raw and thresholded
(docs/report.md, "Overlays").

Every panel shows a map as the clean protocol scores it: upsampled to 224 x 224 with the run's op, a
flat raw map kept flat (docs/protocols.md §8.2-8.3). Each title describes the array drawn below it
(its maximum, and the raw map's where the two differ), the thresholded row shows what the protocol
thresholds (by default the positive map's adaptive threshold: the rule of ``cIoU_adap`` and of the
leaderboard's pIA, applied to every variant of the sample) and its titles give the threshold, the
fraction of pixels above it and the positive mask's IoU. The ground-truth boxes are drawn on every
cell, and a colour bar per sample gives the one scale of its row. :func:`overlay_panels` computes
all of it (tested against the protocol's per-sample records); :func:`overlay_grid` draws it.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from vssleval.metrics import upsample
from vssleval.metrics.overlap import ciou
from vssleval.metrics.thresholds import adaptive_threshold
from vssleval.report.figures import new_figure, save_figure
from vssleval.report.text import figure as figure_text

VARIANT_ORDER = ("positive", "silence", "noise", "offscreen")
#: How the thresholded row's threshold is named in the figure, per rule.
RULES = {"adaptive": "positive map's adaptive threshold (GT area; the pIA of the leaderboard)",
         "universal": "universal threshold (raw scale)"}


@dataclass
class Panel:
    """One sample of an overlay figure, as drawn.

    Attributes:
        name: the sample's title. shown: variant -> the map drawn, float32 ``[224, 224]``.
        raw_max: variant -> the raw map's maximum. lo, hi: the colour scale of the sample's row.
        threshold: the thresholded row's threshold (``-inf``: a flat positive map selects every
            pixel), or None for no thresholded row. above: variant -> fraction of ``shown`` above it.
        iou: the positive mask's IoU with the ground truth (NaN without one).
        boxes: ground-truth boxes in pixels of the 224 x 224 cell, ``[K, 4]`` (x0, y0, x1, y1).
        rule: the threshold's rule, a key of :data:`RULES`.
    """

    name: str
    shown: dict[str, np.ndarray]
    raw_max: dict[str, float]
    lo: float
    hi: float
    threshold: float | None
    above: dict[str, float]
    iou: float
    boxes: np.ndarray
    rule: str = "adaptive"

    def heads(self) -> tuple[list[str], list[str]]:
        """The titles above the raw row's and the thresholded row's cells (image first)."""
        raw = [self.name]
        for v, m in self.shown.items():
            top = float(np.nanmax(m)) if np.isfinite(m).any() else float("nan")
            extra = "" if f"{top:.4g}" == f"{self.raw_max[v]:.4g}" else f" (raw {self.raw_max[v]:.4g})"
            raw.append(f"{v}\nmax {top:.4g}{extra}")
        if self.threshold is None:
            return raw, []
        t = "> -inf" if self.threshold == -np.inf else f"> {self.threshold:.4g}"
        cut = [{"adaptive": "> t, the positive map's\nadaptive threshold", "universal": "> t, a universal\nthreshold"}[
            self.rule] if self.threshold != -np.inf else "flat positive map:\nevery pixel"]
        for v in self.shown:
            what = f"{self.above[v] * 100:.1f} %" + (f", IoU {self.iou:.2f}" if v == "positive" else "")
            cut.append(f"{t}: {what}")
        return raw, cut


def scored_maps(raw: np.ndarray, op: str) -> np.ndarray:
    """Raw maps ``[K, h, w]`` as the clean protocol scores them: ``[K, 224, 224]`` float32 upsampled
    with ``op``, a flat raw map (all values equal) kept at its constant (docs/protocols.md §8.3)."""
    raw = np.asarray(raw, dtype=np.float32)
    up = np.array(upsample(raw, op), dtype=np.float32)
    rows = raw.reshape(len(raw), -1)
    flat = (rows == rows[:, :1]).all(axis=1)
    up[flat] = rows[flat, :1, None]
    return up


def overlay_panels(maps: Mapping[str, np.ndarray], titles: Sequence[str], op: str = "bilinear",
                   gt: np.ndarray | None = None, boxes: np.ndarray | None = None,
                   threshold: float | None = None, raw_max: Mapping[str, np.ndarray] | None = None) -> list[Panel]:
    """What an overlay figure shows, sample by sample.

    Args:
        maps: variant -> raw maps ``[K, h, w]`` (any of :data:`VARIANT_ORDER`).
        titles: ``K`` sample titles. op: the run's upsampling op.
        gt: ground-truth maps ``[K, 224, 224]``: the default thresholded row (the positive map's
            adaptive threshold) and the IoU need it.
        boxes: ``[K, n, 4]`` ground-truth boxes as fractions of the frame (NaN rows: none).
        threshold: a universal raw-scale threshold for the thresholded row instead; with neither
            ``gt`` nor ``threshold`` there is no thresholded row.
        raw_max: variant -> ``[K]`` maxima of the raw maps where ``maps`` are not the raw maps (a
            store keeping them resized, docs/models.md §2.8); default: the maxima of ``maps``.
    """
    variants = [v for v in VARIANT_ORDER if v in maps]
    shown = {v: scored_maps(maps[v], op) for v in variants}
    k = len(titles)
    if threshold is not None:
        ts: list[float | None] = [float(threshold)] * k
    elif gt is not None:
        pos = np.asarray(maps["positive"], dtype=np.float32).reshape(k, -1)
        flat = (pos == pos[:, :1]).all(axis=1)  # a flat positive map selects every pixel (§8.3)
        ts = [float(t) for t in np.where(flat, -np.inf, adaptive_threshold(shown["positive"], gt))]
    else:
        ts = [None] * k
    panels = []
    for i in range(k):
        own = {v: shown[v][i] for v in variants}
        finite = [m[np.isfinite(m)] for m in own.values() if np.isfinite(m).any()]
        lo = min(float(m.min()) for m in finite) if finite else 0.0
        hi = max(float(m.max()) for m in finite) if finite else 0.0
        t = ts[i]
        above = {v: float((m > t).mean()) for v, m in own.items()} if t is not None else {}
        iou = float("nan")
        if t is not None and gt is not None:
            iou = float(np.asarray(ciou((own["positive"] > t)[None], np.asarray(gt[i])[None]))[0])
        b = np.empty((0, 4)) if boxes is None else np.asarray(boxes[i], dtype=np.float64)
        b = b[np.isfinite(b).all(axis=1)] * 224.0
        tops = {v: float(raw_max[v][i]) if raw_max and v in raw_max else
                float(np.nanmax(maps[v][i])) if np.isfinite(maps[v][i]).any() else float("nan") for v in variants}
        panels.append(Panel(str(titles[i]), own, tops, lo, hi, t, above, iou, b,
                            "universal" if threshold is not None else "adaptive"))
    return panels


def overlay_grid(images: Sequence[np.ndarray], maps: Mapping[str, np.ndarray], threshold: float | None,
                 out: str | Path, titles: Sequence[str] | None = None, op: str = "bilinear",
                 gt: np.ndarray | None = None, boxes: np.ndarray | None = None,
                 raw_max: Mapping[str, np.ndarray] | None = None) -> Path:
    """Write a PNG (and PDF) grid, one row pair per sample (:func:`overlay_panels` says what is drawn).

    Args:
        images: ``K`` uint8 RGB arrays ``[224, 224, 3]``.
        maps: variant -> raw maps ``[K, h, w]``. threshold, gt, boxes, raw_max: as :func:`overlay_panels`.
        out: PNG path; a PDF with the same stem is written beside it.
    """
    out = Path(out)
    save_figure(overlay_figure(images, maps, threshold, titles, op, gt, boxes, raw_max), out, dpi=110)
    return out


def overlay_figure(images: Sequence[np.ndarray], maps: Mapping[str, np.ndarray], threshold: float | None,
                   titles: Sequence[str] | None = None, op: str = "bilinear", gt: np.ndarray | None = None,
                   boxes: np.ndarray | None = None, raw_max: Mapping[str, np.ndarray] | None = None):
    """The figure :func:`overlay_grid` saves: one axes holding every row of cells (one image per
    row, :func:`_draw_rows`), one colour-bar axes per sample."""
    titles = [figure_text(t) for t in titles] if titles else [f"sample {i}" for i in range(len(images))]
    panels = overlay_panels(maps, titles, op, gt, boxes, threshold, raw_max)
    rows_per = 2 if panels and panels[0].threshold is not None else 1
    k = len(images)
    cols = 1 + len(panels[0].shown) if panels else 1
    top = 0.75  # inches above the first row: the figure's two-line title, then the cells' titles
    height = 2.05 * k * rows_per + top - 0.2
    width = 1.9 * cols + 0.9
    fig = new_figure(width, height, layout=None)
    # each row its own embedded image, drawn as it is (not first composited into one image, which
    # the PDF would embed resampled at the figure's dpi)
    fig.suppressComposite = True
    # the colour bars' tick labels need 0.4 in on the right
    fig.subplots_adjust(left=0.01, right=1 - 0.42 / width, top=1 - top / height, bottom=0.05 / height, hspace=0.3)
    grid = fig.add_gridspec(k * rows_per, 2, width_ratios=[1.9 * cols, 0.22], wspace=0.03)
    rule = "universal" if threshold is not None else "adaptive"
    lines = ["Maps as scored (upsampled to 224 px with the run's op), one colour scale per sample (colour bar); "
             "white boxes: ground truth"]
    if rows_per == 2:
        lines.append(f"second row: the pixels above the {RULES[rule]}")
    fig.suptitle("\n".join(lines), fontsize=7.5, y=1 - 0.08 / height, va="top")
    rows = []
    for p, image in zip(panels, images):
        img = np.asarray(image, dtype=np.float32) / 255.0
        heads = p.heads()
        for r in range(rows_per):
            cells = [np.asarray(image, dtype=np.uint8)]
            for m in p.shown.values():
                heat = _colour(m, p.lo, p.hi)
                cell = 0.5 * img + 0.5 * heat if r == 0 else np.where((m > p.threshold)[..., None],
                                                                       0.4 * img + 0.6 * heat, img)
                cells.append((np.clip(cell, 0, 1) * 255).astype(np.uint8))
            rows.append((cells, heads[r], p.boxes))
    if rows:
        _draw_rows(fig, [grid[j, 0] for j in range(len(rows))], rows)
    for i, p in enumerate(panels):
        _colour_bar(fig, fig.add_subplot(grid[i * rows_per:(i + 1) * rows_per, 1]), p)
    return fig


#: White pixels between two cells of a row (a cell is 224 px wide).
_GAP = 9


def row_image(cells: Sequence[np.ndarray]) -> np.ndarray:
    """uint8 RGBA ``[H, W, 4]``: ``cells`` (uint8 RGB ``[H, w, 3]`` each, one height) side by side,
    :data:`_GAP` white pixels between two, opaque (matplotlib draws RGBA as it is; RGB it first
    copies into RGBA)."""
    h = cells[0].shape[0]
    row = np.full((h, sum(c.shape[1] for c in cells) + _GAP * (len(cells) - 1), 4), 255, np.uint8)
    x = 0
    for c in cells:
        row[:, x:x + c.shape[1], :3] = c
        x += c.shape[1] + _GAP
    return row


def _draw_rows(fig, specs: Sequence, rows: Sequence[tuple[Sequence[np.ndarray], Sequence[str], np.ndarray]]):
    """Draw each row ``(cells, heads, boxes)`` (uint8 RGB cells of one height, the title of each,
    ground-truth boxes ``[K, 4]`` in pixels of a cell) in its grid cell ``specs[j]``, all on one
    axes (returned): the row's image (:func:`row_image`) fills the largest box of its shape centred
    in the grid cell, where ``imshow`` on an axes of its own put it; ``heads[i]`` centred above cell
    ``i``, the ``boxes`` drawn on every cell; the axes' frame and ticks hidden.

    One axes for the whole grid, not one per row: creating an axes (its ticks, spines and
    transforms) was about half of building the figure (docs/performance.md). The axes spans the
    grid's column in figure inches; every artist is placed in those units, and the boxes are
    clipped to their row's image as they were to the row's own axes."""
    from matplotlib import patheffects
    from matplotlib.patches import Rectangle
    from matplotlib.transforms import Bbox, TransformedBbox

    fw, fh = fig.get_size_inches()
    places = [spec.get_position(fig) for spec in specs]
    x0, x1 = min(b.x0 for b in places) * fw, max(b.x1 for b in places) * fw
    y0, y1 = min(b.y0 for b in places) * fh, max(b.y1 for b in places) * fh
    ax = fig.add_axes((x0 / fw, y0 / fh, (x1 - x0) / fw, (y1 - y0) / fh))
    ax.set_axis_off()
    # hidden axes too: placing a title otherwise builds the ticks of every axis (not drawn)
    ax.xaxis.set_visible(False)
    ax.yaxis.set_visible(False)
    outline = [patheffects.withStroke(linewidth=2.2, foreground="black")]
    for place, (cells, heads, boxes) in zip(places, rows):
        row = row_image(cells)
        h, w = row.shape[:2]
        bw, bh = place.width * fw, place.height * fh
        s = min(bw / w, bh / h)  # inches per pixel: the image's aspect kept, as imshow's "equal"
        left, bottom = place.x0 * fw + (bw - s * w) / 2, place.y0 * fh + (bh - s * h) / 2
        right, top = left + s * w, bottom + s * h
        ax.imshow(row, interpolation="none", extent=(left, right, bottom, top), aspect="auto")
        clip = TransformedBbox(Bbox([[left, bottom], [right, top]]), ax.transData)
        x = 0
        for c, head in zip(cells, heads):
            ax.text(left + s * (x + c.shape[1] / 2), top + 0.02 * (top - bottom), head, ha="center",
                    va="bottom", fontsize=7)
            for bx0, by0, bx1, by1 in boxes:
                box = Rectangle((left + s * (x + bx0), top - s * by1), s * (bx1 - bx0), s * (by1 - by0), fill=False,
                                edgecolor="white", linewidth=1.1, path_effects=outline)
                ax.add_artist(box)  # not add_patch: the limits are set below, not grown to each box
                box.set_clip_box(clip)
            x += c.shape[1] + _GAP
    ax.set_xlim(x0, x1)
    ax.set_ylim(y0, y1)
    return ax


def _colour_bar(fig, cax, p: Panel) -> None:
    """The sample's colour scale [lo, hi], with the threshold marked where it lies inside it."""
    from matplotlib import colormaps
    from matplotlib.cm import ScalarMappable
    from matplotlib.colors import Normalize

    flat = not p.hi > p.lo  # a flat row is drawn in the middle colour: its value mid-bar, the only tick
    pad = max(abs(p.lo) * 0.05, 0.05) if flat else 0.0
    lo, hi = p.lo - pad, p.hi + pad
    bar = fig.colorbar(ScalarMappable(Normalize(lo, hi), colormaps["jet"]), cax=cax)
    if flat:
        bar.set_ticks([p.lo])
    bar.ax.ticklabel_format(axis="y", useOffset=False)
    bar.ax.tick_params(labelsize=6)
    if p.threshold is not None and p.lo <= p.threshold <= hi:
        bar.ax.axhline(p.threshold, color="white", linewidth=1.5)
        bar.ax.axhline(p.threshold, color="black", linewidth=0.6)
        bar.ax.text(0.0, p.threshold, "t ", transform=bar.ax.get_yaxis_transform(), fontsize=6, va="center",
                    ha="right", color="black", clip_on=False)


def _colour(m: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """``jet`` colours ``[H, W, 3]`` in [0, 1] of map ``m`` on the scale [lo, hi]."""
    from matplotlib import colormaps

    scaled = (m - lo) / (hi - lo) if hi > lo else np.full_like(m, 0.5)
    return colormaps["jet"](np.clip(scaled, 0, 1))[..., :3].astype(np.float32)
