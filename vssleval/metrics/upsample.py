"""Upsampling of low-resolution heatmaps to the 224 x 224 evaluation grid, and min-max normalization.

Ops (names used in configs and the protocol quirk table):

=============  ==============================================================================
``bilinear_ac`` torch bilinear, ``align_corners=True`` (EZ-VSL / SLAVC / FNAC positives in vssl_eval)
``bilinear``    torch bilinear, ``align_corners=False``: half-pixel centres, border replicate.
                Mathematically the same function as OpenCV ``INTER_LINEAR`` when upscaling.
``cv2_linear``  OpenCV ``cv2.resize(..., INTER_LINEAR)`` in float32 (OpenCV is not needed): bit
                for bit the optimised path of opencv-python-headless 5.0 on x86-64 without
                AVX-512; other OpenCV paths differ by 1-3 ulp (docs/protocols.md §8.5). The
                values equal ``bilinear`` up to float rounding.
``bicubic_ac``  torch bicubic, ``align_corners=True`` (SLAVC's own test)
``bicubic``     torch bicubic, ``align_corners=False``
=============  ==============================================================================

**A map already at the output size is returned unchanged** (as float32), whatever the op: every
op is the identity at equal size on finite values (torch's bilinear and bicubic kernels weigh the
centre tap 1 and the others exactly 0 there, OpenCV's two taps 1 and 0; checked for every op in
tests/metrics/test_upsample.py), and returning the map itself also keeps NaN / inf where they are
(``0 * inf`` would spread them to the neighbours) and the sign of -0.0. This is what makes a map a
store kept at 224 x 224 (``map.store``, docs/models.md §2.8) final.

Why ``cv2_linear`` exists: vssl_eval upsamples with OpenCV, whose 32x (16x) upscale makes 16 px
(8 px) constant bands at the borders; thresholds use a strict ``>`` on values taken from the map
itself, so one-ulp differences change pixel counts. OpenCV computes each output as a
two-tap horizontal pass then a two-tap vertical pass; each pass equals the *exactly* computed
weighted sum rounded once to float32 (checked against the sha256 of OpenCV's output for all 44
OpenCV-upsampled golden map stacks). We compute each pass in float64 (where the products of
float32 values by the dyadic weights k/32 are exact) and round to float32 once.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ._array import Array, check_maps, is_torch

OPS = ("bilinear_ac", "bilinear", "cv2_linear", "bicubic_ac", "bicubic")


@lru_cache(maxsize=32)
def cv2_linear_taps(n_in: int, n_out: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Two-tap indices and float32 weights of OpenCV INTER_LINEAR along one axis.

    Returns ``(i0, i1, w0, w1)``, each of length ``n_out``: output ``d`` = ``w0[d]*x[i0[d]] +
    w1[d]*x[i1[d]]``. Source position ``(d + 0.5) * n_in/n_out - 0.5`` is rounded to float32 as
    OpenCV does; positions left of the first sample or right of the last are clamped (weight 1
    on the edge sample), which is what creates the constant border bands.
    """
    scale = n_in / n_out
    pos = ((np.arange(n_out) + 0.5) * scale - 0.5).astype(np.float32).astype(np.float64)
    i0 = np.floor(pos).astype(np.int64)
    frac = pos - i0
    left = i0 < 0
    frac[left], i0[left] = 0.0, 0
    right = i0 >= n_in - 1
    frac[right], i0[right] = 0.0, n_in - 1
    i1 = np.minimum(i0 + 1, n_in - 1)
    frac32 = frac.astype(np.float32)
    return i0, i1, (np.float32(1) - frac32), frac32


@lru_cache(maxsize=32)
def _cv2_linear_matrix(n_in: int, n_out: int) -> np.ndarray:
    """Dense float64 ``[n_out, n_in]`` matrix of :func:`cv2_linear_taps` (two non-zeros a row)."""
    i0, i1, w0, w1 = cv2_linear_taps(n_in, n_out)
    m = np.zeros((n_out, n_in))
    rows = np.arange(n_out)
    np.add.at(m, (rows, i0), w0.astype(np.float64))
    np.add.at(m, (rows, i1), w1.astype(np.float64))
    m.setflags(write=False)
    return m


def _cv2_matrix_ok(x: np.ndarray) -> bool:
    """Whether the matrix-product form of :func:`_cv2_linear` is exact for ``x`` (see there)."""
    return bool(np.isfinite(x).all() and not (np.signbit(x) & (x == 0)).any())


