"""Mo & Morgado (SLAVC ``EvaluatorFull``) detection-style metrics: confidence, AP, max-F1, Precision.

A sample is (confidence, cIoU, is_positive, area). Positives are samples with sounding, visible
objects (n_boxes > 0); negatives have no GT. Decision at confidence threshold ``c`` and IoU
threshold ``theta`` (docs/metrics.md §4.4): detected = ``conf >= c``; negative detected -> FP;
positive detected with cIoU >= theta -> TP, with cIoU < theta (or NaN) -> FP; positive not
detected -> FN. Precision := 1 when TP + FP = 0, recall := 1 when TP + FN = 0.
"""

from __future__ import annotations

import numpy as np

from ._array import Array, as_float64, flat, is_torch, to_numpy
from .curves import auc as auc_21

#: SLAVC's threshold strides (docs/metrics.md §4.5-4.6): AP keeps every k-th confidence, k = max(1, n // AP_STEP);
#: max-F1 every m-th, m = max(1, n // F1_STEP).
AP_STEP, F1_STEP = 200, 10
#: Size bins by GT area (pixels on the 224 grid), half-open, positives only (docs/metrics.md §4.9).
SIZE_BINS = {"small": (0.0, 32.0 ** 2), "medium": (32.0 ** 2, 96.0 ** 2),
             "large": (96.0 ** 2, 144.0 ** 2), "huge": (144.0 ** 2, 10000.0 ** 2)}


def confidence(maps: Array) -> np.ndarray:
    """Mean of the top quarter (``HW // 4`` largest values) of each map.

    Args:
        maps: ``[B, H, W]`` map on a *fixed* (not per-image normalized) scale.
    Returns:
        float64 ``[B]``. Equivariant to affine maps ``a*M + b`` with a > 0, so AP/F1 built on it
        are invariant to any fixed-range normalization.

    Examples:
    >>> import numpy as np
    >>> confidence(np.arange(16.0).reshape(1, 4, 4))              # mean of 12, 13, 14, 15
    array([13.5])
    """
    x = flat(maps)
    hw = x.shape[1]
    q = hw // 4
    if is_torch(x):
        return to_numpy(as_float64(x.topk(q, dim=-1).values).mean(-1))
    top = np.partition(x, hw - q, axis=-1)[:, hw - q:]
    return top.astype(np.float64).mean(-1)


def _counts(conf, ciou, positive, thresholds, theta):
    """TP, FP, FN ``[J]`` at each confidence threshold ``[J]``."""
    det = conf[None, :] >= thresholds[:, None]  # [J, n]
    good = positive & (ciou >= theta)  # NaN -> not good
    tp = np.count_nonzero(det & good[None], axis=1)
    fp = np.count_nonzero(det & ~good[None], axis=1)
    fn = np.count_nonzero(~det & positive[None], axis=1)
    return tp, fp, fn


def precision_recall(conf, ciou, positive, thresholds, theta=0.5):
    """Precision and recall ``[J]`` at each confidence threshold (rule in the module docstring)."""
    conf, ciou = np.asarray(conf, np.float64), np.asarray(ciou, np.float64)
    positive = np.asarray(positive, bool)
    thresholds = np.atleast_1d(np.asarray(thresholds, np.float64))
    tp, fp, fn = _counts(conf, ciou, positive, thresholds, theta)
    with np.errstate(invalid="ignore", divide="ignore"):
        p = np.where(tp + fp == 0, 1.0, tp / np.maximum(tp + fp, 1))
        r = np.where(tp + fn == 0, 1.0, tp / np.maximum(tp + fn, 1))
    return p, r


