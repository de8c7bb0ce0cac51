"""Helpers shared by the native evaluators (docs/protocols.md §11): upsampling as each repository
runs it, its min-max variants, box -> pixel conversions, the per-sample IoU and the dataset curves.

Everything is numpy (torch only through :func:`vssleval.metrics.upsample.upsample`, which is
bit-identical to ``F.interpolate`` on CPU). Maps stay float32 through every step, as in the
repositories, so the thresholds are the very float32 values their code compares against.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from ..._array import to_numpy
from ...curves import auc as auc_21
from ...curves import success_rate
from ...upsample import upsample

#: side of the evaluation grid and its pixel count
SIZE = 224
N_PIXELS = SIZE * SIZE


def as_maps(raw) -> np.ndarray:
    """``[B, h, w]`` float32 numpy copy of raw maps given as numpy or torch."""
    x = np.asarray(to_numpy(raw), dtype=np.float32)
    if x.ndim != 3:
        raise ValueError(f"raw maps must be [B, h, w], got shape {x.shape}")
    return x


# -- upsampling --------------------------------------------------------------------------------------
def cv2_linear(maps: np.ndarray) -> np.ndarray:
    """``cv2.resize(m, (224, 224), interpolation=INTER_LINEAR)`` of float32 maps, through the
    project's OpenCV reproduction (docs/metrics.md §2.4). OpenCV's own result depends on the CPU
    path by one ulp; on every native fixture both paths give the same masks and IoUs
    (docs/protocols.md §11.2)."""
    return np.asarray(upsample(as_maps(maps), "cv2_linear", SIZE), dtype=np.float32)


def upsample_torch(maps: np.ndarray, op: str) -> np.ndarray:
    """torch ``F.interpolate`` to 224 (``op``: bilinear_ac, bicubic, bicubic_ac), float32 numpy."""
    return np.asarray(upsample(as_maps(maps), op, SIZE), dtype=np.float32)


# -- normalisations ----------------------------------------------------------------------------------
def minmax_flat_unchanged(maps: np.ndarray) -> np.ndarray:
    """Per-map ``(x - min) / (max - min)`` in float32; a flat map (max == min) is returned as is."""
    out = np.empty_like(maps)
    for i, m in enumerate(maps):
        lo, hi = m.min(), m.max()
        out[i] = m if hi == lo else (m - lo) / (hi - lo)
    return out


def minmax_unguarded(maps: np.ndarray) -> np.ndarray:
    """Per-map ``(x - min) / ptp(x)`` in float32 with no flat guard: a flat map becomes all NaN."""
    lo = maps.min(axis=(1, 2), keepdims=True)
    rng = maps.max(axis=(1, 2), keepdims=True) - lo
    with np.errstate(invalid="ignore", divide="ignore"):
        return (maps - lo) / rng


def one_minus_minmax_of_negative(maps: np.ndarray) -> np.ndarray:
    """``1 - minmax(-x)`` in float32 (LVS family): the min-max map up to float rounding, and for a
    flat map ``1 + x`` (min-max leaves ``-x`` unchanged)."""
    return (np.float32(1) - minmax_flat_unchanged(-maps)).astype(np.float32)


def sorted_value(maps: np.ndarray, index: np.ndarray | int) -> np.ndarray:
    """``np.sort(map.ravel())[index]`` per map (``index`` scalar or ``[B]``), by selection."""
    flat = maps.reshape(len(maps), -1)
    idx = np.broadcast_to(np.asarray(index, dtype=np.int64), (len(maps),))
    return np.array([np.partition(f, k)[k] for f, k in zip(flat, idx)], dtype=flat.dtype)


# -- ground truth --------------------------------------------------------------------------------------
def _coords_clip(box: np.ndarray) -> list[int]:
    """EZ-VSL / SLAVC / FNAC / SSL-Align: clip to [0, 1], times 224, truncate."""
    return [int(v) for v in (np.clip(np.asarray(box, np.float64), 0, 1) * SIZE).astype(int)]


def _coords_floor0(box: np.ndarray) -> list[int]:
    """LVS / SACL: ``int(224 * max(x, 0))`` per coordinate (no upper clip; slicing clamps)."""
    return [int(SIZE * max(float(v), 0.0)) for v in box]


def _coords_raw(box: np.ndarray) -> list[int]:
    """SSL-TIE: ``int(x * 224)`` per coordinate, no clipping at all (negative values are Python
    slice indices counted from the end)."""
    return [int(float(v) * SIZE) for v in box]


BOX_RULES: dict[str, Callable[[np.ndarray], list[int]]] = {
    "clip": _coords_clip, "floor0": _coords_floor0, "raw": _coords_raw}


def box_pixels(boxes: Sequence, rule: str) -> list[list[int]]:
    """Integer ``[xmin, ymin, xmax, ymax]`` of each normalised box under a repository's rule."""
    return [BOX_RULES[rule](np.asarray(b)) for b in boxes]


