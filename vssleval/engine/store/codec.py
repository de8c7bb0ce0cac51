"""``float12``: the 12-bit floating-point code a store may keep negative maps in (docs/report.md,
"Run folders and heatmap stores"; docs/models.md §2.7).

One job: float32 values <-> 12-bit codes <-> packed bytes, vectorised (no loop over pixels).

The code is IEEE-like: 1 sign bit, 4 exponent bits (bias 7), 7 mantissa bits::

    bit  11     10..7      6..0
         sign   exponent   mantissa

* exponent 1..14: normal, ``(-1)^s * (1 + m / 128) * 2^(e - 7)``: from ``2^-6`` to the largest
  finite value ``255.0`` (``(2 - 2^-7) * 2^7``);
* exponent 0: zero and subnormals, ``(-1)^s * m * 2^-13`` (signed zero kept);
* exponent 15: ``inf`` (m = 0) and NaN (m != 0, the top 7 bits of the float32 NaN payload, the
  quiet bit included), so a non-finite map stays non-finite in the store (docs/protocols.md §8.3).

Encoding rounds to nearest, ties to even. A finite value beyond ``255.0`` in magnitude is
**clamped** to ``±255.0`` (not turned into inf: a large finite map value is not an invalid map).
Error bound of a round trip: ``|decode(encode(x)) - x| <= 2^-8 * |x|`` for ``2^-6 <= |x| <= 255``,
``<= 2^-14`` for ``|x| < 2^-6``; exact for ±0, ±inf and every value the code holds.

Two codes are packed into three bytes along the last axis (:func:`pack`): a row of ``w`` values
takes ``3 * ceil(w / 2)`` bytes (an odd row is padded with one zero code).

Examples:
>>> import numpy as np
>>> x = np.array([1.0, 1.00390625, -3.14159, 1e-5, 300.0, np.inf], np.float32)
>>> decode(encode(x)).tolist()
[1.0, 1.0, -3.140625, 0.0, 255.0, inf]
>>> encode(np.array([1.0, -0.0], np.float32))
array([ 896, 2048], dtype=uint16)
>>> unpack(pack(encode(x)), x.shape[-1]).tolist() == encode(x).tolist()
True
"""

from __future__ import annotations

import numpy as np

#: Name of the code in a store (a member ``noise~float12``, ``store_maps.negatives``).
NAME = "float12"
#: Exponent and mantissa widths and the exponent bias.
EXP_BITS, MAN_BITS, BIAS = 4, 7, 7
#: Number of codes (4096) and the sign bit.
N_CODES = 1 << (1 + EXP_BITS + MAN_BITS)
SIGN = 1 << (EXP_BITS + MAN_BITS)
#: Code of +inf (exponent all ones, mantissa 0) and of the largest finite magnitude (255.0).
INF_CODE = ((1 << EXP_BITS) - 1) << MAN_BITS
MAX_FINITE_CODE = INF_CODE - 1
#: The quiet bit of a NaN code (a NaN whose payload has none of the top 7 bits set gets it).
QUIET = 1 << (MAN_BITS - 1)
#: Magnitudes below this (2^-6) are subnormal; their spacing is 2^-13.
MIN_NORMAL = 2.0 ** (1 - BIAS)
SUBNORMAL_STEP = 2.0 ** (1 - BIAS - MAN_BITS)
#: Largest finite value: (2 - 2^-7) * 2^7 = 255.
MAX_FINITE = (2.0 - 2.0 ** -MAN_BITS) * 2.0 ** ((1 << EXP_BITS) - 2 - BIAS)
#: float32 bits dropped from the mantissa (23 -> 7) and the shift between the two exponent biases.
_DROP = 23 - MAN_BITS
_REBIAS = (127 - BIAS) << MAN_BITS


def _table() -> np.ndarray:
    """float32 value of every code (index = code): the decoder. NaN codes carry their payload
    into the float32 mantissa, so :func:`encode` gives the same code back."""
    codes = np.arange(N_CODES, dtype=np.uint32)
    sign, exp, man = codes >> (EXP_BITS + MAN_BITS), (codes >> MAN_BITS) & 0xF, codes & 0x7F
    with np.errstate(over="ignore"):
        mag = np.where(exp == 0, man * SUBNORMAL_STEP, (1.0 + man / 128.0) * 2.0 ** (exp.astype(np.int64) - BIAS))
    values = np.where(sign == 1, -mag, mag).astype(np.float32)
    special = exp == (1 << EXP_BITS) - 1  # inf and NaN: built bit by bit
    bits = (sign << 31) | np.uint32(0x7F800000) | (man << _DROP)
    values[special] = bits[special].view(np.float32)
    values.setflags(write=False)
    return values


