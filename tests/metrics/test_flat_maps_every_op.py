"""Clean protocol: flatness is decided on the raw map, whatever the upsampling op.

Regression for issue 12 (part 3): the flat-map rule (docs/protocols.md §8.3) used to look at the
*upsampled* map. ``bilinear_ac``, ``bicubic_ac`` and ``bicubic`` turn a constant 7 x 7 map into
several distinct float32 values (rounding of weights that sum to 1), so the rule never fired and a
constant map scored IoU 0-0.2 instead of the GT fraction. Hand-computed expectations: a constant
positive selects every pixel, so IoU = GT area / HW and every negative has pIA = 1.
"""

from __future__ import annotations

import numpy as np
import pytest

from vssleval.metrics import Accumulator
from vssleval.metrics.upsample import OPS, upsample

HW = 224 * 224
VALUES = (0.0, 0.37, 1.0, -0.8, -3.25, 17.0, 1e-3)
#: boxes (x0, y0, x1, y1): GT fractions 0.3125 (70 x 224), 0.0625 (56 x 56), a 2-box union, the whole image
BOXES = ([(0, 0, 70, 224)], [(10, 20, 66, 76)], [(0, 0, 100, 90), (150, 130, 224, 224)], [(0, 0, 224, 224)])


def _gt(boxes_per_sample) -> np.ndarray:
    g = np.zeros((len(boxes_per_sample), 224, 224), np.float32)
    for i, boxes in enumerate(boxes_per_sample):
        for x0, y0, x1, y1 in boxes:
            g[i, y0:y1, x0:x1] = 1
    return g


GT = _gt(BOXES)
FRACTION = GT.reshape(len(BOXES), -1).sum(1, dtype=np.float64) / HW


def _rows(op, pos, gt=GT, thresholds=None, **negatives):
    acc = Accumulator(protocol="vssleval", upsample=op, thresholds=thresholds, bootstrap=0)
    acc.update(0, [f"s{i}" for i in range(pos.shape[0])], pos, gt=gt, **negatives)
    return acc.per_sample_rows()


def test_the_defect_is_real_for_some_ops():
    """The premise: some ops do not keep a constant map constant (so flatness on the upsampled map
    is the wrong test), while every op does in exact arithmetic."""
    raw = np.full((1, 7, 7), 0.37, np.float32)
    distinct = {op: np.unique(upsample(raw, op)).size for op in OPS}
    assert distinct["cv2_linear"] == 1
    assert max(distinct.values()) > 1, distinct


@pytest.mark.parametrize("op", OPS)
@pytest.mark.parametrize("side", (7, 14))
def test_constant_positive_predicts_the_whole_image(op, side):
    n = len(BOXES)
    for c in VALUES:
        pos = np.full((n, side, side), c, np.float32)
        sil = np.full((n, side, side), c, np.float32)                    # the same constant
        noise = np.full((n, side, side), -2.0 * c - 1.0, np.float32)     # another constant
        off = np.random.default_rng(side).standard_normal((n, side, side)).astype(np.float32)  # not flat
        rows = _rows(op, pos, silence=sil, noise=noise, offscreen=off)
        for rule in ("med", "adap"):
            np.testing.assert_allclose([r[f"iou_{rule}"] for r in rows], FRACTION, rtol=0, atol=1e-12,
                                       err_msg=f"{op} c={c} {rule}")
            for x in ("silence", "noise", "offscreen"):
                assert [r[f"pia_{x}_{rule}"] for r in rows] == [1.0] * n, (op, c, rule, x)


@pytest.mark.parametrize("op", OPS)
def test_constant_object_and_av_maps_give_the_whole_image_under_ogl(op):
    n = len(BOXES)
    for c in (0.2, -1.5):
        pos = np.full((n, 7, 7), c, np.float32)
        ogl = np.full((n, 7, 7), 3.0 - c, np.float32)
        rows = _rows(op, pos, ogl=ogl)
        for rule in ("med", "adap"):
            np.testing.assert_allclose([r[f"iou_{rule}_ogl"] for r in rows], FRACTION, rtol=0, atol=1e-12)


