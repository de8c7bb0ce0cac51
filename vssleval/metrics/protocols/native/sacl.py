"""SACL's evaluator (docs/protocols.md §11.1).

OpenCV linear upsampling, ``(x - min) / ptp(x)`` with **no** flat guard (a flat map becomes all
NaN, which selects nothing), then a **fixed** ``>= 0.5`` on that map (not a median rule).
Boxes: ``int(224 * max(x, 0))``. Dataset: success rate at 0.5 and the 21-point AUC.
"""

from __future__ import annotations

import numpy as np

from ._base import Inputs, NativeEvaluator
from ._common import auc, ciou_counts, cv2_linear, minmax_unguarded, rate

THRESHOLD = 0.5


def per_sample(s: Inputs) -> dict:
    pred = minmax_unguarded(cv2_linear(s.raw))
    out = ciou_counts(pred >= THRESHOLD, s.gt)  # NaN >= 0.5 is False
    out["threshold"] = np.full(len(pred), THRESHOLD)
    return out


def dataset(cols) -> dict:
    c = np.asarray(cols["ciou"], np.float64)
    success, area = rate(c), auc(c)
    return {"ciou": success, "auc": area, "cIoU@0.5": success, "AUC": area, "n_samples": len(c)}


SACL = NativeEvaluator(
    "sacl", "zjsong/SACL@265a749", "floor0",
    "OpenCV linear; (x - min)/ptp (flat -> NaN); >= 0.5", per_sample, dataset, ("cIoU@0.5", "AUC"),
    upsample="cv2_linear")
