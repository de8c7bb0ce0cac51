"""Breakdowns of one run's per-sample scalars: by object size, by class, by a published split.

Pure functions of per-seed records (``{field: float64 [N]}``, every seed with the same samples in the
same order). The fields a protocol's records use are named by the caller (the clean protocol's
:attr:`~vssleval.metrics.protocols.base.Protocol.breakdown_fields`: the median-rule IoU, the
ground-truth area, pIA per negative). Metrics are the seed means of the subset's success rate
(cIoU@0.5), success-curve AUC and mean pIA (docs/metrics.md §11.3).
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from .curves import auc, success_rate
from .detection import SIZE_BINS

Records = Mapping[str, np.ndarray]


def _seed_mean(values: Sequence[float]) -> float:
    v = np.asarray(values, np.float64)
    return float(np.mean(v)) if v.size else float("nan")


def subset_metrics(seeds: Sequence[Records], mask: np.ndarray, iou: str,
                   pia: Mapping[str, str] | None = None) -> dict[str, float]:
    """cIoU@0.5 and AUC of ``iou`` (NaN as 0), and mean pIA of each ``pia`` field, over the samples
    of ``mask`` ``[N]``, averaged over seeds: ``{'n', 'ciou', 'auc', 'pia_<neg>'}`` (NaN if empty).

    Examples:
    >>> rec = {"iou": np.array([0.6, 0.2, 0.9]), "p": np.array([0.1, 0.3, 0.0])}
    >>> m = subset_metrics([rec], np.array([True, True, False]), "iou", {"silence": "p"})
    >>> m["n"], m["ciou"], round(m["pia_silence"], 6)
    (2, 0.5, 0.2)
    """
    mask = np.asarray(mask, bool)
    out: dict[str, Any] = {"n": int(mask.sum())}
    if not mask.any():
        out.update(ciou=float("nan"), auc=float("nan"), **{f"pia_{x}": float("nan") for x in (pia or {})})
        return out
    ious = [np.nan_to_num(np.asarray(r[iou], np.float64)[mask], nan=0.0) for r in seeds]
    out["ciou"] = _seed_mean([success_rate(v) for v in ious])
    out["auc"] = _seed_mean([float(auc(v)) for v in ious])
    for x, field in (pia or {}).items():
        out[f"pia_{x}"] = _seed_mean([float(np.mean(np.asarray(r[field], np.float64)[mask])) for r in seeds])
    return out


def size_bin_masks(area: np.ndarray) -> dict[str, np.ndarray]:
    """``{bin: [N] bool}``: Mo & Morgado's bins of the ground-truth area (pixels on the 224 grid,
    half-open: small < 32², medium < 96², large < 144², huge); samples of area 0 are in none.

    Examples:
    >>> {k: v.tolist() for k, v in size_bin_masks(np.array([0.0, 500.0, 20000.0, 30000.0])).items()}
    {'small': [False, True, False, False], 'medium': [False, False, False, False], 'large': [False, False, True, False], 'huge': [False, False, False, True]}
    """
    a = np.asarray(area, np.float64)
    return {name: (a > 0) & (a >= lo) & (a < hi) for name, (lo, hi) in SIZE_BINS.items()}


def size_breakdown(seeds: Sequence[Records], iou: str, area: str) -> dict[str, float]:
    """``ciou_size_<bin>``, ``auc_size_<bin>``, ``n_size_<bin>`` for every size bin."""
    out: dict[str, float] = {}
    for name, mask in size_bin_masks(seeds[0][area]).items():
        m = subset_metrics(seeds, mask, iou)
        out[f"ciou_size_{name}"], out[f"auc_size_{name}"], out[f"n_size_{name}"] = m["ciou"], m["auc"], m["n"]
    return out


def split_breakdown(seeds: Sequence[Records], membership: Mapping[str, np.ndarray], iou: str) -> dict[str, float]:
    """``ciou_<part>``, ``auc_<part>``, ``n_<part>`` for each part of a split (e.g. heard / unheard),
    ``membership``: ``{part: [N] bool}``."""
    out: dict[str, float] = {}
    for part, mask in membership.items():
        m = subset_metrics(seeds, mask, iou)
        out[f"ciou_{part}"], out[f"auc_{part}"], out[f"n_{part}"] = m["ciou"], m["auc"], m["n"]
    return out


def class_table(seeds: Sequence[Records], labels: Sequence[str], iou: str,
                pia: Mapping[str, str] | None = None) -> list[dict[str, Any]]:
    """One row per class (sorted by name): ``{'class', 'n', 'ciou', 'auc', 'pia_<neg>'}``.

    Examples:
    >>> rec = {"iou": np.array([0.6, 0.2, 0.9])}
    >>> [(r["class"], r["n"], r["ciou"]) for r in class_table([rec], ["dog", "cat", "dog"], "iou")]
    [('cat', 1, 0.0), ('dog', 2, 1.0)]
    """
    lab = np.asarray([str(x) for x in labels])
    return [{"class": c, **subset_metrics(seeds, lab == c, iou, pia)} for c in sorted(set(lab.tolist()))]
