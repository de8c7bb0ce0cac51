"""LVS's evaluator and SSL-TIE's copy of it (docs/protocols.md §11.1).

OpenCV linear upsampling, ``pred = 1 - minmax(-x)`` (a flat map is left unchanged, so it becomes
``1 + x``), then the repositories set ``pred > thr`` to 1 and ``pred < 1`` to 0 and keep ``>= 0.5``
(thr = upper median): a **strict** ``>`` median rule, except that pixels already >= 1 (the
maximum, and every pixel of a flat map with x >= 0) stay selected. They differ only in how boxes
become pixels (LVS: ``int(224 * max(x, 0))``; SSL-TIE: ``int(x * 224)``, no clipping).
Dataset: success rate at 0.5 (SSL-TIE prints it as "MeancIoU") and the 21-point AUC.
"""

from __future__ import annotations

import numpy as np

from ._base import Inputs, NativeEvaluator
from ._common import (N_PIXELS, auc, ciou_counts, cv2_linear, one_minus_minmax_of_negative, rate,
                      sorted_value)


def per_sample(s: Inputs) -> dict:
    pred = one_minus_minmax_of_negative(cv2_linear(s.raw))
    thr = sorted_value(pred, N_PIXELS // 2)
    mask = (pred > thr[:, None, None]) | (pred >= 1)
    out = ciou_counts(mask, s.gt)
    out["threshold"] = thr.astype(np.float64)
    return out


def _dataset(success_key: str, auc_key: str):
    def dataset(cols) -> dict:
        c = np.asarray(cols["ciou"], np.float64)
        success, area = rate(c), auc(c)
        return {"ciou": success, "auc": area, success_key: success, auc_key: area, "n_samples": len(c)}
    return dataset


LVS = NativeEvaluator(
    "lvs", "hche11/Localizing-Visual-Sounds-the-Hard-Way@8fe8cbb", "floor0",
    "OpenCV linear; 1 - minmax(-x); > upper median, or already >= 1",
    per_sample, _dataset("cIoU@0.5", "AUC"), ("cIoU@0.5", "AUC"), upsample="cv2_linear")
SSLTIE = NativeEvaluator(
    "ssltie", "jinxiang-liu/SSL-TIE@c49e6a9", "raw",
    "as LVS; boxes int(x * 224) without clipping",
    per_sample, _dataset("MeancIoU", "cal_auc"), ("MeancIoU", "cal_auc"), upsample="cv2_linear")
