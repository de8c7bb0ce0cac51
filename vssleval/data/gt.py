"""Ground-truth maps from boxes, and the box-area size bins.

Every map is ``[224, 224]`` float32 on the evaluation grid (row = y, column = x). A box
``(xmin, ymin, xmax, ymax)`` in integer 224-px coordinates covers rows ``ymin..ymax-1`` and columns
``xmin..xmax-1`` (half-open, numpy-slice semantics); a box with ``xmax <= xmin`` or ``ymax <= ymin``
covers nothing.

Two rules (docs/metrics.md §2.1):

* ``"union"`` (VGG-SS, IS3): 1 where at least one box covers the pixel, else 0.
* ``"consensus"`` (Flickr-SoundNet): number of covering boxes (all annotators, all boxes) divided by 2,
  clipped at 1, so values are in {0, 0.5, 1}.
"""

from __future__ import annotations

import numpy as np

from vssleval.data.types import GT_SIZE, Sample

GT_RULES = ("union", "consensus")

# Size bins on the GT-map area in px² (docs/metrics.md §4.9): half-open, COCO's 32²/96² plus 144².
SIZE_BINS: dict[str, tuple[float, float]] = {
    "small": (0.0, 32.0**2),
    "medium": (32.0**2, 96.0**2),
    "large": (96.0**2, 144.0**2),
    "huge": (144.0**2, float("inf")),
}


def box_cover_counts(boxes: np.ndarray, size: int = GT_SIZE) -> np.ndarray:
    """Count, per pixel, how many boxes cover it.

    Args:
        boxes: int ``[K, 4]`` ``(xmin, ymin, xmax, ymax)`` in pixel coordinates, half-open; ``K`` may be 0.
        size: grid side in pixels.

    Returns:
        float32 ``[size, size]`` counts.
    """
    b = np.asarray(boxes, dtype=np.int64).reshape(-1, 4)
    idx = np.arange(size)
    # Separable indicators: box k covers (r, c) iff row r is in its y-range and column c in its x-range,
    # so the count map is a sum of outer products, i.e. one small matrix product.
    rows = (idx[None, :] >= b[:, 1:2]) & (idx[None, :] < b[:, 3:4])  # [K, size]
    cols = (idx[None, :] >= b[:, 0:1]) & (idx[None, :] < b[:, 2:3])  # [K, size]
    return (rows.T.astype(np.float32) @ cols.astype(np.float32)).astype(np.float32)


def boxes_to_map(boxes: np.ndarray, rule: str = "union", size: int = GT_SIZE) -> np.ndarray:
    """Ground-truth map of ``boxes`` under ``rule`` (``"union"`` or ``"consensus"``).

    Returns:
        float32 ``[size, size]``; values in {0, 1} (union) or {0, 0.5, 1} (consensus).
    """
    counts = box_cover_counts(boxes, size)
    if rule == "union":
        return (counts > 0).astype(np.float32)
    if rule == "consensus":
        return np.minimum(counts / 2.0, 1.0).astype(np.float32)
    raise ValueError(f"unknown ground-truth rule {rule!r}; expected one of {GT_RULES}")


def gt_map(sample: Sample, size: int = GT_SIZE) -> np.ndarray:
    """The ``[224, 224]`` float32 ground-truth map of one sample (all zeros for negatives)."""
    if sample.is_negative:
        return np.zeros((size, size), dtype=np.float32)
    return boxes_to_map(sample.boxes, sample.gt_rule, size)


def gt_area(sample: Sample) -> float:
    """Ground-truth mass Σ G in px² on the 224 grid (consensus-weighted for Flickr)."""
    return float(gt_map(sample).sum(dtype=np.float64))


def size_bin(area: float) -> str:
    """Name of the size bin (``small``/``medium``/``large``/``huge``) an area in px² falls in."""
    for name, (lo, hi) in SIZE_BINS.items():
        if lo <= area < hi:
            return name
    raise ValueError(f"area must be >= 0, got {area}")
