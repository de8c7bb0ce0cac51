"""The speed paths give the same bits as the straightforward definitions they replace.

* juanola2025: ``_sample_records_numpy`` (bit-packed masks, selection, reused buffers) against
  ``_sample_records_generic`` (one boolean mask per map and rule), on maps built to hit the hard
  cases: cv2 border-band ties at the thresholds, empty / full / Flickr-style (0.5) GT, NaN maps,
  thresholds equal to map values, a batch that is not a multiple of the chunk, torch CPU input,
  chunks run in a thread pool.
* cv2 INTER_LINEAR as matrix products against the two-tap gathers (and the -0.0 / inf inputs
  that must take the gather path).
* ``upsample_into`` against ``upsample`` for every op.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vssleval.engine.scoring import upsample_plan_for
from vssleval.metrics.protocols import juanola2025 as J
from vssleval.metrics.thresholds import UniversalThresholds
from vssleval.metrics.upsample import OPS, cv2_linear_taps, upsample, upsample_into

TH = UniversalThresholds(0.6041, 0.6645, 0.6382)


def _taps_reference(maps: np.ndarray, size: int = 224) -> np.ndarray:
    """cv2 INTER_LINEAR by explicit two-tap gathers in float64, rounded once per pass."""
    r0, r1, a0, a1 = cv2_linear_taps(maps.shape[1], size)
    c0, c1, b0, b1 = cv2_linear_taps(maps.shape[2], size)
    x = maps.astype(np.float64)
    hz = (x[..., c0] * b0.astype(np.float64) + x[..., c1] * b1.astype(np.float64)).astype(np.float32)
    hz = hz.astype(np.float64)
    out = hz[:, r0, :] * a0.astype(np.float64)[:, None] + hz[:, r1, :] * a1.astype(np.float64)[:, None]
    return out.astype(np.float32)


def _bits(a) -> np.ndarray:
    return np.ascontiguousarray(a).view(np.uint32)


@pytest.mark.parametrize("side", [7, 14, 5])
def test_cv2_matrix_path_is_bit_exact(side):
    rng = np.random.default_rng(side)
    for scale in (1.0, 1e-4, 1e4):
        x = (rng.standard_normal((16, side, side)) * scale).astype(np.float32)
        x[0] = 0.0  # exact zeros
        x[1, :2] = np.float32(0.5)  # repeated values
        assert np.array_equal(_bits(upsample(x, "cv2_linear")), _bits(_taps_reference(x)))


def test_cv2_special_values_take_the_gather_path():
    x = np.random.default_rng(0).standard_normal((3, 7, 7)).astype(np.float32)
    x[0, 3, 3] = np.inf
    x[1, 0, 0] = np.nan
    x[2, :, :] = -0.0
    got = upsample(x, "cv2_linear")
    ref = _taps_reference(x)
    assert np.array_equal(_bits(got), _bits(ref))  # NaN payloads, infinities and -0.0 included
    assert np.isinf(got[0]).sum() > 0 and np.isfinite(got[0]).sum() > 0  # inf did not spread


@pytest.mark.parametrize("op", OPS)
def test_upsample_into_matches_upsample(op):
    x = np.random.default_rng(1).standard_normal((5, 7, 7)).astype(np.float32)
    out = np.full((5, 224, 224), np.nan, np.float32)
    assert upsample_into(x, op, out) is out
    assert np.array_equal(_bits(out), _bits(upsample(x, op)))
    with pytest.raises(ValueError, match="out must be"):
        upsample_into(x, op, np.empty((4, 224, 224), np.float32))


def _hard_batch(n: int, side: int, seed: int):
    rng = np.random.default_rng(seed)
    # coarse values in steps of 1/16 around the constants: many exact ties after upsampling,
    # including the constant cv2 border bands and values equal to 0.5
    maps = {v: (np.round((0.5 + 0.2 * rng.standard_normal((n, side, side))) * 16) / 16).astype(np.float32)
            for v in J.VARIANTS}
    maps["silence"][: n // 4] = np.float32(0.5)  # flat maps: nothing above 0.5, ties everywhere
    maps["noise"][1] = TH.max  # every pixel equal to a universal threshold (as float32)
    ogl = rng.random((n, side, side)).astype(np.float32)
    gt = np.zeros((n, 224, 224), np.uint8)
    for i in range(n):
        y, x = rng.integers(0, 200, 2)
        h, w = rng.integers(1, 120, 2)
        gt[i, y:y + h, x:x + w] = 1
    gt[0] = 0  # empty GT (adaptive index HW // 2; 0/0 IoUs where the mask is empty too)
    gt[2] = 1  # full-image GT
    return maps, ogl, gt


def _compare(maps, ogl, gt, ops, th=TH):
    args = (maps["positive"], maps["silence"], maps["noise"], maps["offscreen"], ogl, gt, th, ops)
    ref = J._sample_records_generic(*args)
    for threads in (1, 3):  # chunks run serially, or in a pool (more workers than cores)
        fast = J._sample_records_numpy(*args, threads=threads)
        assert list(fast) == list(ref) and sorted(ref) == sorted(J.record_fields())
        for k in ref:
            assert fast[k].dtype == np.float64 and fast[k].shape == ref[k].shape, (threads, k)
            assert np.array_equal(fast[k], ref[k], equal_nan=True), (threads, k)


@pytest.mark.parametrize("model,testset", [("ezvsl", "vggss"), ("lvs", "vggss"), ("lvs", "is3")])
@pytest.mark.parametrize("side", [7, 14])
def test_fast_compat_records_equal_generic(model, testset, side):
    maps, ogl, gt = _hard_batch(19, side, seed=side)  # 19 = 2 full chunks + a partial one
    _compare(maps, ogl, gt, upsample_plan_for(model, testset))


def test_fast_compat_records_non_binary_gt_and_nan():
    maps, ogl, gt = _hard_batch(11, 7, seed=3)
    g = gt.astype(np.float64)
    g[3, 10:60, 10:60] = 0.5  # Flickr-style consensus weights in one chunk only
    g[9, :5, :5] = 0.5
    maps["positive"][4, 2, 2] = np.nan
    maps["offscreen"][5, 0, 0] = np.nan
    _compare(maps, ogl, g, upsample_plan_for("ezvsl", "vggss"))
    _compare(maps, ogl, g.astype(np.float32), upsample_plan_for("ssltie", "is3"))


def test_fast_compat_records_bool_gt_other_constants_and_torch_input():
    maps, ogl, gt = _hard_batch(9, 7, seed=5)
    ops = upsample_plan_for("ezvsl", "is3")
    _compare(maps, ogl, gt.astype(bool), ops, UniversalThresholds(0.5, 0.55, 0.5625))
    t = {k: torch.from_numpy(v) for k, v in maps.items()}
    via_torch = J.sample_records(t["positive"], t["silence"], t["noise"], t["offscreen"], torch.from_numpy(ogl),
                                 torch.from_numpy(gt), TH, ops)
    ref = J._sample_records_generic(maps["positive"], maps["silence"], maps["noise"], maps["offscreen"], ogl, gt,
                                    TH, ops)
    for k in ref:
        assert np.array_equal(via_torch[k], ref[k], equal_nan=True), k


def test_sorted_take_equals_sorted_row_entry():
    from vssleval.metrics._array import sorted_take

    rng = np.random.default_rng(7)
    x = np.round(rng.standard_normal((6, 500)) * 4).astype(np.float32)  # many ties
    x[1, ::7] = np.nan
    x[2] = np.nan
    idx = np.array([0, 499, 250, 3, 498, -1])
    ref = np.take_along_axis(np.sort(x, axis=1), idx.reshape(-1, 1) % 500, axis=1)[:, 0]
    got = sorted_take(x, idx)
    assert got.dtype == x.dtype and np.array_equal(got, ref, equal_nan=True)


def test_fast_compat_records_uint8_gt_with_other_values():
    maps, ogl, gt = _hard_batch(9, 7, seed=11)
    gt[4, :20, :20] = 2  # not binary: the consensus formula (sum of G * mask) applies
    _compare(maps, ogl, gt, upsample_plan_for("ezvsl", "vggss"))


@pytest.mark.parametrize("op", ["bilinear", "cv2_linear", "bilinear_ac"])
def test_clean_protocol_chunking_changes_no_value(op):
    from vssleval.metrics.protocols import vssleval as V

    maps, ogl, gt = _hard_batch(19, 7, seed=13)
    maps["noise"][6, 1, 1] = np.nan  # a non-finite map in the second chunk
    g = gt.astype(np.float64)
    g[10, :30, :30] = 0.5
    th = TH.as_dict()
    whole = V._chunk_records({v: [m] for v, m in maps.items()}, g, th, op, ogl, 1)[0]
    for threads in (1, 3):  # serial chunks, and chunks in a thread pool
        chunked = V.sample_records(maps, g, th, op, ogl=ogl, threads=threads)
        assert list(chunked) == list(whole)
        for k in whole:
            assert chunked[k].shape == (19,), k
            assert np.array_equal(chunked[k], whole[k], equal_nan=True), (threads, k)


def _seed_maps(maps, n_seeds: int, seed: int):
    """Per-seed noise and offscreen maps of a hard batch: fresh noise per seed (one with a NaN),
    offscreen maps equal to the positive in one seed and in a few rows of another."""
    rng = np.random.default_rng(seed)
    noise = [maps["noise"]] + [maps["noise"] + (0.1 * rng.standard_normal(maps["noise"].shape)).astype(np.float32)
                               for _ in range(n_seeds - 1)]
    noise[-1][5, 2, 2] = np.nan
    off = [maps["offscreen"].copy() for _ in range(n_seeds)]
    off[1] = maps["positive"].copy()
    off[2][3:9] = maps["positive"][3:9]
    return noise, off


@pytest.mark.parametrize("op", ["bilinear", "cv2_linear", "bilinear_ac"])
def test_clean_protocol_all_seeds_at_once_equal_one_call_per_seed(op):
    """The shared positive and silence maps scored once, negatives equal to the positive scored by
    the positive's state: the same records as one independent call per seed (there the copies of
    the positive are float64, so nothing is reused)."""
    from vssleval.metrics.protocols import vssleval as V

    maps, ogl, gt = _hard_batch(19, 7, seed=21)
    g = gt.astype(np.float64)
    noise, off = _seed_maps(maps, 4, seed=3)
    silence = maps["positive"].copy()  # an audio-agnostic model's silence map
    th = TH.as_dict()
    together = V.seeds_sample_records({"positive": [maps["positive"]], "silence": [silence], "noise": noise,
                                       "offscreen": off}, g, th, op, ogl=ogl, threads=2)
    assert len(together) == 4
    for s in range(4):
        alone = V.sample_records({"positive": maps["positive"], "silence": silence.astype(np.float64),
                                  "noise": noise[s], "offscreen": off[s].astype(np.float64)}, g, th, op, ogl=ogl,
                                 threads=1)
        assert list(together[s]) == list(alone)
        for k in alone:
            assert np.array_equal(together[s][k], alone[k], equal_nan=True), (s, k)


def test_clean_protocol_negative_equal_to_positive_by_hand():
    """A negative map equal to the positive: its confidence is the positive's and its pIA under a
    rule is the fraction of the upsampled positive above that rule's threshold."""
    from vssleval.metrics.protocols import vssleval as V
    from vssleval.metrics.thresholds import upper_median_threshold

    maps, _, gt = _hard_batch(6, 7, seed=5)
    pos = maps["positive"]
    rec = V.sample_records({"positive": pos, "noise": pos.copy()}, gt, {}, "bilinear")
    up = upsample(pos, "bilinear").reshape(6, -1)
    t = upper_median_threshold(up)
    flat_rows = (pos.reshape(6, -1) == pos.reshape(6, -1)[:, :1]).all(1)
    expected = np.where(flat_rows, 1.0, (up > t[:, None]).sum(1) / up.shape[1])
    assert np.array_equal(rec["pia_noise_med"], expected)
    assert np.array_equal(rec["conf_noise"], rec["conf_positive"])
    assert np.array_equal(rec["max_noise"], pos.reshape(6, -1).max(1).astype(np.float64))


def test_clean_protocol_refuses_a_positive_per_seed():
    from vssleval.metrics.protocols import vssleval as V

    maps, _, gt = _hard_batch(3, 7, seed=1)
    with pytest.raises(ValueError, match="positive map must be one array"):
        V.seeds_sample_records({"positive": [maps["positive"], maps["positive"].copy()], "noise": [maps["noise"]] * 2},
                               gt, {}, "bilinear")
    with pytest.raises(ValueError, match="one map per seed"):
        V.seeds_sample_records({"positive": [maps["positive"]], "noise": [maps["noise"]] * 2,
                                "offscreen": [maps["offscreen"]] * 3}, gt, {}, "bilinear")
