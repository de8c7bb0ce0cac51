"""SSL-Align's evaluator, VGG-SS branch (docs/protocols.md §11.1).

OpenCV linear upsampling, ``pred = 1 - minmax(-x)``, then a **strict** ``pred > thr`` with thr
the upper median; the adaptive rule uses thr = the value at sorted index ``HW - g`` (g = GT
pixels, HW // 2 for an empty GT). A flat map selects nothing. Boxes: clip to [0, 1], x 224,
truncate. Dataset: success rates and AUCs of both rules, and the grouped iIoU / iAUC (groups =
the sample name without its last ``_`` field); a NaN IoU (empty GT, empty mask) makes the
plain mean, iIoU and iAUC NaN.
"""

from __future__ import annotations

import re

import numpy as np

from ...curves import instance_auc, instance_iou
from ._base import Inputs, NativeEvaluator
from ._common import (N_PIXELS, auc, ciou_counts, cv2_linear, one_minus_minmax_of_negative, rate,
                      sorted_value)


#: a VGG-SS sample id: the YouTube id, then the clip start in seconds on six digits
_VGGSS_ID = re.compile(r"^(?P<yt>.+)_(?P<start>\d{6})$")


def group_of(name: str) -> str:
    """The iIoU group of a sample name: file name without ``.jpg``, last ``_`` field dropped."""
    return "_".join(name.split("/")[-1].replace(".jpg", "").split("_")[:-1])


def sample_name(sample_id: str) -> str:
    """The name SSL-Align's VGG-SS loader gives a sample: its video file
    ``<ytid>_<start ms>_<start ms + 10000>.mp4`` (docs/protocols.md §11.1); other ids unchanged."""
    m = _VGGSS_ID.match(sample_id)
    if m is None:
        return sample_id
    start = int(m["start"]) * 1000
    return f"{m['yt']}_{start}_{start + 10000}.mp4"


def labels(names) -> dict:
    """The string column of the iIoU groups (kept apart from the numeric per-sample columns)."""
    return {"group": np.array([group_of(n) for n in names])}


def per_sample(s: Inputs) -> dict:
    pred = one_minus_minmax_of_negative(cv2_linear(s.raw))
    thr = sorted_value(pred, N_PIXELS // 2)
    out = ciou_counts(pred > thr[:, None, None], s.gt)
    g = np.count_nonzero(s.gt.reshape(len(s.gt), -1), axis=1)
    g = np.where(g == 0, N_PIXELS // 2, g)
    thr_adap = sorted_value(pred, N_PIXELS - g)
    adap = ciou_counts(pred > thr_adap[:, None, None], s.gt)
    out.update({"threshold": thr.astype(np.float64), "ciou_adap": adap["ciou"], "inter_adap": adap["inter"],
                "union_adap": adap["union"], "threshold_adap": thr_adap.astype(np.float64)})
    return out


def dataset(cols) -> dict:
    c = np.asarray(cols["ciou"], np.float64)
    ca = np.asarray(cols["ciou_adap"], np.float64)
    groups = list(cols["group"])
    out = {"ciou": rate(c), "auc": auc(c)}
    out.update({
        "cIoU@0.5": out["ciou"], "cIoU_adap@0.5": rate(ca), "AUC": out["auc"], "AUC_adap": auc(ca),
        "iIoU": instance_iou(c, groups, 0.5, nan_propagates=True),
        "iIoU_adap": instance_iou(ca, groups, 0.5, nan_propagates=True),
        "iAUC": instance_auc(c, groups, nan_propagates=True),
        "iAUC_adap": instance_auc(ca, groups, nan_propagates=True),
        "mIoU(persample)": float(np.mean(c)), "n_samples": len(c)})
    return out


SSLALIGN = NativeEvaluator(
    "sslalign", "kaistmm/SSLalignment@e7ae3c5", "clip",
    "OpenCV linear; 1 - minmax(-x); > upper median; adaptive: > sorted[HW - g]",
    per_sample, dataset,
    ("cIoU@0.5", "cIoU_adap@0.5", "AUC", "AUC_adap", "iIoU", "iIoU_adap", "iAUC", "iAUC_adap", "mIoU(persample)"),
    upsample="cv2_linear", sample_name=sample_name, labels=labels)
