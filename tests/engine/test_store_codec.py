"""The 12-bit ``float12`` code of stored negative maps (vssleval/engine/store/codec.py; docs/models.md §2.8).

Checked against a reference written here from the format's definition (the exact value of every
code, nearest-value search with ties to the even code), over all 4096 codes and random float32
arrays that include subnormals, signed zeros, infinities, NaN and values beyond the clamp.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from vssleval.engine.store import codec

ALL = np.arange(codec.N_CODES, dtype=np.uint16)
FAST = settings(max_examples=30)
#: float32 values of every kind: the full range, subnormals, specials, the clamp and the small range
values_st = st.one_of(st.floats(width=32, allow_nan=True, allow_infinity=True, allow_subnormal=True),
                      st.floats(-300, 300, width=32), st.floats(-2.0 ** -5, 2.0 ** -5, width=32),
                      st.sampled_from([0.0, -0.0, 255.0, 255.5, 256.0, -255.49998, 2.0 ** -6, 2.0 ** -14,
                                       1 + 2.0 ** -8, 1 + 3 * 2.0 ** -8, float(np.finfo(np.float32).max)]))
maps_st = arrays(np.float32, st.integers(1, 32), elements=values_st)


def _value(code: int) -> float:
    """The value of ``code`` from the format's definition (module docstring of codec.py)."""
    sign = -1.0 if code >> 11 else 1.0
    e, m = (code >> 7) & 0xF, code & 0x7F
    if e == 15:
        return sign * np.inf if m == 0 else np.nan
    return sign * (m * 2.0 ** -13 if e == 0 else (1 + m / 128) * 2.0 ** (e - 7))


FINITE = np.array([_value(c) for c in range(codec.N_CODES)])


def _nearest_codes(x: np.ndarray) -> np.ndarray:
    """Reference encoder of finite floats: the code of the nearest value (ties: the even code, i.e.
    the even mantissa), magnitudes beyond 255 clamped, the sign kept (so -0.0 and tiny negatives
    give the code of -0.0)."""
    mag = np.minimum(np.abs(np.asarray(x, np.float64)), 255.0)
    values = FINITE[:0x780]  # the non-negative finite codes, increasing
    above = np.clip(np.searchsorted(values, mag), 1, 0x77F)
    below = above - 1
    d_below, d_above = mag - values[below], values[above] - mag
    code = np.where(d_below < d_above, below, np.where(d_above < d_below, above,
                                                       np.where(below % 2 == 0, below, above)))
    return np.where(np.signbit(x), 0x800, 0) | code


def test_every_code_decodes_to_its_defined_value_and_encodes_back():
    values = codec.decode(ALL)
    assert values.dtype == np.float32
    defined = FINITE
    nan = np.isnan(defined)
    assert np.array_equal(values[~nan], defined[~nan].astype(np.float32))
    assert np.array_equal(np.signbit(values[~nan]), np.signbit(defined[~nan]))  # -0.0 is kept
    assert np.isnan(values[nan]).all() and nan.sum() == 2 * 127
    assert np.array_equal(codec.encode(values), ALL)  # NaN payloads included
    assert codec.MAX_FINITE == 255.0 and values[codec.MAX_FINITE_CODE] == 255.0
    assert values[0x380] == 1.0 and values[0x080] == 2.0 ** -6 and values[0x001] == 2.0 ** -13


def test_encoding_rounds_to_the_nearest_value_ties_to_even():
    # every midpoint between neighbouring codes, and the points just beside it
    mids = (FINITE[:0x77F] + FINITE[1:0x780]) / 2
    xs = np.concatenate([mids, np.nextafter(mids.astype(np.float32), np.float32(0)),
                         np.nextafter(mids.astype(np.float32), np.float32(np.inf))]).astype(np.float32)
    xs = np.concatenate([xs, -xs])
    ours = codec.encode(xs)
    assert np.array_equal(ours, _nearest_codes(xs))


@FAST
@given(maps_st)
def test_round_trip_error_bound(x):
    y = codec.decode(codec.encode(x))
    assert y.shape == x.shape and y.dtype == np.float32
    finite = np.isfinite(x)
    assert np.array_equal(np.isnan(y), np.isnan(x))
    assert np.array_equal(y[np.isinf(x)], x[np.isinf(x)])
    assert np.array_equal(np.signbit(y[~np.isnan(x)]), np.signbit(x[~np.isnan(x)]))  # signed zero kept
    a = np.abs(x[finite].astype(np.float64))
    err = np.abs(y[finite].astype(np.float64) - x[finite])
    clamped = a > 255
    assert np.array_equal(y[finite][clamped], np.sign(x[finite][clamped]) * np.float32(255))  # clamp, not inf
    normal = (a >= 2.0 ** -6) & ~clamped
    assert np.all(err[normal] <= 2.0 ** -8 * a[normal])
    assert np.all(err[a < 2.0 ** -6] <= 2.0 ** -14)
    assert np.array_equal(codec.encode(x[finite]), _nearest_codes(x[finite]))


@FAST
@given(maps_st, maps_st)
def test_monotone(x, y):
    n = min(len(x), len(y))
    lo, hi = np.minimum(x[:n], y[:n]), np.maximum(x[:n], y[:n])  # NaN pairs drop out below
    ok = ~(np.isnan(lo) | np.isnan(hi))
    assert np.all(codec.decode(codec.encode(lo[ok])) <= codec.decode(codec.encode(hi[ok])))


@FAST
@given(arrays(np.uint16, st.tuples(st.integers(1, 3), st.integers(1, 9)),
              elements=st.integers(0, codec.N_CODES - 1)))
def test_pack_unpack_round_trip(codes):
    packed = codec.pack(codes)
    w = codes.shape[-1]
    assert packed.dtype == np.uint8 and packed.shape == (codes.shape[0], codec.packed_width(w))
    assert codec.packed_width(w) == 3 * ((w + 1) // 2)
    assert np.array_equal(codec.unpack(packed, w), codes)


def test_pack_layout_by_hand():
    # codes 0xABC and 0x123 -> bytes 0xBC, 0x0A | 0x3 << 4, 0x12
    assert codec.pack(np.array([0xABC, 0x123], np.uint16)).tolist() == [0xBC, 0x3A, 0x12]
    assert codec.pack(np.array([0xFFF], np.uint16)).tolist() == [0xFF, 0x0F, 0x00]  # odd: a zero code added
    with pytest.raises(ValueError, match="has 3 bytes, not 4"):
        codec.unpack(np.zeros(4, np.uint8), 2)


def test_a_224_map_row_takes_336_bytes():
    x = np.linspace(-3, 3, 2 * 224 * 224, dtype=np.float32).reshape(2, 224, 224)
    packed = codec.to_bytes(x)
    assert packed.shape == (2, 224, 336) and packed.nbytes * 8 == x.size * 12
    assert np.array_equal(codec.from_bytes(packed, 224), codec.decode(codec.encode(x)))


def test_the_module_examples_pass():
    import doctest

    result = doctest.testmod(codec, optionflags=doctest.NORMALIZE_WHITESPACE, verbose=False)
    assert result.attempted >= 3 and result.failed == 0
