"""Upsampling: align_corners=False bilinear is OpenCV INTER_LINEAR (proved against a direct
formula written here), our exact OpenCV emulation agrees, and min-max follows the flat rule."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vssleval.metrics import minmax_normalize, upsample


def direct_half_pixel_bilinear(m: np.ndarray, size: int) -> np.ndarray:
    """One output pixel at a time: source coordinate (d + 0.5) * n/size - 0.5, clamped to the
    edge samples (border replicate), linear weights; computed in float64."""
    h, w = m.shape
    out = np.zeros((size, size))

    def taps(d, n):
        s = (d + 0.5) * n / size - 0.5
        s = min(max(s, 0.0), n - 1.0)
        i0 = int(np.floor(s))
        i1 = min(i0 + 1, n - 1)
        return i0, i1, s - i0

    for y in range(size):
        y0, y1, fy = taps(y, h)
        for x in range(size):
            x0, x1, fx = taps(x, w)
            top = (1 - fx) * m[y0, x0] + fx * m[y0, x1]
            bot = (1 - fx) * m[y1, x0] + fx * m[y1, x1]
            out[y, x] = (1 - fy) * top + fy * bot
    return out


@pytest.mark.parametrize("side,size", [(7, 224), (14, 224), (5, 37)])
def test_bilinear_half_pixel_equals_direct_formula(side, size):
    rng = np.random.default_rng(side)
    raw = rng.normal(size=(2, side, side)).astype(np.float32)
    ref = np.stack([direct_half_pixel_bilinear(r.astype(np.float64), size) for r in raw])
    assert np.abs(upsample(raw, "bilinear", size) - ref).max() < 2e-6
    assert np.abs(upsample(raw, "cv2_linear", size) - ref).max() < 2e-6


def test_cv2_border_bands_are_constant():
    raw = np.random.default_rng(0).random((1, 7, 7)).astype(np.float32)
    up = upsample(raw, "cv2_linear")[0]
    assert np.all(up[:16, :16] == raw[0, 0, 0]) and np.all(up[-16:, -16:] == raw[0, -1, -1])


def test_torch_and_numpy_agree_and_keep_kind():
    raw = np.random.default_rng(1).random((3, 14, 14)).astype(np.float32)
    for op in ("bilinear_ac", "bilinear", "cv2_linear", "bicubic", "bicubic_ac"):
        a = upsample(raw, op)
        b = upsample(torch.from_numpy(raw), op)
        assert isinstance(a, np.ndarray) and isinstance(b, torch.Tensor)
        assert np.array_equal(a, b.numpy()), op
    with pytest.raises(ValueError, match="unknown upsampling op"):
        upsample(raw, "nearest")
    with pytest.raises(ValueError, match=r"\(14, 14\)"):
        upsample(raw[0], "bilinear")


def test_minmax_flat_rule():
    m = np.stack([np.full((4, 4), 0.3), np.arange(16.0).reshape(4, 4)])
    out = minmax_normalize(m)
    assert np.all(out[0] == 0.3)  # flat map returned unchanged
    assert out[1].min() == 0 and out[1].max() == 1
    t = minmax_normalize(torch.from_numpy(m))
    assert np.allclose(t.numpy(), out)


def test_minmax_matches_its_formula_bit_for_bit():
    """The in-place numpy path gives the bits of where(flat, M, (M - min) / (max - min))."""
    rng = np.random.default_rng(3)
    for dtype in (np.float32, np.float64, np.int64):
        m = (rng.standard_normal((6, 9, 9)) * 5).astype(dtype)
        m[1] = m[1, 0, 0]  # flat
        if dtype != np.int64:
            m[2, 4, 4] = np.nan
            m[3, 0, 0] = np.inf
        with np.errstate(invalid="ignore"):
            got = minmax_normalize(m)
            x = m.astype(np.float64) if dtype == np.int64 else m
            lo, hi = x.min(axis=(1, 2), keepdims=True), x.max(axis=(1, 2), keepdims=True)
            flat_rows = hi - lo == 0
            ref = np.where(flat_rows, x, (x - lo) / np.where(flat_rows, 1, hi - lo))
        assert got.dtype == ref.dtype and got.shape == m.shape
        assert np.array_equal(got.view(np.uint8), ref.view(np.uint8)), dtype


@pytest.mark.parametrize("op", ["bilinear_ac", "bilinear", "cv2_linear", "bicubic_ac", "bicubic"])
def test_every_op_is_the_identity_at_equal_size(op):
    """A map already at the output size comes back unchanged, every bit (what makes a map stored at
    224 final, docs/models.md §2.8). On finite values the kernels are the identity anyway (checked
    here on the kernels themselves: torch's F.interpolate and the OpenCV emulation without the
    shortcut); the shortcut also keeps NaN/inf in place and the sign of -0.0."""
    from vssleval.metrics.upsample import _cv2_linear, upsample_into

    rng = np.random.default_rng(3)
    finite = (rng.standard_normal((3, 224, 224)) * 4).astype(np.float32)
    if op == "cv2_linear":
        kernel = _cv2_linear(finite, 224)
    else:
        mode = "bilinear" if op.startswith("bilinear") else "bicubic"
        kernel = torch.nn.functional.interpolate(torch.from_numpy(finite)[:, None], size=(224, 224), mode=mode,
                                                 align_corners=op.endswith("_ac"))[:, 0].numpy()
    assert kernel.tobytes() == finite.tobytes()
    special = finite.copy()
    special[0, 5, 5], special[1, 7, 7], special[2, 9, 9] = np.nan, np.inf, -0.0
    for maps in (special, special.astype(np.float64)):
        out = upsample(maps, op, 224)
        assert out.dtype == np.float32 and out.tobytes() == special.tobytes() and out is not maps
    t = torch.from_numpy(special)
    assert torch.equal(upsample(t, op, 224).view(torch.int32), t.view(torch.int32))
    assert upsample(t, op, 224).data_ptr() != t.data_ptr()  # a copy: callers may write into it
    buf = np.empty_like(special)
    assert upsample_into(special, op, buf).tobytes() == special.tobytes()
