"""Threshold calibration from raw-map maxima (no reference does this; vssl_eval hard-codes them).

With a universal threshold ``t`` and strict ``>`` binarization, a negative map highlights
nothing (pIA = 0) exactly when its raw maximum is ``<= t``, and a positive map highlights
something exactly when its maximum is ``> t``. So "positive vs negative audio by max value" is
the detection problem behind every universal-threshold metric:

* :func:`auroc` - how separable the two max distributions are (threshold-free).
* :func:`calibrate_threshold` - a threshold derived by a documented rule on a calibration split.
* :func:`transfer` - that threshold applied to another dataset (TPR, FPR, balanced accuracy).
"""

from __future__ import annotations

import numpy as np

from ._array import count_above

RULES = ("youden", "eer")
#: Distance of the two outer candidate thresholds below the smallest and above the largest observed
#: maximum (docs/metrics.md §5): no candidate is a data value, so ties cannot flip under ``>``.
OUTER_MARGIN = 1.0


def auroc(pos_scores, neg_scores) -> float:
    """Area under the ROC of "positive if score is larger": P(pos > neg) + 0.5 P(pos == neg).

    Args: 1-d arrays of scores (e.g. raw maxima); NaN scores are dropped (and should be counted
    by the caller). Returns a value in [0, 1], NaN if either side is empty.

    Examples:
    >>> auroc([0.9, 0.8], [0.5, 0.8])      # 3 wins and 1 tie in 4 pairs
    0.875
    """
    p = np.asarray(pos_scores, np.float64)
    n = np.sort(np.asarray(neg_scores, np.float64))
    p, n = p[~np.isnan(p)], n[~np.isnan(n)]
    if p.size == 0 or n.size == 0:
        return float("nan")
    below = np.searchsorted(n, p, side="left")
    ties = np.searchsorted(n, p, side="right") - below
    return float((below.sum() + 0.5 * ties.sum()) / (p.size * n.size))


def auroc_rows(pos_scores, neg_scores) -> np.ndarray:
    """:func:`auroc` of each row of ``pos [P, n]`` against ``neg [P, m]`` at once (the bootstrap's
    draws), from average ranks (Mann-Whitney U, ties count 1/2); rows holding NaN take the
    one-row function (which drops NaN). Returns float64 ``[P]``."""
    from scipy.stats import rankdata

    p = np.asarray(pos_scores, np.float64)
    q = np.asarray(neg_scores, np.float64)
    n, m = p.shape[1], q.shape[1]
    if n == 0 or m == 0:
        return np.full(len(p), np.nan)
    ranks = rankdata(np.concatenate([p, q], axis=1), method="average", axis=1)
    out = (ranks[:, :n].sum(axis=1) - n * (n + 1) / 2) / (n * m)
    bad = np.isnan(p).any(axis=1) | np.isnan(q).any(axis=1)
    for i in np.flatnonzero(bad):
        out[i] = auroc(p[i], q[i])
    return out


def auroc_resampled(pos_scores, neg_scores, rows) -> np.ndarray:
    """``auroc_rows(pos[rows], concatenate([neg[rows] for neg in neg_scores], axis=1))`` for the
    bootstrap's row sets ``rows`` ``[P, k]`` (indices into the ``n`` samples), without building them.

    ``pos_scores`` ``[n]`` and each of ``neg_scores`` ``[n]`` belong to the same samples. A row set
    only repeats samples, so its Mann-Whitney U is ``sum_i c_i (#{neg < p_i} + #{neg = p_i} / 2)``
    with ``c`` the times each sample is drawn and the negatives counted with the same
    multiplicities: cumulative counts in each negative's sorted order, read at the positions of
    the positive scores (found once). O(P n) instead of ranking ``P`` rows of ``k (1 + X)`` values;
    the counts are exact, so the values are :func:`auroc_rows`'s bit for bit (tested). Scores
    holding NaN take :func:`auroc_rows` (which drops NaN per row).
    """
    p = np.asarray(pos_scores, np.float64)
    qs = [np.asarray(q, np.float64) for q in neg_scores]
    rows = np.asarray(rows)
    n_rows, k = rows.shape
    if np.isnan(p).any() or any(np.isnan(q).any() for q in qs) or k == 0 or not qs:
        return auroc_rows(p[rows], np.concatenate([q[rows] for q in qs], axis=1) if qs else np.zeros((n_rows, 0)))
    n = len(p)
    counts = np.bincount((rows + n * np.arange(n_rows)[:, None]).ravel(), minlength=n_rows * n)
    counts = counts.reshape(n_rows, n).astype(np.float64)
    u = np.zeros(n_rows)
    for q in qs:
        order = np.argsort(q, kind="stable")
        q_sorted = q[order]
        below = np.searchsorted(q_sorted, p, side="left")
        upto = np.searchsorted(q_sorted, p, side="right")
        cum = np.zeros((n_rows, n + 1))
        np.cumsum(counts[:, order], axis=1, out=cum[:, 1:])
        less, leq = cum[:, below], cum[:, upto]
        u += (counts * (less + 0.5 * (leq - less))).sum(axis=1)
    return u / (k * (k * len(qs)))


