"""cIoU success rate and pIA as functions of a universal (raw-scale) threshold.

For each threshold ``t`` of a grid, every map is binarized with the strict rule ``map > t`` after
the run's upsampling, exactly as the clean protocol scores a universal threshold; positives give a
success rate (consensus IoU >= 0.5, 0/0 counted as a failure) and each negative variant a mean pIA.
The maps come in batches from whoever reads the heatmap store (the command layer); this module
only uses :mod:`vssleval.metrics` on arrays, so the value at a model's configured threshold equals
``ciou_<name>`` / ``pia_<neg>_<name>`` of its ``metrics.json``.
"""

from __future__ import annotations

import numpy as np

from typing import Any, Iterable, Mapping

from vssleval.errors import VsslevalError
from vssleval.metrics import GroundTruth, binarize, success_rate, upsample
from vssleval.metrics._array import count, count_above, flat
from vssleval.report.choices import DEFAULT_POINTS
from vssleval.report.runs import NEGATIVES, RunRecord



def threshold_grid(lo: float, hi: float, points: int = DEFAULT_POINTS, focus: np.ndarray | None = None) -> np.ndarray:
    """Sorted thresholds (raw map scale) from just below ``lo`` to ``hi``.

    ``points`` evenly spaced values, plus, when ``focus`` values are given (the maps' maxima),
    ``points // 2`` of their quantiles: the curves change fastest where the maxima lie, which an
    even grid can resolve poorly when one variant's maxima are far above the others'. The first
    point lies below every value so the curves start at "everything highlighted"; a degenerate
    range (constant maps) is widened so the grid still spans the value.
    """
    lo, hi = float(lo), float(hi)
    if not (np.isfinite(lo) and np.isfinite(hi)):
        raise ValueError(f"threshold range must be finite, got [{lo}, {hi}]")
    span = hi - lo
    if span <= 1e-12 * max(1.0, abs(hi)):
        span = max(1e-3, 0.05 * abs(hi))
        lo, hi = lo - span, hi + span
    grid = np.linspace(lo - 0.01 * span, hi, points)
    if focus is not None:
        f = np.asarray(focus, dtype=np.float64)
        f = f[np.isfinite(f)]
        if f.size:
            grid = np.concatenate([grid, np.quantile(f, np.linspace(0, 1, max(2, points // 2)))])
    return np.unique(grid)


class ThresholdSweep:
    """Streams batches of raw maps; :meth:`result` gives the curves.

    Args:
        grid: thresholds ``[T]`` on the raw map scale.
        op: the run's upsampling op (the same for every variant, as in the clean protocol).
    """

    def __init__(self, grid: np.ndarray, op: str = "bilinear"):
        self.grid = np.asarray(grid, dtype=np.float64)
        self.op = op
        self.n_pos = 0
        self.success = np.zeros(self.grid.size)
        self.pia_sum: dict[str, np.ndarray] = {}
        self.n_neg: dict[str, int] = {}
        self.nonfinite = 0
        # the last positive batch: (raw maps, finite rows, pixels above each threshold [T][b], pixels
        # per map); a negative batch equal to it (an audio-agnostic model's) takes its counts
        self._last: tuple[np.ndarray, np.ndarray, list[np.ndarray], int] | None = None

    def _up(self, maps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        m = np.asarray(maps, dtype=np.float32)
        ok = np.isfinite(m.reshape(len(m), -1)).all(axis=1)
        self.nonfinite += int((~ok).sum())
        up = np.asarray(upsample(m[ok], self.op))
        return up, ok

    def _above(self, up: np.ndarray) -> np.ndarray:
        """int64 ``[T, b]``: the pixels of each map above each threshold, ``count(binarize(up, t))``
        for every ``t`` of the grid, from each map's sorted values (one sort a map instead of one
        comparison of every pixel per threshold). The thresholds are compared in the maps' dtype,
        as ``binarize`` compares a Python float (NumPy's rule for a scalar beside an array)."""
        return count_above(up.reshape(len(up), -1), self.grid.astype(up.dtype))

    def add_positive(self, maps: np.ndarray, gt: np.ndarray) -> None:
        """Positive raw maps ``[B, h, w]`` and their ground truth ``[B, 224, 224]``."""
        up, ok = self._up(maps)
        self.n_pos += int(ok.size)  # a non-finite positive map counts as a failure at every t
        self._last = None
        if not ok.any():
            return
        gtf = GroundTruth(np.asarray(gt)[ok])
        if gtf.binary:  # pixel counts, from sorted values: the same integers, hence the same IoUs
            sizes = self._above(up)
            pixels = up.reshape(len(up), -1)
            inter = np.stack([count_above(pixels[i][gtf.nonzero[i]][None], self.grid.astype(up.dtype))[:, 0]
                              for i in range(len(up))], axis=1)
            ious = gtf.ciou_counts(inter, sizes)
            for j, iou in enumerate(ious):
                self.success[j] += success_rate(iou, 0.5) * iou.size
        else:  # weighted ground truth (Flickr's consensus): the masks themselves
            sizes = np.empty((self.grid.size, len(up)), np.int64)
            for j, t in enumerate(self.grid):
                mask = binarize(up, float(t))
                sizes[j] = count(flat(mask))
                iou = np.asarray(gtf.ciou(mask, sizes[j]))
                self.success[j] += success_rate(iou, 0.5) * iou.size
        self._last = (np.asarray(maps), ok, sizes, up.shape[1] * up.shape[2])

    def add_negative(self, variant: str, maps: np.ndarray) -> None:
        """Negative raw maps ``[B, h, w]`` of ``variant`` (silence, noise or offscreen)."""
        last = self._last
        if last is not None and _same_maps(maps, last[0]):  # an audio-agnostic model's: the positive's counts
            ok, sizes, pixels = last[1], last[2], last[3]
            self.nonfinite += int((~ok).sum())
        else:
            up, ok = self._up(maps)
            sizes, pixels = (self._above(up), up.shape[1] * up.shape[2]) if ok.any() else (None, 0)
        total = self.pia_sum.setdefault(variant, np.zeros(self.grid.size))
        self.n_neg[variant] = self.n_neg.get(variant, 0) + int(ok.size)
        total += float((~ok).sum())  # a non-finite negative map highlights everything (pIA 1)
        if not ok.any():
            return
        for j in range(self.grid.size):  # pia()'s arithmetic on the counts, one sum per threshold
            total[j] += float(np.sum(np.asarray(sizes[j], dtype=np.float64) / pixels))

    def result(self) -> dict[str, np.ndarray]:
        """``{'threshold': [T], 'ciou': [T], 'pia_<variant>': [T]}`` (fractions in [0, 1])."""
        out: dict[str, np.ndarray] = {"threshold": self.grid.copy()}
        out["ciou"] = self.success / self.n_pos if self.n_pos else np.full(self.grid.size, np.nan)
        for v, total in self.pia_sum.items():
            out[f"pia_{v}"] = total / self.n_neg[v] if self.n_neg[v] else np.full(self.grid.size, np.nan)
        return out



def _same_maps(a: np.ndarray, b: np.ndarray) -> bool:
    """Equal raw maps (dtype, shape and values; NaN never equal)."""
    a = np.asarray(a)
    return a.dtype == b.dtype and a.shape == b.shape and bool(np.array_equal(a, b))


def sweep_panel(run: RunRecord, batches: Iterable[tuple[np.ndarray, np.ndarray, Mapping[str, np.ndarray]]],
                op: str, seed: int, calibrated: float | None, max_samples: int, points: int) -> dict[str, Any]:
    """One run's panel of the threshold-sweep figure (:func:`vssleval.report.figures.sweep_figure`).

    Args:
        run: the loaded run (its ``per_sample.csv`` maxima span the grid; its configured thresholds
            are marked). batches: ``(positive [b,h,w], gt [b,224,224], {negative: [b,h,w]})`` in
            dataset order, one seed's maps (the caller reads the store). op: the run's upsampling.
        seed: the seed value of the batches (for the note). calibrated: the calibrated threshold
            (None: no threshold separates the variants). max_samples: stop after this many (0: all).
    """
    cols = run.columns
    lows = [cols[k] for k in (f"min_{v}" for v in ("positive", *run.negatives)) if k in cols]
    highs = np.concatenate([cols[f"max_{v}"] for v in ("positive", *run.negatives)])
    finite = highs[np.isfinite(highs)]
    if finite.size == 0:
        raise VsslevalError(f"{run.path / 'per_sample.csv'}: no finite raw-map maximum, nothing to sweep")
    lo = np.nanmin(np.concatenate(lows)) if lows else finite.min()
    sweep = ThresholdSweep(threshold_grid(lo if np.isfinite(lo) else finite.min(), finite.max(), points,
                                          focus=finite), op)
    used = 0
    for positive, gt, negatives in batches:
        n = len(positive) if not max_samples else min(len(positive), max_samples - used)
        if n <= 0:
            break
        sweep.add_positive(positive[:n], gt[:n])
        for v in NEGATIVES:
            if v in negatives:
                sweep.add_negative(v, negatives[v][:n])
        used += n
    total = run.metrics.get("n_samples", used)
    note = f"{used} of {total} samples, seed {seed}" if used < total else f"{used} samples, seed {seed}"
    if sweep.nonfinite:
        note += f", {sweep.nonfinite} non-finite maps scored as worst case"
    configured = {}
    for name, value in (run.metrics.get("thresholds") or {}).items():
        try:
            configured[str(name)] = float(value[0] if isinstance(value, list) else value)
        except (TypeError, ValueError, IndexError):
            continue
    return {"label": run.label, "curves": sweep.result(), "calibrated": calibrated, "configured": configured,
            "note": note}