def gt_map(boxes: Sequence, rule: str) -> np.ndarray:
    """Binary ``[224, 224]`` uint8 union of the boxes (normalised ``[xmin, ymin, xmax, ymax]``),
    each filled as the numpy slice ``[ymin:ymax, xmin:xmax]`` of its integer coordinates."""
    gt = np.zeros((SIZE, SIZE), np.uint8)
    for x0, y0, x1, y1 in box_pixels(boxes, rule):
        gt[y0:y1, x0:x1] = 1
    return gt


def gt_maps(boxes_per_sample: Sequence[Sequence], rule: str) -> np.ndarray:
    """``[B, 224, 224]`` uint8 ground truth of a batch (one box list per sample)."""
    return np.stack([gt_map(b, rule) for b in boxes_per_sample]) if len(boxes_per_sample) else \
        np.zeros((0, SIZE, SIZE), np.uint8)


def unpad_boxes(boxes: np.ndarray, n_boxes: Sequence[int]) -> list[np.ndarray]:
    """Box lists from a padded ``[B, K, 4]`` array and the per-sample counts."""
    return [np.asarray(b[:int(n)], np.float64) for b, n in zip(boxes, n_boxes)]


# -- the per-sample IoU and dataset curves -------------------------------------------------------------
def ciou_counts(mask: np.ndarray, gt: np.ndarray) -> dict[str, np.ndarray]:
    """``inter = sum(mask * gt)``, ``union = sum(gt) + sum(mask * (gt == 0))``, ``ciou = inter /
    union`` (float64; 0/0 is NaN) per sample, for a binary GT."""
    # explicit pixel count: reshape(0, -1) is ambiguous, and an empty batch must give empty columns
    m = mask.reshape(len(mask), int(np.prod(mask.shape[1:])))
    g = np.asarray(gt).reshape(len(mask), int(np.prod(mask.shape[1:]))) != 0
    inter = np.count_nonzero(m & g, axis=1).astype(np.float64)
    union = np.count_nonzero(g, axis=1) + np.count_nonzero(m & ~g, axis=1).astype(np.float64)
    with np.errstate(invalid="ignore", divide="ignore"):
        return {"ciou": inter / union, "inter": inter, "union": union}


def check_gt(gt, n: int) -> np.ndarray:
    g = np.asarray(to_numpy(gt))
    if g.shape != (n, SIZE, SIZE):
        raise ValueError(f"ground truth must be [{n}, {SIZE}, {SIZE}], got {g.shape}")
    if not np.all((g == 0) | (g == 1)):
        raise ValueError("native evaluators score binary ground truth (VGG-SS-style box unions)")
    return g


def rate(values: np.ndarray, threshold: float = 0.5) -> float:
    """``sum(v >= threshold) / n`` (NaN fails); NaN for no samples."""
    return float(success_rate(values, threshold))


def auc(values: np.ndarray) -> float:
    """21-point AUC (grid ``0.05 * i``, trapezoid as scikit-learn's ``auc``); NaN fails every t."""
    return float(auc_21(values)) if len(values) else float("nan")
