"""Overlay figures: image | positive | silence | noise | offscreen, raw and thresholded."""

from __future__ import annotations

from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from vssleval.io_utils import atomic_path
from vssleval.metrics import upsample

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
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    variants = [v for v in VARIANT_ORDER if v in maps]
    up = {v: np.asarray(upsample(np.asarray(maps[v], dtype=np.float32), op)) for v in variants}
    # one colour scale per sample across variants, so a weaker negative map *looks* weaker
    rows_per = 2 if threshold is not None else 1
    k = len(images)
    fig, axes = plt.subplots(k * rows_per, 1 + len(variants), figsize=(2.2 * (1 + len(variants)), 2.2 * k * rows_per),
                             squeeze=False)
    for i in range(k):
        lo = min(float(up[v][i].min()) for v in variants)
        hi = max(float(up[v][i].max()) for v in variants)
        for r in range(rows_per):
            ax_row = axes[i * rows_per + r]
            ax_row[0].imshow(images[i])
            ax_row[0].set_title((titles[i] if titles else f"sample {i}") if r == 0 else "thresholded", fontsize=7)
            for j, v in enumerate(variants, start=1):
                m = up[v][i]
                ax_row[j].imshow(images[i])
                if r == 0:
                    ax_row[j].imshow(m, cmap="jet", alpha=0.5, vmin=lo, vmax=hi)
                    ax_row[j].set_title(f"{v}\nmax {float(maps[v][i].max()):.3f}", fontsize=7)
                else:
                    mask = np.ma.masked_where(m <= threshold, m)
                    ax_row[j].imshow(mask, cmap="jet", alpha=0.6, vmin=lo, vmax=hi)
                    ax_row[j].set_title(f"> {threshold:.3f}: {float((m > threshold).mean()) * 100:.1f}%", fontsize=7)
        for ax in axes[i * rows_per:(i + 1) * rows_per].ravel():
            ax.set_axis_off()
    fig.tight_layout()
    out = Path(out)
    for path in (out, out.with_suffix(".pdf")):
        with atomic_path(path) as tmp:
            fig.savefig(tmp, format=path.suffix[1:], dpi=110)
    plt.close(fig)
    return out
