"""EZ-VSL's evaluator and FNAC's two copies of it (docs/protocols.md §11.1).

Upsample to 224 (EZ-VSL and FNAC ``validate``: torch bilinear, align_corners=True; FNAC
``validate2``: torch bicubic, align_corners=False), min-max with a flat map left unchanged,
threshold at the upper median (sorted index HW // 2) and keep pixels **>=** it. So a flat map
selects every pixel, and ties at the median are all kept.
Dataset: ``finalize_AP50`` = success rate at 0.5, ``finalize_cIoU`` = plain mean (NaN-sensitive),
``finalize_AUC`` = 21-point AUC.
"""

from __future__ import annotations

import numpy as np

from ._base import Inputs, NativeEvaluator
from ._common import N_PIXELS, auc, ciou_counts, minmax_flat_unchanged, rate, sorted_value, upsample_torch


def _median_ge(op: str):
    def per_sample(s: Inputs) -> dict:
        pred = minmax_flat_unchanged(upsample_torch(s.raw, op))
        thr = sorted_value(pred, N_PIXELS // 2)
        out = ciou_counts(pred >= thr[:, None, None], s.gt)
        out["threshold"] = thr.astype(np.float64)
        return out
    return per_sample


def dataset(cols) -> dict:
    c = np.asarray(cols["ciou"], np.float64)
    success, area = rate(c), auc(c)
    return {"ciou": success, "auc": area, "finalize_AP50": success, "finalize_cIoU": float(np.mean(c)),
            "finalize_AUC": area, "n_samples": len(c)}


_OWN = ("finalize_AP50", "finalize_cIoU", "finalize_AUC")
EZVSL = NativeEvaluator(
    "ezvsl", "stoneMo/EZ-VSL@95ff5bf", "clip",
    "torch bilinear align_corners=True; min-max (flat unchanged); >= upper median",
    _median_ge("bilinear_ac"), dataset, _OWN, upsample="bilinear_ac")
FNAC = NativeEvaluator(
    "fnac", "OpenNLPLab/FNAC_AVL@0a0ca78 (validate)", "clip",
    "as EZ-VSL (FNAC's test.py validate)", _median_ge("bilinear_ac"), dataset, _OWN, upsample="bilinear_ac")
FNAC_BICUBIC = NativeEvaluator(
    "fnac_bicubic", "OpenNLPLab/FNAC_AVL@0a0ca78 (validate2)", "clip",
    "torch bicubic align_corners=False; min-max (flat unchanged); >= upper median",
    _median_ge("bicubic"), dataset, _OWN, upsample="bicubic")
