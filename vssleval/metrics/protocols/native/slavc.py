"""SLAVC's evaluator: its two mask rules and ``EvaluatorFull.finalize_stats`` (docs/protocols.md §11.1).

Upsample with torch bicubic (align_corners=True) and rescale with the fixed temperature range
``S = (x + 1/tau) / (2/tau)``, tau = 0.03 (float32). Confidence = mean of the top quarter of S.
* default (the shipped test scripts): keep ``S >= 0.5`` (a raw cosine >= 0, up to float32 rounding);
* ``--relative_prediction``: min-max S (flat unchanged), keep ``>=`` the value at sorted index
  ``int(HW * 0.5)``.
``finalize_stats`` per subset (all; visible = n_boxes > 0; small / medium / large / huge by GT area,
visible only) and IoU threshold 0.5 / 0.75: Precision with every sample detected, AP over the
sorted confidences without the largest (a one-sample subset has no threshold: AP 0; an empty
subset NaN), the F1 list at every ``max(1, n // 10)``-th sorted confidence (printed ``%.1f`` of
x100) and its maximum, and the AUC of the subset's visible samples. ``precision_at_50`` (printed
during the loop) is the fraction of visible samples with a **strict** ``ciou > 0.5``.
"""

from __future__ import annotations

import numpy as np

from ... import resampling as rs
from ...curves import auc as auc_21
from ...detection import SIZE_BINS, precision_recall
from ._base import Inputs, NativeEvaluator
from ._common import N_PIXELS, ciou_counts, minmax_flat_unchanged, sorted_value, upsample_torch

TAU = 0.03
PRED_THRESHOLD = 0.5
THETAS = (0.5, 0.75)
SUBSETS = ("all", "visible") + tuple(SIZE_BINS)


def scores(raw: np.ndarray) -> np.ndarray:
    """The fixed-range map ``(x + 1/tau) / (2/tau)`` of the bicubic-upsampled raw map, float32."""
    up = upsample_torch(raw, "bicubic_ac")
    return ((up + np.float32(1 / TAU)) / np.float32(2 / TAU)).astype(np.float32)


def confidence(s: np.ndarray) -> np.ndarray:
    """Mean of the ``HW // 4`` largest values of each map (float32 mean, as float64)."""
    flat = s.reshape(len(s), -1)
    q = flat.shape[1] // 4
    top = np.sort(flat, axis=1)[:, flat.shape[1] - q:]
    return top.mean(axis=1, dtype=np.float32).astype(np.float64)


def _per_sample(relative: bool):
    def per_sample(s: Inputs) -> dict:
        sc = scores(s.raw)
        if relative:
            pred = minmax_flat_unchanged(sc)
            thr32 = sorted_value(pred, int(N_PIXELS * 0.5))
            mask = pred >= thr32[:, None, None]
            thr = thr32.astype(np.float64)
        else:
            thr = np.full(len(sc), PRED_THRESHOLD)
            mask = sc >= PRED_THRESHOLD
        out = ciou_counts(mask, s.gt)
        out.update({"threshold": thr, "conf": confidence(sc),
                    "area": s.gt.reshape(len(s.gt), -1).sum(1).astype(np.float64), "n_boxes": s.n_boxes})
        return out
    return per_sample


