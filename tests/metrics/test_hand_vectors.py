"""Hand-computed vectors from metrics.md (§1.4, §2.12) and protocol.md (§5)."""

from __future__ import annotations

import numpy as np
import pytest

from vssleval.metrics import (GRID, aoc, auc, average_precision, extended_metrics, f_score, instance_auc,
                              instance_iou, max_f1, precision_all_detected, success_rate)
from vssleval.metrics.curves import success_curve

# (n_boxes, cIoU, conf) of metrics.md §2.12
SAMPLES = [(1, 0.8, 0.9), (1, 0.3, 0.8), (1, 0.6, 0.4), (1, 0.55, 0.2), (0, np.nan, 0.7), (0, np.nan, 0.1)]
POS = np.array([s[0] > 0 for s in SAMPLES])
IOU = np.array([s[1] for s in SAMPLES])
CONF = np.array([s[2] for s in SAMPLES])


def test_mo_morgado_vector():
    assert average_precision(CONF, IOU, POS) == pytest.approx(0.4, abs=1e-12)
    assert max_f1(CONF, IOU, POS) == pytest.approx(0.75, abs=1e-12)
    assert precision_all_detected(IOU, POS) == pytest.approx(0.5)
    assert precision_all_detected(IOU[POS], POS[POS]) == pytest.approx(0.75)
    m = extended_metrics(CONF, IOU, POS, area=np.where(POS, 5000.0, 0.0))
    assert m["AP-all@50"] == pytest.approx(0.4)
    assert m["maxF1-all@50"] == pytest.approx(0.75)
    assert m["Precision-visible@50"] == pytest.approx(0.75)
    assert m["AUC-visible@50"] == pytest.approx(0.5625)
    assert np.isnan(m["AP-small@50"])  # empty subset


def test_sklearn_ap_is_a_different_quantity():
    from sklearn.metrics import average_precision_score

    labels = POS & (np.nan_to_num(IOU) >= 0.5)
    assert average_precision_score(labels, CONF) == pytest.approx(0.7)
    assert average_precision(CONF, IOU, POS) != pytest.approx(0.7)


def test_grid_edge_015():
    assert GRID[3] == 0.05 * 3 and GRID[3] > 0.15  # floating product, not i/20
    y = success_curve(np.array([0.15]))
    assert y[3] == 0.0 and y[2] == 1.0
    assert auc(np.array([0.15])) == pytest.approx(0.125, abs=1e-15)


def test_auc_edges():
    assert auc(np.zeros(7)) == pytest.approx(0.025, abs=1e-15)
    assert auc(np.ones(3)) == pytest.approx(1.0)
    assert auc(np.array([np.nan, np.nan])) == 0.0  # NaN fails even at t = 0
    assert success_rate(np.array([0.5, np.nan, 0.49])) == pytest.approx(1 / 3)


def test_aoc_edges():
    assert aoc(np.zeros(4)) == pytest.approx(1.0)
    assert aoc(np.ones(4)) == pytest.approx(0.025)


def test_instance_metrics():
    iou = np.array([0.6, 0.7, 0.6, 0.2])
    groups = ["a", "a", "b", "b"]
    assert instance_iou(iou, groups) == 0.5
    assert instance_iou(np.array([0.6, np.nan]), ["a", "a"]) == 0.0
    assert np.isnan(instance_iou(np.array([0.6, np.nan]), ["a", "a"], nan_propagates=True))
    assert 0 <= instance_auc(iou, groups) <= 1


def test_f_score():
    assert f_score(50.0, 50.0) == 50.0
    assert np.isnan(f_score(0.0, 0.0))
