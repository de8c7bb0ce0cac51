"""Acceptance: the ``aclssl`` native evaluator reproduces ACL-SSL's own evaluator (``Eval.py`` +
``VGGSS/eval_utils.py`` @ 57f4a6c), recorded by the reference harness in ``tests/fixtures/aclssl/``
(README there):

* ``golden.npz`` / ``evaluator.json``: the official test maps of 4 clips, their GT and the
  per-sample cIoU and AP50/AUC of each of the 19 sweep thresholds (the repository prints x 100);
* ``adversarial.npz`` / ``adversarial.json``: the official evaluator on 8 crafted maps x 6 GTs
  (values exactly at each threshold's float32 and one ulp below, constant maps, an empty GT giving
  NaN, a clipped box, ...).

Everything to 1e-9 (NaN where the official code gives NaN).
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

import shared
from vssleval.metrics.protocols.native import EVALUATORS
from vssleval.metrics.protocols.native.aclssl import SELECTED, THRESHOLDS, column, heatmap, sweep

pytestmark = pytest.mark.parity
TOL = 1e-9
FIXTURES = shared.BUNDLE_ROOT / "aclssl"
EV = EVALUATORS["aclssl"]


def _nan(values) -> np.ndarray:
    return np.array([np.nan if v is None else v for v in values], np.float64)


def _assert_dataset(data: dict, ap50, auc) -> None:
    """Our fractions against the official ``100 * AP50`` / ``100 * AUC`` of each threshold."""
    for k, t in enumerate(THRESHOLDS):
        assert abs(100 * data[f"AP50(cIoU)@{t:g}"] - ap50[k]) <= TOL, ("AP50", t)
        assert abs(100 * data[f"AUC@{t:g}"] - auc[k]) <= TOL, ("AUC", t)
    k = THRESHOLDS.index(0.5)
    assert data["ciou"] == data["AP50(cIoU)@0.5"] and abs(100 * data["ciou"] - ap50[k]) <= TOL
    assert data["auc"] == data["AUC@0.5"] and abs(100 * data["auc"] - auc[k]) <= TOL


def test_golden_maps_per_sample_and_per_threshold():
    """The official maps of 4 clips: per-sample cIoU of all 19 evaluators and their AP50/AUC."""
    with np.load(FIXTURES / "golden.npz") as g:
        heat, gt, ciou = g["heatmap"], g["gt_map"], g["ciou"]
        assert np.allclose(g["thresholds"], THRESHOLDS)
    ref = json.loads((FIXTURES / "evaluator.json").read_text())
    cols = sweep(heat, gt)
    for k, t in enumerate(THRESHOLDS):
        np.testing.assert_allclose(cols[column(t)], ciou[k], rtol=0, atol=TOL, err_msg=str(t))
        np.testing.assert_allclose(cols[column(t)], ref["ciou_per_threshold"][k], rtol=0, atol=TOL)
    np.testing.assert_array_equal(cols["ciou"], cols["ciou_t50"])
    data = EV.aggregate(cols)
    _assert_dataset(data, ref["ap50"], ref["auc"])
    assert abs(100 * data[f"best_AUC_{SELECTED}"] - ref["best_auc"]) <= TOL
    assert data[f"best_AUC_threshold_{SELECTED}"] == 0.05  # first of the tied maxima, as Eval.py keeps it
    assert set(EV.own_keys) <= set(data)


def test_adversarial_cases():
    """8 maps x 6 GTs: the GT conversion of the boxes, every per-sample cIoU (NaN included) and the
    dataset numbers at each threshold."""
    ref = json.loads((FIXTURES / "adversarial.json").read_text())
    with np.load(FIXTURES / "adversarial.npz") as z:
        maps, gts = z["maps"], z["gt_maps"]
        gt_names = [str(n) for n in z["gt_names"]]
    boxes = [ref["boxes"][n] for n in gt_names]
    np.testing.assert_array_equal(EV.gt(boxes), gts)  # the repository's box rule, clipped box included
    heat = np.repeat(maps, len(gts), axis=0)  # map-major, as the fixture's case order
    gt = np.tile(gts, (len(maps), 1, 1))
    assert len(heat) == len(ref["cases"]) == 48
    cols = sweep(heat, gt)
    for k, t in enumerate(THRESHOLDS):
        want = _nan(ref["per_threshold"][k]["ciou"])
        got = cols[column(t)]
        bad = ~((np.abs(got - want) <= TOL) | (np.isnan(got) & np.isnan(want)))
        assert not bad.any(), (t, [ref["cases"][i] for i in np.flatnonzero(bad)])
    assert np.isnan(cols["ciou"]).sum() >= 1  # the empty GT with an empty mask: 0/0, no epsilon
    data = EV.aggregate(cols)
    _assert_dataset(data, [b["ap50"] for b in ref["per_threshold"]], [b["auc"] for b in ref["per_threshold"]])


def test_the_map_is_sigmoid_of_bicubic_logits_and_each_threshold_cuts_it():
    """From raw logits: torch bicubic (align_corners=False) to 224, then sigmoid; a map exactly at
    a threshold's float32 is kept (>=), one ulp below is not."""
    raw = torch.linspace(-3, 3, 2 * 17 * 17).reshape(2, 17, 17)
    want = torch.sigmoid(torch.nn.functional.interpolate(raw[:, None], size=224, mode="bicubic",
                                                         align_corners=False))[:, 0].numpy()
    np.testing.assert_array_equal(heatmap(raw.numpy()), want)
    gt = np.zeros((2, 224, 224), np.uint8)
    gt[:, :112] = 1
    at = np.full((2, 224, 224), np.float32(0.35), np.float32)
    below = np.nextafter(at, np.float32(0))
    assert sweep(at, gt)["ciou_t35"].tolist() == [0.5, 0.5]
    assert sweep(below, gt)["ciou_t35"].tolist() == [0.0, 0.0]


def test_best_over_thresholds_is_labelled_and_skips_nan():
    """The test-selected maxima carry their threshold; ties keep the lowest; an all-NaN sweep
    (no samples) gives NaN, not an error."""
    from vssleval.metrics.protocols.native.aclssl import dataset

    cols = {column(t): np.array([0.9 if t >= 0.6 else 0.1, 0.6 if t >= 0.7 else 0.2]) for t in THRESHOLDS}
    cols["ciou"] = cols["ciou_t50"]
    data = dataset(cols)
    assert data[f"best_AP50(cIoU)_{SELECTED}"] == 1.0
    assert data[f"best_AP50(cIoU)_threshold_{SELECTED}"] == 0.7
    assert data["ciou"] == 0.0 and data[f"best_AUC_threshold_{SELECTED}"] == 0.7
    cols, empty = EV.evaluate(np.zeros((0, 352, 352), np.float32), [])  # an empty batch: empty columns
    assert len(cols["ciou_t95"]) == 0 and empty["n_samples"] == 0
    assert np.isnan(empty["ciou"]) and np.isnan(empty[f"best_AUC_{SELECTED}"])