@pytest.mark.parametrize("op", OPS)
def test_a_constant_av_map_adds_nothing_to_the_object_map(op):
    """A flat AV map has no spatial preference: the OGL blend is the object map's ranking whatever
    the constant (before the fix the upsampling noise of the constant was min-maxed to [0, 1] and
    blended in with weight 0.4)."""
    n = len(BOXES)
    ogl = np.random.default_rng(5).random((n, 7, 7)).astype(np.float32)
    ious = [[r["iou_med_ogl"] for r in _rows(op, np.full((n, 7, 7), c, np.float32), ogl=ogl)]
            for c in VALUES]
    assert all(i == ious[0] for i in ious), (op, ious)


@pytest.mark.parametrize("op", OPS)
def test_constant_negative_is_all_or_nothing_at_a_threshold(op):
    """A constant negative map under a non-constant positive: at a universal threshold equal to
    its value nothing is selected (strict >), just above everything is; never a fraction."""
    n = 2
    pos = np.random.default_rng(2).random((n, 7, 7)).astype(np.float32)
    for c in (0.37, -0.8, 17.0):
        sil = np.full((n, 7, 7), c, np.float32)
        for u, want in ((c, 0.0), (float(np.nextafter(np.float32(c), np.float32(-np.inf))), 1.0)):
            rows = _rows(op, pos, gt=GT[:n], thresholds={"u": u}, silence=sil)
            assert [r["pia_silence_u"] for r in rows] == [want] * n, (op, c, u)
            assert [r["conf_silence"] for r in rows] == [float(np.float32(c))] * n, (op, c)


def test_a_map_flat_but_for_one_pixel_is_not_flat():
    """Only an exactly constant raw map is flat: one different raw value keeps the strict upper median."""
    pos = np.full((1, 7, 7), 0.5, np.float32)
    pos[0, 3, 3] = 0.75
    for op in OPS:
        row = _rows(op, pos, gt=GT[:1])[0]
        assert row["iou_med"] < FRACTION[0], op


@pytest.mark.parametrize("op", ("bicubic_ac", "cv2_linear"))
def test_device_path_gives_the_numpy_numbers(op, monkeypatch):
    """The torch branch (taken for maps on an accelerator) decides flatness the same way: forced
    here on CPU tensors by keeping them torch, with a spy that proves the branch ran."""
    import torch

    from vssleval.metrics.protocols import vssleval as clean

    rng = np.random.default_rng(0)
    pos = rng.random((3, 7, 7)).astype(np.float32)
    pos[1] = -0.8
    ogl = rng.random((3, 7, 7)).astype(np.float32)
    ogl[1], ogl[2] = 2.0, 0.3
    sil = np.full((3, 7, 7), 0.37, np.float32)
    sil[0] = rng.random((7, 7))
    gt = GT[:3]
    ref = _rows(op, pos, gt=gt, thresholds={"u": 0.37}, silence=sil, ogl=ogl)
    calls = []
    real = clean.upsample
    monkeypatch.setattr(clean, "to_numpy_if_cpu", lambda x: x)
    monkeypatch.setattr(clean, "upsample", lambda x, o: calls.append(o) or real(x, o))
    t = torch.from_numpy
    got = _rows(op, t(pos), gt=t(gt), thresholds={"u": 0.37}, silence=t(sil), ogl=t(ogl))
    assert calls, "the torch branch did not run"
    assert got == ref
    assert [r["iou_med"] for r in ref][1] == pytest.approx(FRACTION[1], abs=1e-12)   # flat positive
    assert [r["iou_med_ogl"] for r in ref][1] == pytest.approx(FRACTION[1], abs=1e-12)  # both flat
    assert [r["iou_med_ogl"] for r in ref][2] == [r["iou_med"] for r in ref][2]      # flat object map
    assert [r["pia_silence_u"] for r in ref][1:] == [0.0, 0.0]                     # 0.37 > 0.37 is false
