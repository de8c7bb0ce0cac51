"""Annotation boxes → integer 224-px boxes, one function per source coordinate frame.

All functions return int64 ``[K, 4]`` ``(xmin, ymin, xmax, ymax)`` boxes on the 224 grid, half-open,
converted by truncation toward zero (never rounding). They raise :class:`BoxError` for boxes that
cannot be meant: a NaN/inf coordinate, the wrong number of values, or an *inverted* box (max < min,
checked before clipping).

Out-of-frame coordinates are then clipped, as every official loader does; this is what turns the
corrupted −2.88e16 values of the public ``vggss.json`` (more than a frame outside the frame, so
exempt from the inversion check) into empty boxes (docs/datasets.md §2.3) — those records are
kept, with an empty box, exactly like the reference code.
"""

from __future__ import annotations

import numpy as np

from vssleval.data.types import GT_SIZE


class BoxError(ValueError):
    """A box that cannot be converted; the message says which box and why."""


def _as_boxes(raw) -> np.ndarray:
    try:
        arr = np.asarray(raw, dtype=np.float64)
    except (TypeError, ValueError) as exc:
        raise BoxError(f"boxes are not numbers: {raw!r}") from exc
    if arr.size == 0:
        return np.zeros((0, 4), dtype=np.float64)
    if arr.ndim == 1:
        arr = arr[None, :]
    if arr.ndim != 2 or arr.shape[1] != 4:
        raise BoxError(f"expected boxes of 4 values [xmin, ymin, xmax, ymax], got shape {arr.shape}")
    return arr


def _check(arr: np.ndarray, lo: float, hi: float) -> None:
    """Refuse NaN/inf and inverted boxes, on the values as written (before any clipping).

    A box is inverted when ``xmax < xmin`` or ``ymax < ymin``. The one exception is a *corrupted*
    coordinate, more than a whole frame outside the frame (the −2.88e16 of the public VGG-SS file,
    docs/datasets.md §2.3): the official loaders clip it, which empties its box, and so do we.
    """
    bad = ~np.isfinite(arr).all(axis=1)
    if bad.any():
        k = int(np.flatnonzero(bad)[0])
        raise BoxError(f"box {k} has a NaN or infinite coordinate: {arr[k].tolist()}")
    span = hi - lo
    corrupt = (arr < lo - span) | (arr > hi + span)
    inv_x = (arr[:, 2] < arr[:, 0]) & ~(corrupt[:, 0] | corrupt[:, 2])
    inv_y = (arr[:, 3] < arr[:, 1]) & ~(corrupt[:, 1] | corrupt[:, 3])
    inverted = inv_x | inv_y
    if inverted.any():
        k = int(np.flatnonzero(inverted)[0])
        raise BoxError(f"box {k} is inverted (xmax < xmin or ymax < ymin, before clipping to the frame): "
                       f"{arr[k].tolist()}")


def frame_fractions(raw, frame: float = 1.0) -> np.ndarray:
    """Boxes as fractions of the frame, exactly as the annotation gives them (no clipping, no
    rounding): float64 ``[K, 4]`` = ``raw / frame``. ``frame`` is 1 for VGG-SS's normalised boxes,
    224 for IS3's pixels, the frame size for Flickr. This is what a repository's own evaluator reads
    (docs/protocols.md §11.3), so degenerate records keep their repository-specific pixels."""
    return _as_boxes(raw) / float(frame)


def normalized_to_grid(raw, size: int = GT_SIZE) -> np.ndarray:
    """VGG-SS: boxes normalised to [0, 1] → ``int(clip(c, 0, 1) * size)`` per coordinate.

    Args:
        raw: ``[K, 4]`` (or one ``[4]``) normalised ``(xmin, ymin, xmax, ymax)``.

    Returns:
        int64 ``[K, 4]`` on the ``size`` grid.
    """
    arr = _as_boxes(raw)
    _check(arr, 0.0, 1.0)
    return (np.clip(arr, 0.0, 1.0) * size).astype(np.int64)  # values >= 0, so astype == trunc


def pixels_to_grid(raw, size: int = GT_SIZE) -> np.ndarray:
    """IS3: boxes already in ``size``-px coordinates (floats with integral values) → ``int(v)``.

    Coordinates are clipped to ``[0, size]`` first so that slicing never wraps around.
    """
    arr = _as_boxes(raw)
    _check(arr, 0.0, float(size))
    return np.clip(arr, 0.0, float(size)).astype(np.int64)


def frame_to_grid(raw, frame: int = 256, size: int = GT_SIZE) -> np.ndarray:
    """Flickr-SoundNet: integer boxes in a ``frame``-px square → ``trunc(size * v / frame)``."""
    arr = _as_boxes(raw)
    _check(arr, 0.0, float(frame))
    arr = np.clip(arr, 0.0, float(frame))
    return np.floor(size * arr / frame).astype(np.int64)  # >= 0, so floor == truncation
