"""Raw-map extremes, their summary statistics, and the F-score used by vssl_eval."""

from __future__ import annotations

import numpy as np

from ._array import Array, as_float64, rows_max, rows_min, to_numpy


def extremes(raw: Array | None, known: Array | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Per-map maximum and minimum of raw low-resolution maps ``[B, h, w]`` -> two float64 ``[B]``.

    Taken before any upsampling, on the model's raw scale (docs/protocols.md §4.6). NaN in a map makes
    its max/min NaN (callers count and report non-finite maps). ``known``: float ``[B, 2]``, the
    (max, min) of the raw maps recorded where the maps at hand are not the raw maps (a store that
    keeps them resized, docs/models.md §2.8); it is returned instead and ``raw`` is not read.

    Examples:
    >>> import numpy as np
    >>> extremes(np.array([[[0.1, 0.9], [0.4, 0.3]]]))
    (array([0.9]), array([0.1]))
    >>> extremes(None, np.array([[0.9, 0.1]], np.float32))[0].tolist() == [float(np.float32(0.9))]
    True
    """
    if known is not None:
        pair = np.asarray(to_numpy(known), dtype=np.float64)
        if pair.ndim != 2 or pair.shape[1] != 2:
            raise ValueError(f"known extremes must be [B, 2] (max, min), got shape {pair.shape}")
        return pair[:, 0].copy(), pair[:, 1].copy()
    return to_numpy(as_float64(rows_max(raw))), to_numpy(as_float64(rows_min(raw)))


def summary(values: np.ndarray) -> dict[str, float]:
    """Mean, median, first and third quartiles (numpy 'linear' quantiles) of a 1-d array.

    Examples:
    >>> summary([1.0, 2.0, 3.0, 4.0])
    {'mean': 2.5, 'median': 2.5, 'q1': 1.75, 'q3': 3.25}
    """
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        return {"mean": float("nan"), "median": float("nan"), "q1": float("nan"), "q3": float("nan")}
    return {"mean": float(np.mean(v)), "median": float(np.median(v)),
            "q1": float(np.quantile(v, 0.25)), "q3": float(np.quantile(v, 0.75))}


def f_score(a: float, b: float) -> float:
    """Harmonic mean ``2ab / (a + b)`` (NaN when a = b = 0, as the reference).

    Examples:
    >>> round(f_score(0.5, 1.0), 6)
    0.666667
    """
    with np.errstate(invalid="ignore", divide="ignore"):
        return float(np.float64(2 * a * b) / np.float64(a + b))