_DECODE = _table()


def encode(x: np.ndarray) -> np.ndarray:
    """float32 values (any shape; other float dtypes are converted to float32 first) -> uint16
    codes of the same shape, rounded to nearest even, finite magnitudes above 255 clamped."""
    bits = np.ascontiguousarray(x, dtype=np.float32).view(np.uint32)
    mag = bits & np.uint32(0x7FFFFFFF)
    # normal range: drop 16 mantissa bits with round-to-nearest-even on the bits (a carry into the
    # exponent is the correct rounding up to the next binade), then re-bias the exponent; done in
    # place on one uint32 array (no value below overflows 32 bits)
    code = (mag >> _DROP) & np.uint32(1)
    code += mag
    code += np.uint32((1 << (_DROP - 1)) - 1)
    code >>= _DROP
    np.clip(code, _REBIAS, _REBIAS + MAX_FINITE_CODE, out=code)  # clamp large finite values
    code -= np.uint32(_REBIAS)
    # below 2^-6: a multiple of 2^-13, np.rint rounds half to even (x * 2^13 is exact in float32);
    # 2^-6 - a half step rounds to 128, the smallest normal code, so the two ranges join up
    small = mag < np.float32(MIN_NORMAL).view(np.uint32)
    if small.any():
        code[small] = np.rint(mag[small].view(np.float32) * np.float32(1 / SUBNORMAL_STEP)).astype(np.uint32)
    # non-finite: inf, and NaN with the top 7 payload bits (the quiet bit if those are all zero)
    special = mag >= np.uint32(0x7F800000)
    if special.any():
        m = mag[special]
        payload = (m >> _DROP) & np.uint32(0x7F)
        code[special] = np.where(m == 0x7F800000, INF_CODE, INF_CODE | np.where(payload == 0, QUIET, payload))
    code |= (bits >> np.uint32(31 - EXP_BITS - MAN_BITS)) & np.uint32(SIGN)
    return code.astype(np.uint16)


def decode(codes: np.ndarray) -> np.ndarray:
    """uint16 codes (values below 4096) -> float32 values of the same shape."""
    return _DECODE[np.asarray(codes, dtype=np.uint16)]


def packed_width(w: int) -> int:
    """Bytes of one packed row of ``w`` codes: three per pair, ``3 * ceil(w / 2)``."""
    return 3 * ((int(w) + 1) // 2)


def pack(codes: np.ndarray) -> np.ndarray:
    """uint16 codes ``[..., w]`` -> uint8 ``[..., 3 * ceil(w / 2)]``: codes ``a, b`` of a pair become
    bytes ``a & 0xFF``, ``(a >> 8) | (b & 0xF) << 4``, ``b >> 4`` (an odd row gets a zero code)."""
    codes = np.asarray(codes, dtype=np.uint16)
    if codes.shape[-1] % 2:
        codes = np.concatenate([codes, np.zeros(codes.shape[:-1] + (1,), np.uint16)], axis=-1)
    a, b = codes[..., 0::2], codes[..., 1::2]
    out = np.empty(codes.shape[:-1] + (codes.shape[-1] // 2, 3), dtype=np.uint8)
    out[..., 0] = a & 0xFF
    out[..., 1] = (a >> 8) | ((b & 0xF) << 4)
    out[..., 2] = b >> 4
    return out.reshape(codes.shape[:-1] + (-1,))


def unpack(packed: np.ndarray, w: int) -> np.ndarray:
    """Inverse of :func:`pack`: uint8 ``[..., 3 * ceil(w / 2)]`` -> uint16 codes ``[..., w]``."""
    packed = np.asarray(packed, dtype=np.uint8)
    if packed.shape[-1] != packed_width(w):
        raise ValueError(f"a packed row of {w} float12 values has {packed_width(w)} bytes, not {packed.shape[-1]}")
    triples = packed.reshape(packed.shape[:-1] + (-1, 3)).astype(np.uint16)
    codes = np.empty(triples.shape[:-1] + (2,), dtype=np.uint16)
    codes[..., 0] = triples[..., 0] | ((triples[..., 1] & 0xF) << 8)
    codes[..., 1] = (triples[..., 1] >> 4) | (triples[..., 2] << 4)
    return codes.reshape(packed.shape[:-1] + (-1,))[..., :w]


def to_bytes(x: np.ndarray) -> np.ndarray:
    """float maps ``[..., w]`` -> their packed float12 bytes (:func:`encode` then :func:`pack`)."""
    return pack(encode(x))


def from_bytes(packed: np.ndarray, w: int) -> np.ndarray:
    """Packed float12 bytes ``[..., 3 * ceil(w / 2)]`` -> float32 ``[..., w]``."""
    return decode(unpack(packed, w))