def _cv2_linear(maps: Array, size: int) -> Array:
    h, w = maps.shape[-2:]
    r0, r1, a0, a1 = cv2_linear_taps(h, size)
    c0, c1, b0, b1 = cv2_linear_taps(w, size)
    if is_torch(maps):
        import torch

        dev = maps.device
        t = lambda a: torch.as_tensor(a, device=dev)  # noqa: E731
        x = maps.to(torch.float64)
        horiz = (x[..., t(c0)] * t(b0).double() + x[..., t(c1)] * t(b1).double()).to(torch.float32)
        hz = horiz.to(torch.float64)
        out = hz[:, t(r0), :] * t(a0).double()[:, None] + hz[:, t(r1), :] * t(a1).double()[:, None]
        return out.to(torch.float32)
    x = np.asarray(maps, dtype=np.float64)
    if _cv2_matrix_ok(x):
        # Same numbers as the two-tap passes below, as matrix products: every output is
        # w0*x0 + w1*x1 plus exact zeros (x*0 with x finite), and the product of a float32 by a
        # dyadic weight is exact in float64, so any summation order or FMA gives the one
        # rounding of w0*x0 + w1*x1 (checked bit for bit in tests). 10-20x faster (no gathers).
        # Excluded: inf/NaN (inf*0 = NaN would leak through the zero weights) and -0.0 inputs
        # (the extra +0 terms could turn a -0.0 output into +0.0).
        # Both passes multiply the maps' last axis by a matrix: one BLAS product over the whole batch
        # (``matrix @ stack`` would be one small product per map, which a multi-threaded BLAS makes
        # up to 100x dearer in CPU time on a busy machine).
        horiz = np.matmul(x, _cv2_linear_matrix(w, size).T).astype(np.float32)
        vert = np.matmul(horiz.astype(np.float64).swapaxes(-1, -2), _cv2_linear_matrix(h, size).T)
        return np.ascontiguousarray(vert.swapaxes(-1, -2).astype(np.float32))
    horiz = (x[..., c0] * b0.astype(np.float64) + x[..., c1] * b1.astype(np.float64)).astype(np.float32)
    hz = horiz.astype(np.float64)
    out = hz[:, r0, :] * a0.astype(np.float64)[:, None] + hz[:, r1, :] * a1.astype(np.float64)[:, None]
    return np.ascontiguousarray(out.astype(np.float32))


def _final(maps: Array, size: int) -> bool:
    """Whether ``maps`` ``[B, h, w]`` are already ``size`` x ``size`` (returned as they are)."""
    return tuple(maps.shape[-2:]) == (size, size)


def upsample(maps: Array, op: str, size: int = 224) -> Array:
    """Upsample a batch of heatmaps.

    Args:
        maps: ``[B, h, w]`` float array (numpy or torch, any device), any value range.
        op: one of :data:`OPS`.
        size: output side (224 for every published protocol).
    Returns:
        ``[B, size, size]`` float32 array of the same kind (numpy stays numpy, torch stays on
        its device). Torch ops on CPU are bit-identical to ``F.interpolate`` on CPU. Maps already
        ``size`` x ``size`` come back as a float32 copy, every bit unchanged.

    Examples:
    >>> import numpy as np
    >>> upsample(np.array([[[0.0, 1.0], [1.0, 0.0]]]), "bilinear_ac", size=3)
    array([[[0. , 0.5, 1. ],
            [0.5, 0.5, 0.5],
            [1. , 0.5, 0. ]]], dtype=float32)
    >>> same = np.array([[[np.nan, -0.0], [2.0, 3.0]]], dtype=np.float32)
    >>> all(upsample(same, o, size=2).tobytes() == same.tobytes() for o in OPS)
    True
    """
    check_maps("maps", maps)
    if op not in OPS:
        raise ValueError(f"unknown upsampling op {op!r}; expected one of {OPS}")
    if _final(maps, size):
        # a copy, as from any other size: callers may write into what they get
        if is_torch(maps):
            import torch

            return maps.to(torch.float32, copy=True)
        return np.array(maps, dtype=np.float32)
    if op == "cv2_linear":
        return _cv2_linear(maps, size)
    import torch
    import torch.nn.functional as F

    mode = "bilinear" if op.startswith("bilinear") else "bicubic"
    ac = op.endswith("_ac")
    was_numpy = not is_torch(maps)
    t = torch.from_numpy(np.ascontiguousarray(maps, dtype=np.float32)) if was_numpy else maps.to(torch.float32)
    out = F.interpolate(t.unsqueeze(1), size=(size, size), mode=mode, align_corners=ac)[:, 0]
    return out.numpy() if was_numpy else out