def average_precision(conf, ciou, positive, theta=0.5) -> float:
    """SLAVC's custom AP (docs/metrics.md §4.5), *not* scikit-learn's.

    Thresholds: confidences sorted ascending, largest dropped, reversed, every k-th kept from the
    first (k = max(1, n // 200)). Envelope P^_j = max over this and lower thresholds; AP =
    sum_j P^_j (R_{j+1} - R_j) (left-endpoint, no segment from recall 0). NaN if n < 2.

    Examples:
    >>> conf, ious = [0.9, 0.8, 0.3, 0.2], [0.7, 0.2, 0.6, 0.0]
    >>> # thresholds 0.8, 0.3, 0.2: (P, R) = (1/2, 1/2), (2/3, 1), (1/2, 1); AP = 2/3 * (1 - 1/2)
    >>> round(average_precision(conf, ious, positive=[True, True, True, False]), 6)
    0.333333
    """
    conf = np.asarray(conf, np.float64)
    n = conf.size
    if n < 2:
        return float("nan")
    k = max(1, n // AP_STEP)
    thr = np.sort(conf)[:-1][::-1][::k]
    p, r = precision_recall(conf, ciou, positive, thr, theta)
    env = np.maximum.accumulate(p[::-1])[::-1]
    return float(np.sum(env[:-1] * np.diff(r)))


def f1_curve(conf, ciou, positive, theta=0.5) -> np.ndarray:
    """F1 at thresholds = ascending confidences, every m-th from the minimum, m = max(1, n//10)."""
    conf = np.asarray(conf, np.float64)
    if conf.size == 0:
        return np.array([np.nan])
    m = max(1, conf.size // F1_STEP)
    thr = np.sort(conf)[::m]
    p, r = precision_recall(conf, ciou, positive, thr, theta)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(p + r == 0, 0.0, 2 * p * r / np.where(p + r == 0, 1.0, p + r))


def max_f1(conf, ciou, positive, theta=0.5) -> float:
    """Maximum of :func:`f1_curve` (the published "max-F1").

    Examples:
    >>> conf, ious = [0.9, 0.8, 0.3, 0.2], [0.7, 0.2, 0.6, 0.0]
    >>> # at threshold 0.3: 3 detections, 2 well localised (P = 2/3), every positive found (R = 1)
    >>> round(max_f1(conf, ious, positive=[True, True, True, False]), 6)
    0.8
    """
    return float(np.max(f1_curve(conf, ciou, positive, theta)))


def precision_all_detected(ciou, positive, theta=0.5) -> float:
    """Precision with every sample detected (threshold -1000): TP / n. On positives only this is
    the localization accuracy (cIoU success rate), a.k.a. ``Precision-visible`` / LocAcc.

    Examples:
    >>> precision_all_detected([0.7, 0.2, 0.6, 0.0], positive=[True, True, True, False])
    0.5
    """
    ciou = np.asarray(ciou, np.float64)
    if ciou.size == 0:
        return float("nan")
    return float(np.count_nonzero(np.asarray(positive, bool) & (ciou >= theta)) / ciou.size)


def subset_masks(positive, area, neg_type=None) -> dict[str, np.ndarray]:
    """Boolean masks of the standard subsets: all, visible (positives), size bins (positives by
    GT area), and ``neg_<type>`` = positives plus negatives of one type (our per-type extension)."""
    positive = np.asarray(positive, bool)
    area = np.asarray(area, np.float64)
    out = {"all": np.ones_like(positive), "visible": positive.copy()}
    for name, (lo, hi) in SIZE_BINS.items():
        out[name] = positive & (area >= lo) & (area < hi)
    if neg_type is not None:
        neg_type = np.asarray(neg_type)
        for t in sorted(set(neg_type[~positive].tolist())):
            out[f"neg_{t}"] = positive | (neg_type == t)
    return out


def extended_metrics(conf, ciou, positive, area, neg_type=None, thetas=(0.5, 0.75)) -> dict[str, float]:
    """All Mo & Morgado keys: ``AP-<subset>@<100θ>``, ``maxF1-<subset>@..``, ``Precision-..``,
    ``AUC-<subset>@..`` (AUC over the subset's positives). Values are fractions; NaN when the
    subset is empty.

    Examples:
    >>> m = extended_metrics(conf=[0.9, 0.8, 0.3, 0.2], ciou=[0.72, 0.22, 0.62, 0.0],
    ...                      positive=[True, True, True, False], area=[3000, 12000, 30000, 0])
    >>> [round(m[k], 6) for k in ("AP-all@50", "maxF1-all@50", "Precision-all@50", "Precision-visible@50")]
    [0.333333, 0.8, 0.5, 0.666667]
    """
    conf, ciou = np.asarray(conf, np.float64), np.asarray(ciou, np.float64)
    positive = np.asarray(positive, bool)
    out: dict[str, float] = {}
    for name, m in subset_masks(positive, area, neg_type).items():
        for theta in thetas:
            tag = f"{name}@{int(round(theta * 100))}"
            if not m.any():
                for key in ("AP", "maxF1", "Precision", "AUC"):
                    out[f"{key}-{tag}"] = float("nan")
                continue
            c, i, p = conf[m], ciou[m], positive[m]
            out[f"AP-{tag}"] = average_precision(c, i, p, theta)
            out[f"maxF1-{tag}"] = max_f1(c, i, p, theta)
            out[f"Precision-{tag}"] = precision_all_detected(i, p, theta)
            out[f"AUC-{tag}"] = float(auc_21(i[p])) if p.any() else float("nan")
    return out


def _rows_counts_at(conf: np.ndarray, good: np.ndarray, positive: np.ndarray):
    """Per row of ``conf`` ``[P, m]``: the confidences sorted descending, and, for each position q
    of that order, how many entries are ``>= conf_sorted[q]`` (ties included) and how many of
    those are good / positive (cumulative counts at the end of q's tie block)."""
    order = np.argsort(-conf, axis=1, kind="stable")
    cs = np.take_along_axis(conf, order, axis=1)
    g = np.cumsum(np.take_along_axis(good, order, axis=1), axis=1)
    p = np.cumsum(np.take_along_axis(positive, order, axis=1), axis=1)
    m = conf.shape[1]
    last = np.ones_like(cs, dtype=bool)
    last[:, :-1] = cs[:, :-1] != cs[:, 1:]
    idx = np.where(last, np.arange(m)[None, :], m)
    end = np.minimum.accumulate(idx[:, ::-1], axis=1)[:, ::-1]  # last index of each tie block
    rows = np.arange(len(conf))[:, None]
    return end + 1, g[rows, end], p[rows, end]


def _rows_pr(det, tp, pos_hit, n_pos):
    fp, fn = det - tp, n_pos[:, None] - pos_hit
    with np.errstate(invalid="ignore", divide="ignore"):
        prec = np.where(tp + fp == 0, 1.0, tp / np.maximum(tp + fp, 1))
        rec = np.where(tp + fn == 0, 1.0, tp / np.maximum(tp + fn, 1))
    return prec, rec


def ap_f1_rows(conf, ciou, positive, theta=0.5) -> tuple[np.ndarray, np.ndarray]:
    """:func:`average_precision` and :func:`max_f1` of each row of ``[P, m]`` inputs at once (the
    bootstrap's draws), by sorting instead of comparing every threshold with every entry; equal to
    the one-row functions (tested). Returns two float64 ``[P]``."""
    conf = np.asarray(conf, np.float64)
    positive = np.asarray(positive, bool)
    good = positive & (np.asarray(ciou, np.float64) >= theta)
    n_rows, m = conf.shape
    if m < 2:
        return np.full(n_rows, np.nan), np.full(n_rows, np.nan)
    counts, tp_all, pos_all = _rows_counts_at(conf, good, positive)
    n_pos = positive.sum(axis=1)
    # AP thresholds: descending order from position 1 (the largest dropped), every k-th
    q = np.arange(1, m, max(1, m // AP_STEP))
    prec, rec = _rows_pr(counts[:, q], tp_all[:, q], pos_all[:, q], n_pos)
    env = np.maximum.accumulate(prec[:, ::-1], axis=1)[:, ::-1]
    ap = np.sum(env[:, :-1] * np.diff(rec, axis=1), axis=1)
    # F1 thresholds: ascending order, every step-th from the minimum = descending position m-1-i
    q = (m - 1) - np.arange(0, m, max(1, m // F1_STEP))
    prec, rec = _rows_pr(counts[:, q], tp_all[:, q], pos_all[:, q], n_pos)
    with np.errstate(invalid="ignore", divide="ignore"):
        f1 = np.where(prec + rec == 0, 0.0, 2 * prec * rec / np.where(prec + rec == 0, 1.0, prec + rec))
    return ap, f1.max(axis=1)
