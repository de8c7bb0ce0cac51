"""Overlap measures on 224 x 224 masks: consensus IoU with the GT, pIA, IoU between two masks.

Every function takes boolean masks ``[B, H, W]`` (or flattened ``[B, P]``) and returns float64
``[B]`` per-sample values; counts are exact integers, so results do not depend on summation
order.
"""

from __future__ import annotations

import numpy as np

from ._array import Array, as_float64, count, flat, is_torch


class GroundTruth:
    """Per-batch ground-truth summary reused by every IoU of the batch.

    Args:
        gt: ``[B, H, W]`` ground-truth map with values in [0, 1]: binary for VGG-SS / IS3,
            {0, 0.5, 1} consensus weights for Flickr.
    Attributes:
        nonzero: bool ``[B, P]`` (``gt != 0``); mass: float64 ``[B]`` (``sum gt``);
        binary: True when every value is 0 or 1 (fast count path).

    Examples:
    >>> import numpy as np
    >>> gt = np.zeros((1, 4, 4)); gt[0, :2, :2] = 1; gt[0, 2, :2] = 0.5   # Flickr-style weights
    >>> mask = np.zeros((1, 4, 4), bool); mask[0, :3, :2] = True
    >>> GroundTruth(gt).ciou(mask)      # (4 + 2 * 0.5) / (sum G = 5 + 0 pixels outside)
    array([1.])
    """

    def __init__(self, gt: Array):
        g = as_float64(flat(gt))
        self.values = g
        self.nonzero = g != 0
        self.mass = g.sum(-1)
        if is_torch(g):
            self.binary = bool(((g == 0) | (g == 1)).all())
        else:
            self.binary = bool(np.all((g == 0) | (g == 1)))
        self.pixels = count(self.nonzero)

    def ciou(self, mask: Array, mask_size: Array | None = None) -> Array:
        """Consensus IoU ``sum(M*G) / (sum G + sum(M*[G=0]))`` per sample (docs/metrics.md §2.2).

        Args:
            mask: bool ``[B, H, W]`` or ``[B, P]``; mask_size: optional precomputed ``count(mask)``.
        Returns:
            float64 ``[B]`` in [0, 1]; **NaN** when both the GT and the mask are empty (0/0),
            0 when only the GT is empty. Callers apply their protocol's NaN rule.
        """
        m = flat(mask)
        if self.binary:
            return self.ciou_counts(count(m & self.nonzero), count(m) if mask_size is None else mask_size)
        inter = (self.values * m).sum(-1)
        background = as_float64(count(m & ~self.nonzero))
        return _divide(inter, self.mass + background)

    def ciou_counts(self, inter: Array, size: Array) -> Array:
        """:meth:`ciou` of a binary ground truth from the pixel counts of each mask: ``inter``
        (pixels of the mask on the GT) and ``size`` (pixels of the mask), int ``[..., B]`` (the
        same arithmetic, so the same floats as from the masks)."""
        inter = as_float64(inter)
        return _divide(inter, self.mass + (as_float64(size) - inter))


def ciou(mask: Array, gt: Array) -> Array:
    """Consensus IoU of ``mask`` ``[B,H,W]`` (bool) against ``gt`` ``[B,H,W]`` -> float64 ``[B]``
    (NaN when both are empty). See :meth:`GroundTruth.ciou`.

    Examples:
    >>> import numpy as np
    >>> gt = np.zeros((1, 4, 4)); gt[0, :2, :2] = 1               # a 2 x 2 object
    >>> mask = np.zeros((1, 4, 4), bool); mask[0, :2, :3] = True  # 6 pixels, 4 of them on it
    >>> ciou(mask, gt)                                            # 4 / (4 + 2 outside the object)
    array([0.66666667])
    """
    if tuple(mask.shape) != tuple(gt.shape):
        raise ValueError(f"mask shape {tuple(mask.shape)} != gt shape {tuple(gt.shape)}")
    return GroundTruth(gt).ciou(mask)


def pia(mask: Array) -> Array:
    """Proportion of image area: ``sum(mask) / (H*W)``, float64 ``[B]`` in [0, 1].

    Examples:
    >>> import numpy as np
    >>> mask = np.zeros((1, 4, 4), bool); mask[0, :2, :3] = True
    >>> pia(mask)                                                 # 6 of 16 pixels
    array([0.375])
    """
    m = flat(mask)
    return as_float64(count(m)) / m.shape[1]


def map_iou(a: Array, b: Array) -> Array:
    """IoU between two masks with vssl_eval's empty rule: both empty -> 1, one empty -> 0.

    Args:
        a, b: bool ``[B, H, W]`` (or ``[B, P]``), same shape.
    Returns:
        float64 ``[B]`` in [0, 1], never NaN.

    Examples:
    >>> import numpy as np
    >>> a = np.zeros((2, 4, 4), bool); a[0, :2, :3] = True
    >>> b = np.zeros((2, 4, 4), bool); b[0, :2, :2] = True
    >>> map_iou(a, b)                                             # 4 / 6; two empty masks agree
    array([0.66666667, 1.        ])
    """
    if tuple(a.shape) != tuple(b.shape):
        raise ValueError(f"mask shapes differ: {tuple(a.shape)} vs {tuple(b.shape)}")
    a, b = flat(a), flat(b)
    return map_iou_counts(count(a), count(b), count(a & b))


def map_iou_counts(na: Array, nb: Array, nab: Array) -> Array:
    """:func:`map_iou` from counts ``|A|``, ``|B|``, ``|A and B|`` (int ``[B]``)."""
    na, nb, nab = as_float64(na), as_float64(nb), as_float64(nab)
    union = na + nb - nab
    both_empty = union == 0
    if is_torch(union):
        import torch

        return torch.where(both_empty, torch.ones_like(union), nab / torch.where(both_empty, torch.ones_like(union), union))
    return np.where(both_empty, 1.0, nab / np.where(both_empty, 1.0, union))


def _divide(num: Array, den: Array) -> Array:
    """``num / den`` with IEEE semantics (0/0 -> NaN, silently)."""
    if is_torch(num):
        return num / den
    with np.errstate(invalid="ignore", divide="ignore"):
        return num / den
