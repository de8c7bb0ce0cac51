"""Overlay figures: image | positive | silence | noise | offscreen, raw and thresholded."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from vssleval.metrics import upsample
from vssleval.report.figures import new_figure, save_figure
from vssleval.report.text import figure as figure_text

VARIANT_ORDER = ("positive", "silence", "noise", "offscreen")


def overlay_grid(images: Sequence[np.ndarray], maps: Mapping[str, np.ndarray], threshold: float | None,
                 out: str | Path, titles: Sequence[str] | None = None, op: str = "bilinear") -> Path:
    """Write a PNG (and PDF) grid, one row pair per sample.

    Args:
        images: ``K`` uint8 RGB arrays ``[224, 224, 3]``.
        maps: variant -> raw maps ``[K, h, w]`` (any of :data:`VARIANT_ORDER`; missing ones are left out).
        threshold: raw-scale threshold for the second row of each sample (pixels above it shown);
            None shows only the raw rows.
        out: PNG path; a PDF with the same stem is written beside it.
    """
    variants = [v for v in VARIANT_ORDER if v in maps]
    up = {v: np.asarray(upsample(np.asarray(maps[v], dtype=np.float32), op)) for v in variants}
    rows_per = 2 if threshold is not None else 1
    k = len(images)
    cols = 1 + len(variants)
    height = 2.05 * k * rows_per + 0.2
    fig = new_figure(1.9 * cols, height, layout=None)
    # margins in inches (two title lines above the first row), whatever the number of rows
    fig.subplots_adjust(left=0.01, right=0.99, top=1 - 0.4 / height, bottom=0.05 / height, wspace=0.04,
                        hspace=0.3)
    axes = fig.subplots(k * rows_per, 1, squeeze=False)[:, 0]
    # A row is one image: its cells (the frame, then each variant blended into RGB) laid side by
    # side with white gaps, and the titles placed above the cells. One axes and one embedded
    # image per row, not per cell: the figure renders and saves several times faster.
    for i in range(k):
        img = np.asarray(images[i], dtype=np.float32) / 255.0
        # one colour scale per sample across variants, so a weaker negative map *looks* weaker
        lo = min(float(up[v][i].min()) for v in variants)
        hi = max(float(up[v][i].max()) for v in variants)
        for r in range(rows_per):
            name = figure_text(titles[i]) if titles else f"sample {i}"
            cells, heads = [np.asarray(images[i], dtype=np.uint8)], [name if r == 0 else "thresholded"]
            for v in variants:
                m = up[v][i]
                heat = _colour(m, lo, hi)
                if r == 0:
                    cell = 0.5 * img + 0.5 * heat
                    heads.append(f"{v}\nmax {float(maps[v][i].max()):.4g}")
                else:
                    sel = (m > threshold)[..., None]
                    cell = np.where(sel, 0.4 * img + 0.6 * heat, img)
                    heads.append(f"> {threshold:.4g}: {float(sel.mean()) * 100:.1f}%")
                cells.append((np.clip(cell, 0, 1) * 255).astype(np.uint8))
            _draw_row(axes[i * rows_per + r], cells, heads)
    out = Path(out)
    save_figure(fig, out, dpi=110)
    return out


#: White pixels between two cells of a row (a cell is 224 px wide).
_GAP = 9


def _draw_row(ax, cells: Sequence[np.ndarray], heads: Sequence[str]) -> None:
    """Show ``cells`` (uint8 ``[H, W, 3]`` each, one height) side by side on ``ax``, ``heads[j]``
    centred above cell ``j``; the axes' frame and ticks hidden."""
    h = cells[0].shape[0]
    gap = np.full((h, _GAP, 3), 255, np.uint8)
    row = np.concatenate([part for c in cells for part in (c, gap)][:-1], axis=1)
    ax.imshow(row, interpolation="nearest")
    x = 0
    for c, head in zip(cells, heads):
        ax.text((x + c.shape[1] / 2) / row.shape[1], 1.02, head, transform=ax.transAxes, ha="center",
                va="bottom", fontsize=7)
        x += c.shape[1] + _GAP
    ax.set_axis_off()
    # hidden axes too: placing a title otherwise builds the ticks of every axis (not drawn)
    ax.xaxis.set_visible(False)
    ax.yaxis.set_visible(False)


def _colour(m: np.ndarray, lo: float, hi: float) -> np.ndarray:
    """``jet`` colours ``[H, W, 3]`` in [0, 1] of map ``m`` on the scale [lo, hi]."""
    from matplotlib import colormaps

    scaled = (m - lo) / (hi - lo) if hi > lo else np.full_like(m, 0.5)
    return colormaps["jet"](np.clip(scaled, 0, 1))[..., :3].astype(np.float32)


def separating_threshold(pos_max: np.ndarray, neg_max: np.ndarray) -> float | None:
    """The universal threshold calibrated on positive vs negative raw maxima, or None when no
    threshold separates them (audio-agnostic maps): the overlays' thresholded row."""
    from vssleval.metrics import calibrate_threshold
    from vssleval.report.figures import separates

    if len(neg_max) == 0:
        return None
    cal = calibrate_threshold(np.asarray(pos_max), np.asarray(neg_max))
    return float(cal["threshold"]) if separates(cal) else None
