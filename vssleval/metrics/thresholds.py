"""Map thresholds: upper median, adaptive (ground-truth area), fixed and per-model universal.

All rules binarize with a **strict** ``>`` (LVS / SSL-Align / vssl_eval convention), so the
upper-median rule selects ``HW/2 - 1`` pixels of a map without ties, and ties at the threshold
(the constant border bands of OpenCV upsampling) select fewer.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from ._array import Array, count, flat, is_torch, kth_smallest, like, sorted_take


def upper_median_threshold(maps: Array) -> Array:
    """Value at ascending sorted index ``HW // 2`` of each map (the upper median).

    Args:
        maps: ``[B, H, W]`` (or ``[B, H*W]``) float array, any range.
    Returns:
        ``[B]`` thresholds in the maps' dtype. Invariant to any strictly increasing transform of
        the map (it is a rank statistic). Uses selection (``np.partition`` / ``torch.kthvalue``)
        on the whole batch, not a per-sample sort.

    Examples:
    >>> import numpy as np
    >>> upper_median_threshold(np.arange(16.0).reshape(1, 4, 4))  # sorted index 16 // 2 = 8
    array([8.])
    """
    x = flat(maps)
    return kth_smallest(x, x.shape[1] // 2)


def gt_pixel_count(gt: Array) -> Array:
    """Number of non-zero ground-truth pixels ``g`` per sample: ``[B, H, W]`` -> int64 ``[B]``."""
    return count(flat(gt) != 0)


def adaptive_threshold(maps: Array, gt: Array) -> Array:
    """SSL-Align's adaptive threshold: value at ascending sorted index ``HW - g``.

    ``g`` = number of non-zero GT pixels; an empty GT uses ``g = HW // 2`` (as the reference).
    With strict ``>`` this selects ``g - 1`` pixels (no ties); a full-image GT selects all but
    the minimum.

    Args:
        maps: ``[B, H, W]`` float array. gt: ``[B, H, W]`` (values >= 0; non-zero = object).
    Returns:
        ``[B]`` thresholds in the maps' dtype.

    Examples:
    >>> import numpy as np
    >>> gt = np.zeros((1, 4, 4)); gt[0, :2, :2] = 1               # g = 4 object pixels
    >>> adaptive_threshold(np.arange(16.0).reshape(1, 4, 4), gt)  # sorted index 16 - 4 = 12
    array([12.])
    """
    x = flat(maps)
    hw = x.shape[1]
    g = gt_pixel_count(gt)
    if is_torch(g):
        import torch

        g = torch.where(g == 0, torch.full_like(g, hw // 2), g)
    else:
        g = np.where(g == 0, hw // 2, g)
    return sorted_take(x, hw - g)


def binarize(maps: Array, threshold: Any) -> Array:
    """Strict binarization ``maps > threshold``.

    Args:
        maps: ``[B, H, W]`` float array.
        threshold: a number (compared in the maps' dtype, as numpy/torch do for Python floats)
            or a ``[B]`` array (one threshold per map).
    Returns:
        bool ``[B, H, W]``.

    Examples:
    >>> import numpy as np
    >>> binarize(np.array([[[0.2, 0.5], [0.7, 0.9]]]), 0.5)       # strict: 0.5 itself is out
    array([[[False, False],
            [ True,  True]]])
    """
    if np.ndim(threshold) == 0 and not is_torch(threshold):
        return maps > threshold
    t = threshold if (is_torch(threshold) or not is_torch(maps)) else like(maps, threshold)
    return maps > t.reshape((-1,) + (1,) * (maps.ndim - 1))


@dataclass(frozen=True)
class UniversalThresholds:
    """vssl_eval's per-model constants on the raw map scale (docs/protocols.md §4.1).

    ``max10`` is ``1.1 * max`` computed before rounding; ``maxq3`` has no derivation in the
    reference (see :mod:`vssleval.metrics.calibration` for a data-driven replacement).

    Examples:
    >>> UniversalThresholds.from_mapping({"max": 0.6041, "max10": [0.6645], "maxq3": 0.6382})
    UniversalThresholds(max=0.6041, max10=0.6645, maxq3=0.6382)
    """

    max: float
    max10: float
    maxq3: float

    @classmethod
    def from_mapping(cls, m: Mapping[str, Any]) -> "UniversalThresholds":
        """Build from a config block ``{max: .., max10: .., maxq3: ..}`` (``thresholds:`` in
        ``configs/models/<model>.yaml``). 1-tuples (SSL-TIE's reference quirk) are unwrapped."""
        def val(k: str) -> float:
            v = m[k]
            if isinstance(v, (list, tuple)):
                if len(v) != 1:
                    raise ValueError(f"threshold {k!r} must be a number, got {v!r}")
                v = v[0]
            return float(v)
        missing = [k for k in ("max", "max10", "maxq3") if k not in m]
        if missing:
            raise ValueError(f"universal thresholds missing keys {missing} in {dict(m)!r}")
        return cls(val("max"), val("max10"), val("maxq3"))

    def as_dict(self) -> dict[str, float]:
        return {"max": self.max, "max10": self.max10, "maxq3": self.maxq3}
