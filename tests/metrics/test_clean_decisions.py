"""Clean-protocol decisions that differ from the models' own evaluators, pinned with hand-computed numbers.

* strict ``>`` at the upper median (EZ-VSL and SLAVC use ``>=``): on a whole-image box the median
  rule gives IoU 25 087 / 50 176 = 0.49998, a failure, where ``>=`` gives 25 088 / 50 176 = 0.5, a
  success (docs/protocols.md §8.1, decision 7);
* AP of fewer than two samples is NaN, where SLAVC's code gives 0 (docs/metrics.md §4.5).
"""

from __future__ import annotations

import numpy as np
import pytest

from vssleval.metrics import Accumulator, average_precision, extended_metrics
from vssleval.metrics.thresholds import upper_median_threshold

HW = 224 * 224


def _distinct_map(seed: int, side: int = 224) -> np.ndarray:
    """A [1, side, side] float32 map with all values distinct (a permutation of 0 .. side² - 1)."""
    return np.random.default_rng(seed).permutation(side * side).reshape(1, side, side).astype(np.float32)


def test_whole_image_box_strict_vs_non_strict_median():
    m = _distinct_map(0)
    t = upper_median_threshold(m.reshape(1, -1))[0]
    assert t == HW // 2                                  # the value at sorted index 25 088
    strict, non_strict = np.count_nonzero(m > t), np.count_nonzero(m >= t)
    assert (strict, non_strict) == (25_087, 25_088)
    # whole-image GT: IoU = selected / HW
    assert strict / HW == pytest.approx(0.49998007, abs=1e-8) and strict / HW < 0.5
    assert non_strict / HW == 0.5


def test_whole_image_box_fails_under_the_clean_median_rule():
    """End to end through the clean protocol: a 224 map with distinct values (bilinear upsampling at
    size 224 is the identity, so the map reaches the threshold unchanged) and a whole-image GT."""
    pos = _distinct_map(1)
    gt = np.ones((1, 224, 224), np.float32)
    acc = Accumulator(protocol="vssleval", upsample="bilinear", bootstrap=0)
    acc.update(0, ["whole"], pos, gt=gt)
    row = acc.per_sample_rows()[0]
    assert row["iou_med"] == 25_087 / HW               # 0.49998: one pixel short of 0.5
    assert row["iou_adap"] == 50_175 / HW              # adaptive: g = HW, sorted index 0, all but the minimum
    res = acc.result()
    assert res["ciou"] == 0.0 and res["ciou_adap"] == 1.0


def test_ap_of_one_sample_is_nan_not_zero():
    # SLAVC: thresholds = sorted confidences minus the largest -> none -> a sum over nothing = 0.
    assert np.isnan(average_precision([0.9], [0.8], [True]))
    assert np.isnan(average_precision([0.9], [0.1], [True]))
    assert np.isnan(average_precision([], [], []))
    # two samples are enough for one threshold: (P, R) at the lower confidence only -> AP 0 by the sum rule
    assert average_precision([0.9, 0.2], [0.8, 0.0], [True, False]) == 0.0


def test_one_sample_subset_gives_nan_ap_but_finite_precision():
    """A size bin holding one positive: AP NaN, max-F1 and Precision defined."""
    m = extended_metrics(conf=[0.9, 0.8, 0.3, 0.2], ciou=[0.72, 0.22, 0.62, 0.0],
                         positive=[True, True, True, False], area=[500, 12000, 30000, 0])
    assert np.isnan(m["AP-small@50"])                  # one sample (area 500)
    assert m["Precision-small@50"] == 1.0 and m["maxF1-small@50"] == 1.0
    assert not np.isnan(m["AP-all@50"])
