"""ACL-SSL's evaluator for the extended sets (``Eval.py`` ``eval_exvggss_agg`` / ``eval_exflickr_agg``
+ ``VGGSS/extend_eval_utils.py``, identical to ``Flickr/``'s; docs/protocols.md §11.4).

Each sample is a pair (image, audio): the positives of the base set and the ``non-sounding`` pairs
of ``*_test_plus_silent.csv``. Per sample the repository keeps:

* a confidence: the model's own score of the pair (``AclSsl.confidence``, docs/models.md §17.5),
  which the engine stores per sample as the shard member ``confidence`` (float32);
* per sweep threshold ``t`` of the VGG-SS evaluator's 19 (``>=`` on the float32 sigmoid map):
  cIoU = inter / (sum(GT) + kept pixels outside the GT **+ 1e-12**), so an empty GT with an empty
  mask gives 0, not NaN;
* whether it is a positive (``bb = 1``) or not (``bb = 0``). The repository reads that from the label
  ``non-sounding``; the store knows it as a sample with no box (``n_boxes == 0``), which is the same
  on the public lists, where every positive has a box (a positive written with ``"bbox": []`` would
  be a positive with an empty GT there and a negative here).

Per threshold the dataset numbers are SLAVC's ``EvaluatorFull`` rules, which the repository copies
(:func:`.slavc.average_precision`, :func:`.slavc.f1_list`), on the ``all`` subset at IoU 0.5 only:
``AP@t`` and ``maxF1@t`` (fractions; the code prints ``100 * AP`` and the largest ``%.1f`` of
``100 * F1``). The headline ``ap`` / ``max_f1`` are the values at ``t = 0.5``, fixed in advance;
``ciou`` / ``auc`` are the success rate and AUC of the positives at ``t = 0.5`` (the repository
computes that AUC as ``AUC-all@50`` without printing it). The maxima over the sweep are kept apart,
labelled as selected on the test set (as :mod:`.aclssl`).
"""

from __future__ import annotations

import numpy as np

from ._base import Inputs, NativeEvaluator
from ._common import auc, ciou_counts, rate
from .aclssl import HEADLINE_THRESHOLD, THRESHOLDS, column, heatmap, sweep, sweep_keys, sweep_numbers
from .slavc import STATISTICS, average_precision, f1_list

#: added to the cIoU denominator by ``extend_eval_utils.Evaluator.update``
EPS = 1e-12
#: the IoU threshold of the printed AP and max-F1 (the code's ``iou_thrs=(0.5,)``)
IOU_THRESHOLD = 0.5


def ciou_eps(mask: np.ndarray, gt: np.ndarray) -> dict[str, np.ndarray]:
    """``inter``, ``union`` and ``ciou = inter / (union + 1e-12)`` per sample (float64)."""
    out = ciou_counts(mask, gt)
    out["ciou"] = out["inter"] / (out["union"] + EPS)
    return out


def per_sample(s: Inputs) -> dict:
    """:func:`.aclssl.sweep` of the test heatmap with :func:`ciou_eps`, and ``conf`` (the stored confidence, float64 of the
    float32 value)."""
    if s.confidence is None:
        raise ValueError("evaluator aclssl_extended scores each sample by the model's confidence; "
                         "none was given (the store's `confidence` member)")
    out = sweep(heatmap(s.raw), s.gt, counts=ciou_eps)
    out["conf"] = np.asarray(s.confidence, np.float64)
    return out


def sweep_row(conf: np.ndarray, ciou: np.ndarray, positive: np.ndarray) -> tuple[float, float]:
    """``(AP, max F1)`` of one sweep threshold's cIoUs, subset ``all`` at IoU 0.5 (NaN, NaN for no
    sample; the AP of one sample is 0, as the code's empty threshold list gives)."""
    if len(conf) == 0:
        return float("nan"), float("nan")
    ap = average_precision(conf, ciou, positive, IOU_THRESHOLD)
    return ap, float(np.max(f1_list(conf, ciou, positive, IOU_THRESHOLD)))


def dataset(cols) -> dict:
    """``AP@t`` / ``maxF1@t`` for the 19 thresholds, the headline at 0.5 and the test-selected best."""
    conf = np.asarray(cols["conf"], np.float64)
    positive = np.asarray(cols["n_boxes"]) > 0
    rows = {t: sweep_row(conf, np.asarray(cols[column(t)], np.float64), positive) for t in THRESHOLDS}
    ap = {t: r[0] for t, r in rows.items()}
    f1 = {t: r[1] for t, r in rows.items()}
    seen = np.asarray(cols["ciou"], np.float64)[positive]
    out: dict = {"ap": ap[HEADLINE_THRESHOLD], "max_f1": f1[HEADLINE_THRESHOLD],
                 "ciou": rate(seen), "auc": auc(seen)}
    out.update(sweep_numbers({"AP": ap, "maxF1": f1}))
    out["n_positives"] = int(positive.sum())
    out["n_samples"] = len(conf)
    return out


_OWN = sweep_keys(("AP", "maxF1"))

ACLSSL_EXTENDED = NativeEvaluator(
    "aclssl_extended", "swimmiing/ACL-SSL@57f4a6c (Eval.py eval_ex*_agg, VGGSS/extend_eval_utils.py)", "clip",
    "torch bicubic align_corners=False on the logits; sigmoid; >= each of 0.05..0.95; cIoU + 1e-12; "
    "AP / max-F1 (all@50) by the model's confidence (headline 0.5)",
    per_sample, dataset, _OWN, upsample="bicubic", normalize="sigmoid", layouts=("extended",),
    needs_confidence=True, statistics=STATISTICS)  # ciou / auc of the positives, ap / max_f1 of all@50
