"""Dataset-level curves over per-sample values: success rate, 21-point AUC, AOC, grouped iIoU/iAUC.

Inputs are 1-d float64 numpy arrays of per-sample values (accumulated scalars, not maps).
Outputs are fractions in [0, 1] (protocols scale them).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

#: The official 21-point grid, built as the floating product ``0.05 * i`` (NOT ``i / 20``):
#: 0.05*3 = 0.15000000000000002, so an IoU of exactly 0.15 fails at t_3 (docs/metrics.md §3.2).
GRID = np.array([0.05 * i for i in range(21)], dtype=np.float64)


def trapezoid(y: np.ndarray, x: np.ndarray = GRID) -> np.ndarray:
    """Trapezoid rule over the last axis: ``sum(diff(x) * (y[1:] + y[:-1]) / 2)``.

    Written in the same operation order as ``numpy.trapezoid`` (what ``sklearn.metrics.auc``
    calls), so results are bit-identical to the reference for the same ``y``.

    Examples:
    >>> import numpy as np
    >>> float(trapezoid(np.array([0.0, 1.0, 1.0]), np.array([0.0, 0.5, 1.0])))
    0.75
    """
    y = np.asarray(y, dtype=np.float64)
    return np.sum(np.diff(x) * (y[..., 1:] + y[..., :-1]) / 2.0, axis=-1)


def success_curve(values: np.ndarray, grid: np.ndarray = GRID) -> np.ndarray:
    """``y_i = #{v >= grid_i} / n`` for each grid point; NaN never satisfies ``>=`` (a failure).

    Args:
        values: ``[n]`` (or ``[..., n]``) per-sample IoUs. Returns ``[21]`` (or ``[..., 21]``).
    """
    v = np.asarray(values, dtype=np.float64)
    n = v.shape[-1]
    if n == 0:
        return np.full(v.shape[:-1] + grid.shape, np.nan)
    return np.count_nonzero(v[..., None, :] >= grid[:, None], axis=-1) / n


def success_rate(values: np.ndarray, threshold: float = 0.5) -> float:
    """Fraction of samples with IoU ``>= threshold`` (NaN counts as a failure); NaN if empty.

    Examples:
    >>> float(success_rate([0.2, 0.5, 0.7, float("nan")]))       # 0.5 and 0.7 pass; NaN fails
    0.5
    """
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        return float("nan")
    return np.count_nonzero(v >= threshold, axis=-1) / v.shape[-1]


def auc(values: np.ndarray) -> float:
    """Area under the success curve on :data:`GRID` (trapezoid), in [0, 1].

    All-zero IoUs give 0.025 (only y_0 = 1); a NaN entry is a failure at every t, even t = 0.

    Examples:
    >>> float(auc([0.0, 0.0]))       # only t = 0 is reached: half of the first of 20 intervals
    0.025
    >>> round(float(auc([0.5])), 6)  # reached up to t = 0.5: 10 full intervals + half of one
    0.525
    """
    return trapezoid(success_curve(values))


def aoc(pia_values: np.ndarray) -> float:
    """Area over the curve for negatives: ``y_i = #{pIA <= grid_i} / n``, trapezoid, in [0, 1].

    All pIA = 0 gives 1; all pIA = 1 gives 0.025 (docs/metrics.md §3.3, docs/protocols.md §5.3).

    Examples:
    >>> float(aoc([0.0, 0.0])), round(float(aoc([1.0])), 6)   # 1 - 0.95 is not 0.05 in floats
    (1.0, 0.025)
    """
    v = np.asarray(pia_values, dtype=np.float64)
    if v.shape[-1] == 0:
        return float("nan")
    y = np.count_nonzero(v[..., None, :] <= GRID[:, None], axis=-1) / v.shape[-1]
    return trapezoid(y)


def _group_index(groups: Sequence) -> tuple[np.ndarray, int]:
    _, inverse = np.unique(np.asarray(groups), return_inverse=True)
    inverse = inverse.reshape(-1)
    return inverse, int(inverse.max()) + 1 if inverse.size else 0


def instance_curve(values: np.ndarray, groups: Sequence, grid: np.ndarray = GRID,
                   nan_propagates: bool = False) -> np.ndarray:
    """Per-threshold fraction of groups whose *every* entry has IoU ``>= t`` (SSL-Align iIoU).

    Args:
        values: ``[n]`` per-entry IoUs. groups: ``[n]`` hashable group key per entry (scene id).
        grid: thresholds ``[T]``.
        nan_propagates: False (clean): NaN is a failure. True (vssl_eval): a NaN entry makes
            its group NaN, and hence the mean NaN, as the reference's in-place binarization does.
    Returns:
        ``[T]`` fractions of successful groups.
    """
    v = np.asarray(values, dtype=np.float64)
    if len(groups) != v.shape[0]:
        raise ValueError(f"values shape {v.shape} and groups length {len(groups)} differ")
    if v.size == 0:
        return np.full(grid.shape, np.nan)
    ind = (v[None, :] >= grid[:, None]).astype(np.float64)  # [T, n]
    if nan_propagates:
        ind[:, np.isnan(v)] = np.nan
    inv, n_groups = _group_index(groups)
    order = np.argsort(inv, kind="stable")
    starts = np.flatnonzero(np.r_[True, np.diff(inv[order]) != 0])
    group_min = np.minimum.reduceat(ind[:, order], starts, axis=1)  # [T, G]
    return group_min.mean(axis=1)


def instance_iou(values: np.ndarray, groups: Sequence, threshold: float = 0.5,
                 nan_propagates: bool = False) -> float:
    """iIoU: fraction of groups whose every entry reaches ``threshold`` (see :func:`instance_curve`).

    Examples:
    >>> instance_iou([0.6, 0.4, 0.7, 0.8], groups=["a", "a", "b", "b"])   # scene a has a miss
    0.5
    """
    return float(instance_curve(values, groups, np.array([threshold]), nan_propagates)[0])


def instance_auc(values: np.ndarray, groups: Sequence, nan_propagates: bool = False) -> float:
    """iAUC: trapezoid area of :func:`instance_curve` on :data:`GRID`.

    Examples:
    >>> # scene a (min 0.4) passes t <= 0.4, scene b (min 0.72) passes t <= 0.7: the curve is
    >>> # 1 up to 0.4, 1/2 up to 0.7, 0 after; trapezoids: 0.4 + 0.0375 + 0.125 + 0.0125
    >>> round(instance_auc([0.6, 0.4, 0.72, 0.8], groups=["a", "a", "b", "b"]), 6)
    0.575
    """
    return float(trapezoid(instance_curve(values, groups, GRID, nan_propagates)))