def upsample_into(maps: np.ndarray, op: str, out: np.ndarray) -> np.ndarray:
    """:func:`upsample` of numpy ``[B, h, w]`` maps written into ``out`` (float32
    ``[B, size, size]``, C-contiguous), bit-identical to ``upsample(maps, op, size)``.

    For hot loops that reuse their buffers: writing into memory that is already mapped avoids
    the page faults of a fresh multi-megabyte array on every call.
    """
    check_maps("maps", maps)
    if op not in OPS:
        raise ValueError(f"unknown upsampling op {op!r}; expected one of {OPS}")
    size = out.shape[-1]
    if out.dtype != np.float32 or not out.flags.c_contiguous or out.shape != (maps.shape[0], size, size):
        raise ValueError(f"out must be C-contiguous float32 {(maps.shape[0], size, size)}, got "
                         f"{out.dtype} {out.shape}")
    if _final(maps, size):
        out[...] = maps
        return out
    if op == "cv2_linear":
        x = np.asarray(maps, dtype=np.float64)
        if not _cv2_matrix_ok(x):
            out[...] = _cv2_linear(maps, size)
            return out
        h, w = x.shape[-2:]
        horiz = np.matmul(x, _cv2_linear_matrix(w, size).T).astype(np.float32).astype(np.float64)
        mv = _cv2_linear_matrix(h, size)
        work = np.empty((size, size))  # one map at a time: a small temporary, reused
        for i in range(x.shape[0]):
            np.matmul(mv, horiz[i], out=work)
            out[i] = work  # the one rounding to float32, as astype
        return out
    import torch

    mode = "bilinear" if op.startswith("bilinear") else "bicubic"
    src = np.ascontiguousarray(maps, dtype=np.float32)
    if not src.flags.writeable:  # a read-only view of the store (HeatmapStore views): the kernel only
        src = src.copy()  # reads it, but torch warns on a non-writable array; one map batch, small
    t = torch.from_numpy(src).unsqueeze(1)
    kernel = torch.ops.aten.upsample_bilinear2d if mode == "bilinear" else torch.ops.aten.upsample_bicubic2d
    # the .out overload is the kernel F.interpolate(size=...) dispatches to (scales None)
    kernel.out(t, [size, size], op.endswith("_ac"), None, None, out=torch.from_numpy(out).unsqueeze(1))
    return out


def minmax_normalize(maps: Array) -> Array:
    """Per-map min-max normalization ``(M - min M) / (max M - min M)``.

    Args:
        maps: ``[B, h, w]`` float array.
    Returns:
        same shape and kind, values in [0, 1]. **Flat-map rule** (docs/metrics.md §1.5): a map with
        ``max == min`` is returned unchanged (not zeros), so a constant map keeps its value and
        a strict-``>`` median rule selects nothing on it.

    Examples:
    >>> import numpy as np
    >>> minmax_normalize(np.array([[[2.0, 4.0], [6.0, 10.0]], [[3.0, 3.0], [3.0, 3.0]]]))
    array([[[0.  , 0.25],
            [0.5 , 1.  ]],
    <BLANKLINE>
           [[3.  , 3.  ],
            [3.  , 3.  ]]])
    """
    check_maps("maps", maps)
    if is_torch(maps):
        import torch

        lo = maps.amin(dim=(1, 2), keepdim=True)
        hi = maps.amax(dim=(1, 2), keepdim=True)
        rng = hi - lo
        flat_map = rng == 0
        return torch.where(flat_map, maps, (maps - lo) / torch.where(flat_map, torch.ones_like(rng), rng))
    if not np.issubdtype(maps.dtype, np.floating):
        maps = maps.astype(np.float64)  # integer maps normalize in float64 (as true division would)
    lo = maps.min(axis=(1, 2), keepdims=True)
    hi = maps.max(axis=(1, 2), keepdims=True)
    rng = hi - lo
    flat_map = (rng == 0)[:, 0, 0]
    # same values as np.where(flat, maps, (maps - lo) / rng), in two passes over one new array
    out = np.subtract(maps, lo)
    np.divide(out, np.where(flat_map[:, None, None], np.ones_like(rng), rng), out=out)
    if flat_map.any():
        out[flat_map] = maps[flat_map]
    return out
