"""Clean protocol: a constant map predicts the whole image (hand-computed cases)."""

import numpy as np

from vssleval.metrics import Accumulator


def _gt(boxes):
    g = np.zeros((len(boxes), 224, 224), np.float32)
    for i, (x0, y0, x1, y1) in enumerate(boxes):
        g[i, y0:y1, x0:x1] = 1
    return g


def test_constant_map_selects_every_pixel():
    # boxes covering 112x224 (half) and 224x224 (all) of the image: whole-image IoU 0.5 and 1.0
    gt = _gt([(0, 0, 112, 224), (0, 0, 224, 224), (0, 0, 56, 56)])
    pos = np.ones((3, 7, 7), np.float32)
    sil = np.ones((3, 7, 7), np.float32)
    acc = Accumulator(protocol="vssleval", bootstrap=0)
    acc.update(0, ["a", "b", "c"], pos, silence=sil, gt=gt)
    rows = acc.per_sample_rows()
    np.testing.assert_allclose([r["iou_med"] for r in rows], [0.5, 1.0, 56 * 56 / 224 ** 2])
    np.testing.assert_allclose([r["iou_adap"] for r in rows], [0.5, 1.0, 56 * 56 / 224 ** 2])
    # the silence map is thresholded at the positive's threshold: every pixel lights up
    np.testing.assert_allclose([r["pia_silence_med"] for r in rows], [1.0, 1.0, 1.0])
    assert acc.result()["ciou"] == 2 / 3


def test_non_constant_map_keeps_the_strict_upper_median():
    gt = _gt([(0, 0, 112, 224)])
    pos = np.zeros((1, 7, 7), np.float32)
    pos[0, :, :3] = 1.0  # left 3 of 7 columns hot
    acc = Accumulator(protocol="vssleval", bootstrap=0)
    acc.update(0, ["a"], pos, gt=gt)
    iou = acc.per_sample_rows()[0]["iou_med"]
    assert 0.0 < iou < 1.0