def finite_maxima(pos_max, neg_max) -> tuple[np.ndarray, np.ndarray]:
    """The finite values of each side's maxima, as float64 (a NaN or infinite maximum, from a map
    with non-finite values, takes no part in a threshold's rates)."""
    return tuple(v[np.isfinite(v)] for v in (np.asarray(pos_max, np.float64), np.asarray(neg_max, np.float64)))


def rates_above(pos: np.ndarray, neg: np.ndarray, thresholds: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """TPR and FPR of "positive if max > t" at every threshold ``t`` ``[T]``, for finite, non-empty
    ``pos`` and ``neg`` maxima (float64 ``[P]``, ``[N]``): the fraction of each side above ``t``.

    Counted from each side sorted once (``_array.count_above``: the same integers as comparing every
    value with every threshold; a NaN threshold counts none), so a whole curve costs one sort per
    side instead of ``T x (P + N)`` comparisons."""
    thresholds = np.asarray(thresholds, np.float64)
    return tuple(count_above(v[None], thresholds)[:, 0] / v.size for v in (pos, neg))


def calibrate_threshold(pos_max, neg_max, rule: str = "youden") -> dict[str, float]:
    """Universal threshold from raw maxima of positive and negative maps on a calibration split.

    Candidates are the midpoints between consecutive distinct observed maxima (plus one below
    the smallest and one above the largest), so the threshold is never a data value and ties
    cannot flip under strict ``>``. Rules:

    * ``youden`` (default): maximize TPR - FPR (balanced accuracy); lowest candidate on ties.
    * ``eer``: minimize |FPR - (1 - TPR)| (equal error rate); lowest candidate on ties.

    Returns ``{threshold, tpr, fpr, balanced_accuracy, auroc, rule}``.

    Examples:
    >>> cal = calibrate_threshold([0.9, 0.8, 0.7], [0.5, 0.6])
    >>> round(cal["threshold"], 6), cal["tpr"], cal["fpr"], cal["balanced_accuracy"]
    (0.65, 1.0, 0.0, 1.0)
    """
    if rule not in RULES:
        raise ValueError(f"unknown calibration rule {rule!r}; expected one of {RULES}")
    pos, neg = finite_maxima(pos_max, neg_max)
    if pos.size == 0 or neg.size == 0:
        return {"threshold": float("nan"), "tpr": float("nan"), "fpr": float("nan"),
                "balanced_accuracy": float("nan"), "auroc": float("nan"), "rule": rule}
    vals = np.unique(np.concatenate([pos, neg]))
    mids = (vals[:-1] + vals[1:]) / 2 if vals.size > 1 else np.empty(0)
    cand = np.concatenate([[vals[0] - OUTER_MARGIN], mids, [vals[-1] + OUTER_MARGIN]])
    tpr, fpr = rates_above(pos, neg, cand)
    score = (tpr - fpr) if rule == "youden" else -np.abs(fpr - (1 - tpr))
    j = int(np.argmax(score))
    return {"threshold": float(cand[j]), "tpr": float(tpr[j]), "fpr": float(fpr[j]),
            "balanced_accuracy": float((tpr[j] + 1 - fpr[j]) / 2), "auroc": auroc(pos, neg), "rule": rule}


def transfer(threshold: float, pos_max, neg_max) -> dict[str, float]:
    """Apply a calibrated threshold to another dataset's maxima: TPR, FPR, balanced accuracy.

    Examples:
    >>> t = transfer(0.65, [0.9, 0.6], [0.5, 0.7])
    >>> t["tpr"], t["fpr"], t["balanced_accuracy"]
    (0.5, 0.5, 0.5)
    """
    pos, neg = finite_maxima(pos_max, neg_max)
    if pos.size == 0 or neg.size == 0:
        return {"threshold": threshold, "tpr": float("nan"), "fpr": float("nan"),
                "balanced_accuracy": float("nan"), "auroc": float("nan")}
    tpr, fpr = rates_above(pos, neg, np.array([threshold], np.float64))
    return {"threshold": float(threshold), "tpr": float(tpr[0]), "fpr": float(fpr[0]),
            "balanced_accuracy": float((tpr[0] + 1 - fpr[0]) / 2), "auroc": auroc(pos, neg)}