# -- finalize_stats ----------------------------------------------------------------------------------
def average_precision(conf, ciou, positive, theta) -> float:
    """AP over thresholds = sorted confidences without the largest, from the top, every
    ``max(1, n // 200)``-th; envelope precision times recall increments. n = 1: 0 (no
    threshold); n = 0: NaN."""
    n = len(conf)
    if n == 0:
        return float("nan")
    thr = np.sort(conf)[:-1][::-1][::max(1, n // 200)]
    if thr.size == 0:
        return 0.0
    p, r = precision_recall(conf, ciou, positive, thr, theta)
    envelope = np.maximum.accumulate(p[::-1])[::-1]
    return float(np.sum(envelope[:-1] * np.diff(r)))


def f1_list(conf, ciou, positive, theta) -> np.ndarray:
    """F1 at every ``max(1, n // 10)``-th ascending confidence (F1 = 0 where P + R = 0)."""
    n = len(conf)
    thr = np.sort(conf)[::max(1, n // 10)]
    p, r = precision_recall(conf, ciou, positive, thr, theta)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(p + r == 0, 0.0, 2 * p * r / (p + r))


def finalize_stats(conf, ciou, n_boxes, area) -> dict:
    """Every ``<metric>-<subset>@<50|75>`` key of SLAVC's ``finalize_stats`` (fractions; the F1
    list as the repository prints it, plus its unformatted maximum as ``maxF1-..``)."""
    conf, ciou = np.asarray(conf, np.float64), np.asarray(ciou, np.float64)
    visible = np.asarray(n_boxes) > 0
    area = np.asarray(area, np.float64)
    subsets = {"all": np.ones_like(visible), "visible": visible}
    for name, (lo, hi) in SIZE_BINS.items():
        subsets[name] = visible & (area >= lo) & (area < hi)
    out: dict = {}
    for theta in THETAS:
        for name in SUBSETS:
            m = subsets[name]
            tag = f"{name}@{int(round(theta * 100))}"
            if not m.any():
                out.update({f"{k}-{tag}": float("nan") for k in ("Precision", "AP", "AUC", "maxF1")})
                out[f"F1-{tag}"] = None
                continue
            c, i, v = conf[m], ciou[m], visible[m]
            f1 = f1_list(c, i, v, theta)
            out[f"Precision-{tag}"] = float(np.count_nonzero(v & (i >= theta)) / len(c))
            out[f"AP-{tag}"] = average_precision(c, i, v, theta)
            out[f"AUC-{tag}"] = float(auc_21(i[v])) if v.any() else float("nan")
            out[f"F1-{tag}"] = " ".join("%.1f" % (100 * f) for f in f1)
            out[f"maxF1-{tag}"] = float(np.max(f1))
    return out


def dataset(cols) -> dict:
    c = np.asarray(cols["ciou"], np.float64)
    stats = finalize_stats(cols["conf"], c, cols["n_boxes"], cols["area"])
    out = {"ciou": stats["Precision-visible@50"], "auc": stats["AUC-visible@50"],
           "ap": stats["AP-all@50"], "max_f1": stats["maxF1-all@50"]}
    out.update(stats)
    v = c[np.asarray(cols["n_boxes"]) > 0]
    out["precision_at_50"] = float(np.count_nonzero(v > 0.5) / len(v)) if len(v) else float("nan")
    out["n_samples"] = len(c)
    return out


def _visible_share(share):
    """Mean of ``share(ciou)`` over the visible rows (``n_boxes > 0``) of each row set (NaN for none)."""
    def stat(rec, rows):
        vis = (np.asarray(rec["n_boxes"]) > 0)[rows]
        with np.errstate(invalid="ignore", divide="ignore"):
            return (share(np.asarray(rec["ciou"], np.float64))[rows] * vis).sum(axis=-1) / vis.sum(axis=-1)
    return stat


def _all_at_50(fn):
    """``fn(conf, ciou, visible, 0.5)`` on each row set (subset ``all``, IoU threshold 0.5)."""
    return rs.looped(lambda c: fn(c["conf"], c["ciou"], c["n_boxes"] > 0, 0.5), ("conf", "ciou", "n_boxes"))


#: the headline statistics of :func:`dataset`: Precision-visible@50, AUC-visible@50, AP-all@50, maxF1-all@50
STATISTICS = {"ciou": _visible_share(lambda c: (c >= 0.5).astype(np.float64)), "auc": _visible_share(rs.sample_auc),
              "ap": _all_at_50(average_precision),
              "max_f1": _all_at_50(lambda *a: float(np.max(f1_list(*a))))}

_OWN = tuple(f"{k}-{s}@{t}" for t in (50, 75) for s in SUBSETS for k in ("Precision", "F1", "AP", "AUC", "maxF1")) \
    + ("precision_at_50",)
SLAVC = NativeEvaluator(
    "slavc", "stoneMo/SLAVC@05b429c (default, pred_thr 0.5)", "clip",
    "torch bicubic align_corners=True; (x + 1/tau)/(2/tau); >= 0.5", _per_sample(False), dataset, _OWN,
    upsample="bicubic_ac", statistics=STATISTICS)
SLAVC_RELATIVE = NativeEvaluator(
    "slavc_relative", "stoneMo/SLAVC@05b429c (--relative_prediction)", "clip",
    "torch bicubic align_corners=True; (x + 1/tau)/(2/tau); min-max; >= upper median",
    _per_sample(True), dataset, _OWN, upsample="bicubic_ac", statistics=STATISTICS)
