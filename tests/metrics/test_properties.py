"""Property tests: invariances, bounds, monotonicity, batched == per-sample."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from vssleval.metrics import (adaptive_threshold, auc, binarize, ciou, map_iou, pia, success_rate,
                              upper_median_threshold)

SIDE = 12
maps_st = arrays(np.float32, (3, SIDE, SIDE), elements=st.floats(-1, 1, width=32))
gt_st = arrays(np.uint8, (3, SIDE, SIDE), elements=st.integers(0, 1))
FAST = settings(max_examples=40, deadline=None)


def _same_ranks(m: np.ndarray, scaled: np.ndarray) -> bool:
    """Whether ``scaled`` orders every row's values as ``m`` does, ties included. Equal stable
    argsorts alone miss two values that rounding merged (a merged pair keeps its index order), so
    the count of distinct values must match too."""
    rows, rows_scaled = m.reshape(len(m), -1), scaled.reshape(len(m), -1)
    return (np.array_equal(np.argsort(rows, kind="stable"), np.argsort(rows_scaled, kind="stable"))
            and all(len(np.unique(r)) == len(np.unique(q)) for r, q in zip(rows, rows_scaled)))


@FAST
@given(maps_st, gt_st, st.floats(0.1, 10), st.floats(-5, 5))
def test_rank_rules_invariant_to_positive_affine_scaling(m, gt, a, b):
    # a power of two keeps float32 scaling exact, so ties are preserved exactly
    a = np.float32(2.0 ** np.round(np.log2(a)))
    scaled = (m * a + np.float32(b)).astype(np.float32)
    if not _same_ranks(m, scaled):
        return  # the shift rounded two values together; the rule is rank-based, ranks changed
    for rule in (upper_median_threshold, lambda x: adaptive_threshold(x, gt)):
        assert np.array_equal(binarize(m, rule(m)), binarize(scaled, rule(scaled)))


@FAST
@given(maps_st, gt_st)
def test_bounds_and_counts(m, gt):
    t = upper_median_threshold(m)
    mask = binarize(m, t)
    assert np.all(mask.reshape(3, -1).sum(1) <= SIDE * SIDE // 2 - 1)  # strict > on the upper median
    iou = ciou(mask, gt)
    ok = ~np.isnan(iou)
    assert np.all((iou[ok] >= 0) & (iou[ok] <= 1))
    assert np.all(np.isnan(iou) == ((gt.reshape(3, -1).sum(1) == 0) & (mask.reshape(3, -1).sum(1) == 0)))
    p = pia(mask)
    assert np.all((p >= 0) & (p <= 1))
    mi = map_iou(mask, m > 0)
    assert np.all((mi >= 0) & (mi <= 1))


@FAST
@given(maps_st, gt_st)
def test_adaptive_selects_at_most_g_minus_1(m, gt):
    g = gt.reshape(3, -1).sum(1)
    g = np.where(g == 0, SIDE * SIDE // 2, g)
    n = binarize(m, adaptive_threshold(m, gt)).reshape(3, -1).sum(1)
    assert np.all(n <= g - 1)


@FAST
@given(arrays(np.float64, 20, elements=st.floats(0, 1)), st.floats(0, 1), st.floats(0, 1))
def test_success_rate_monotone_in_threshold(v, t1, t2):
    lo, hi = min(t1, t2), max(t1, t2)
    assert success_rate(v, lo) >= success_rate(v, hi)
    assert 0 <= auc(v) <= 1


@FAST
@given(maps_st, gt_st)
def test_batched_equals_per_sample(m, gt):
    tb = upper_median_threshold(m)
    ta = adaptive_threshold(m, gt)
    ib = ciou(binarize(m, tb), gt)
    for i in range(3):
        ti = upper_median_threshold(m[i:i + 1])
        assert ti[0] == tb[i] == np.sort(m[i].ravel())[SIDE * SIDE // 2]
        assert adaptive_threshold(m[i:i + 1], gt[i:i + 1])[0] == ta[i]
        one = ciou(binarize(m[i:i + 1], ti), gt[i:i + 1])[0]
        assert (np.isnan(one) and np.isnan(ib[i])) or one == ib[i]


def test_torch_matches_numpy():
    import torch

    rng = np.random.default_rng(3)
    m = rng.random((4, 224, 224)).astype(np.float32)
    gt = (rng.random((4, 224, 224)) > 0.8).astype(np.uint8)
    tm, tg = torch.from_numpy(m), torch.from_numpy(gt)
    assert np.array_equal(upper_median_threshold(m), upper_median_threshold(tm).numpy())
    assert np.array_equal(adaptive_threshold(m, gt), adaptive_threshold(tm, tg).numpy())
    t = upper_median_threshold(m)
    assert np.array_equal(ciou(binarize(m, t), gt), ciou(binarize(tm, torch.from_numpy(t)), tg).numpy())
