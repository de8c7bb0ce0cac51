"""Clean default protocol ``vssleval``: one rule per metric, one NaN rule, identical upsampling.

Differences from ``juanola2025`` (docs/protocols.md §7.2 and §8): every variant (positive, negatives,
object map) goes through the *same* upsampling op; the median rule alone defines ``ciou``/``auc``
(no pooling); success rates are success rates (IoU >= 0.5) at every threshold, mean IoUs are
named ``miou_*``; the OGL blend min-max normalizes both maps and the blend (as upstream EZ-VSL);
results are per seed, then mean and std over seeds.

NaN rules (one each, documented in docs/metrics.md §7.5):
* IoU 0/0 (empty GT and empty mask) is a failure: it counts as 0 in means and fails every
  success threshold; such samples are counted in ``n_nan_iou``.
* A map containing NaN/inf is *invalid*: counted in ``nonfinite_<variant>`` and scored as the
  worst case - a positive gets IoU 0 and confidence -inf (never detected), a negative gets
  pIA 1 and confidence +inf (always a false positive); its raw max/min are left out of the
  max/min statistics and of the calibration.

A little over 500 lines on purpose: the protocol's per-sample records, its dataset numbers and its
per-seed aggregation share the rules above, and keeping them in one file keeps each rule defined
once (the metric functions themselves live in ``vssleval/metrics/*.py``).
"""

from __future__ import annotations

from typing import Any, Mapping, Sequence

import numpy as np

from .._array import (Array, as_float32, count, flat, is_torch, isfinite_rows, map_chunks, to_numpy,
                      to_numpy_if_cpu, workspace)
from ..calibration import auroc, auroc_resampled
from ..curves import aoc, auc, instance_auc, instance_iou, success_rate
from ..detection import ap_f1_rows, average_precision, confidence, max_f1, precision_all_detected
from ..overlap import GroundTruth, map_iou_counts
from ..stats import extremes, f_score, summary
from ..thresholds import adaptive_threshold, upper_median_threshold
from ..upsample import minmax_normalize, upsample, upsample_into
from .. import resampling as rs
from ..catalog import Metric, StatContext, needs
from .base import NEGATIVES, Protocol, SeedRecords, Setup
from ...vocabulary import PROTOCOL_SUMMARIES
OGL_ALPHA = 0.4
#: Preset audio keys that exist only to reproduce vssl_eval's negative-audio quirks (``variants``:
#: per-variant front-end overrides, ``noise_draws``: FNAC's double draw); this protocol drops them
#: so silence, noise and offscreen audio go through the positive's front-end (docs/protocols.md §2.5).
QUIRK_NEGATIVE_AUDIO_KEYS = ("variants", "noise_draws")


def _np(x) -> np.ndarray:
    return np.asarray(to_numpy(x), dtype=np.float64)


#: rows per chunk on CPU: per-chunk temporaries stay small and upsampled maps go to reused
#: buffers (numbers are per row, so chunking changes no value; tested)
_CHUNK = 8


def sample_records(maps: Mapping[str, Array | None], gt: Array, thresholds: Mapping[str, float],
                   op: str, ogl: Array | None = None, threads: int | None = None,
                   known: Mapping[str, Array] | None = None) -> dict[str, np.ndarray]:
    """Per-sample scalars of one batch of one seed.

    Args:
        maps: ``{'positive': [B,h,w], 'silence'|'noise'|'offscreen': [B,h,w] or None}`` raw maps.
        gt: ``[B,224,224]`` ground truth in [0, 1]. thresholds: ``{name: value}`` universal
            thresholds on the raw scale (may be empty). op: upsampling op for every variant.
        ogl: optional raw object maps ``[B,h',w']``.
        threads: CPU workers over chunks of rows (default ``torch.get_num_threads()``); values
            do not depend on it (each row's numbers are computed alone).
        known: ``{variant: [B, 2]}`` the raw maps' (max, min) where ``maps`` are not the raw maps (a
            store keeping them resized, docs/models.md §2.8): ``max_``/``min_`` are these, and a
            finite map is flat when its raw max equals its raw min.
    Returns:
        ``{field: float64 [B]}``: ``max_/min_/conf_/nonfinite_<variant>``, ``iou_med``,
        ``iou_adap``, ``iou_<u>``, ``pia_<neg>_<rule>``, ``mapiou_<neg>_<u>``, ``area``,
        ``iou_med_ogl``/``iou_adap_ogl`` when ``ogl`` is given.
    """
    per_seed = {v: None if m is None else [m] for v, m in maps.items()}
    known_per_seed = {v: [e] for v, e in (known or {}).items()}
    return seeds_sample_records(per_seed, gt, thresholds, op, ogl, threads, known_per_seed)[0]


def seeds_sample_records(maps: Mapping[str, Sequence[Array] | None], gt: Array, thresholds: Mapping[str, float],
                         op: str, ogl: Array | None = None, threads: int | None = None,
                         known: Mapping[str, Sequence[Array]] | None = None) -> list[dict[str, np.ndarray]]:
    """:func:`sample_records` of one batch for every seed at once: ``maps[v][s]`` is seed ``s``'s
    raw map ``[B,h,w]`` of variant ``v`` (a list of one: the same map in every seed; ``None``: not
    evaluated; the positive is one map for every seed). ``known[v][s]``: the raw (max, min)
    ``[B, 2]`` of that map, in the same per-seed form, where the maps are not the raw maps.
    Returns one record dict per seed.

    A map object given for several seeds (the positive and the silence maps, which no seed
    changes) is scored once, and a negative map equal to the positive one (an audio-agnostic
    model's) reuses the positive's upsampled map and statistics: the records are those of one
    :func:`sample_records` call per seed, value for value (tested), at a fraction of the cost.
    """
    n_seeds = max(len(m) for m in maps.values() if m is not None)
    maps = {v: None if m is None else (list(m) * n_seeds if len(m) == 1 else list(m)) for v, m in maps.items()}
    if any(m is not None and len(m) != n_seeds for m in maps.values()):
        raise ValueError(f"every variant needs one map per seed ({n_seeds}) or one for all seeds")
    if any(m is not maps["positive"][0] for m in maps["positive"]):
        raise ValueError("the positive map must be one array for every seed (no seed changes it)")
    arrays = [a for a in (*(x for m in maps.values() if m is not None for x in m), gt, ogl) if a is not None]
    n = gt.shape[0]
    known = {v: list(e) * n_seeds if len(e) == 1 else list(e) for v, e in (known or {}).items()}
    if any(v not in maps or maps[v] is None or len(e) != n_seeds for v, e in known.items()):
        raise ValueError(f"known extremes need a given variant and one [B, 2] per seed ({n_seeds}) or one for all")
    if n <= _CHUNK or any(is_torch(a) and a.device.type != "cpu" for a in arrays):
        return _chunk_records(maps, gt, thresholds, op, ogl, n_seeds, known)

    def chunk(s: int) -> list[dict[str, np.ndarray]]:
        sl = slice(s, s + _CHUNK)
        return _chunk_records({v: (None if m is None else _rows_of(m, sl)) for v, m in maps.items()}, gt[sl],
                              thresholds, op, None if ogl is None else ogl[sl], n_seeds,
                              {v: _rows_of(e, sl) for v, e in known.items()})

    parts = map_chunks(chunk, n, _CHUNK, threads)
    return [{k: np.concatenate([p[s][k] for p in parts]) for k in parts[0][s]} for s in range(n_seeds)]


def _rows_of(per_seed: Sequence[Array], sl: slice) -> list[Array]:
    """Rows ``sl`` of every seed's map; one object per distinct input object (so sharing survives)."""
    views: dict[int, Array] = {}
    return [None if m is None else views.setdefault(id(m), m[sl]) for m in per_seed]


def _upsampled(raw: Array, op: str, name: str) -> tuple[Array, Array]:
    """``flat(upsample(raw, op))`` and which rows of ``raw`` are flat (constant), as ``[B]`` bools of
    the same kind as the upsampled maps; numpy input is written into a reused per-thread buffer.

    Flatness is decided on the raw map, and the upsampled row of a flat raw map is that constant:
    every op reproduces a constant in exact arithmetic, but ``bilinear_ac``, ``bicubic_ac`` and
    ``bicubic`` round it into a few distinct float32 values (docs/protocols.md §8.3).
    """
    x = as_float32(raw)
    if is_torch(x):
        up = flat(to_numpy_if_cpu(upsample(x, op)))
        rows = x.reshape(x.shape[0], -1)
        level = rows[:, :1]
        flat_rows = (rows == level).all(dim=1)
        if not is_torch(up):
            flat_rows, level = flat_rows.cpu().numpy(), level.cpu().numpy()
    else:
        buf = workspace(f"clean_up_{name}", (_CHUNK, 224, 224), np.float32)
        out = buf[:x.shape[0]] if x.shape[0] <= _CHUNK else np.empty((x.shape[0], 224, 224), np.float32)
        up = flat(upsample_into(x, op, out))
        rows = x.reshape(x.shape[0], -1)
        level = rows[:, :1]
        flat_rows = (rows == level).all(axis=1)
    if is_torch(up):
        import torch

        return torch.where(flat_rows[:, None], level.to(up.device), up), flat_rows
    if flat_rows.any():
        up[flat_rows] = level[flat_rows]
    return up, flat_rows


def _chunk_records(maps: Mapping[str, Sequence[Array] | None], gt: Array, thresholds: Mapping[str, float],
                   op: str, ogl: Array | None, n_seeds: int,
                   known: Mapping[str, Sequence[Array]] | None = None) -> list[dict[str, np.ndarray]]:
    """:func:`seeds_sample_records` on one chunk of rows (``maps[v][s]``: ``[b,h,w]``;
    ``known[v][s]``: ``[b, 2]``)."""
    gtf = GroundTruth(to_numpy_if_cpu(gt))
    area = _np(gtf.mass)
    known = known or {}
    pos_known = known.get("positive", [None])[0]
    pos = _Variant(maps["positive"][0], op, "positive", pos_known)
    p = pos.up
    hw = p.shape[1]
    rules = {"med": _flat_selects_all(upper_median_threshold(p), pos.flat),
             "adap": _flat_selects_all(adaptive_threshold(p, gtf.nonzero), pos.flat)}
    rules.update({u: float(t) for u, t in thresholds.items()})
    masks = {r: _gt(p, t) for r, t in rules.items()}
    iou = {r: np.where(pos.ok, _np(gtf.ciou(m)), 0.0) for r, m in masks.items()}
    ogl_rec = _ogl_records(pos, ogl, op, gtf) if ogl is not None else {}
    last: dict[str, tuple[Any, ...]] = {}  # variant -> (input, state, fields, known extremes)

    def scored(v: str, raw: Array, ext: Array | None) -> tuple[_Variant, dict[str, np.ndarray]]:
        """The state and negative fields of variant ``v``'s map ``raw`` (raw extremes ``ext``); the
        previous seed's when both are the same objects, the positive's state when its values are
        the positive's."""
        if v in last and last[v][0] is raw and last[v][3] is ext:
            return last[v][1], last[v][2]
        same = v == "positive" or (_same_values(raw, pos.raw) and _same_known(ext, pos_known))
        st = pos if same else _Variant(raw, op, v, ext)
        fields = {} if v == "positive" else _negative_fields(v, st, pos, rules, masks, thresholds, hw)
        last[v] = (raw, st, fields, ext)
        return st, fields

    out = []
    for s in range(n_seeds):
        rec: dict[str, np.ndarray] = {"area": area}
        negs: dict[str, dict[str, np.ndarray]] = {}
        for v, per_seed in maps.items():
            if per_seed is None or per_seed[s] is None:
                continue
            st, negs[v] = scored(v, per_seed[s], known[v][s] if v in known else None)
            rec[f"nonfinite_{v}"] = st.nonfinite
            rec[f"max_{v}"], rec[f"min_{v}"] = st.max, st.min
            rec[f"conf_{v}"] = np.where(st.ok, st.conf, -np.inf if v == "positive" else np.inf)
        for r in rules:
            rec[f"iou_{r}"] = iou[r]
            for x in NEGATIVES:
                if x in negs:
                    rec[f"pia_{x}_{r}"] = negs[x][f"pia_{x}_{r}"]
                    if r in thresholds:
                        rec[f"mapiou_{x}_{r}"] = negs[x][f"mapiou_{x}_{r}"]
        rec.update(ogl_rec)
        out.append(rec)
    return out


class _Variant:
    """One variant's raw map ``[b,h,w]`` scored alone: validity, raw extremes, upsampled map,
    flat rows and confidence (the parts of its records that need no other map). ``known``: the raw
    map's (max, min) ``[b, 2]`` where ``raw`` is a stored resize of it (docs/models.md §2.8)."""

    def __init__(self, raw: Array, op: str, name: str, known: Array | None = None):
        self.raw = to_numpy_if_cpu(raw)
        self.ok = _np(isfinite_rows(self.raw)).astype(bool)
        self.nonfinite = (~self.ok).astype(np.float64)
        mx, mn = extremes(self.raw, known)
        self.max, self.min = np.where(self.ok, mx, np.nan), np.where(self.ok, mn, np.nan)
        clean = self.raw if self.ok.all() else _zero_nonfinite(self.raw)
        self.up, self.flat = _upsampled(to_numpy_if_cpu(clean), op, name)
        if known is not None:  # flat is a property of the raw map (a stored map is its resize)
            self.flat = _known_flat(self.flat, self.ok & (mx == mn), self.ok)
        self.conf = confidence(self.up)


def _same_known(a: Array | None, b: Array | None) -> bool:
    """True when two known-extremes arrays (or None) are the same values."""
    if a is None or b is None:
        return a is None and b is None
    return bool(np.array_equal(to_numpy(a), to_numpy(b)))


def _same_values(a: Array, b: Array) -> bool:
    """True when ``a`` and ``b`` are arrays of one kind, dtype and shape with equal values (NaN: never)."""
    a = to_numpy_if_cpu(a)
    if is_torch(a) != is_torch(b) or tuple(a.shape) != tuple(b.shape) or a.dtype != b.dtype:
        return False
    if is_torch(a):
        import torch

        return a.device == b.device and bool(torch.equal(a, b))
    return bool(np.array_equal(a, b))


def _negative_fields(x: str, st: _Variant, pos: _Variant, rules: Mapping[str, Any], masks: Mapping[str, Array],
                     thresholds: Mapping[str, float], hw: int) -> dict[str, np.ndarray]:
    """``pia_<x>_<rule>`` (and ``mapiou_<x>_<u>`` for the universal thresholds) of negative ``x``;
    a negative scored by the positive's state shares its masks."""
    out: dict[str, np.ndarray] = {}
    for r, t in rules.items():
        mx_ = masks[r] if st is pos else _gt(st.up, t)
        out[f"pia_{x}_{r}"] = np.where(st.ok, _np(count(mx_)) / hw, 1.0)
        if r in thresholds:
            m = masks[r]
            mi = _np(map_iou_counts(count(m), count(mx_), count(m & mx_)))
            out[f"mapiou_{x}_{r}"] = np.where(st.ok & pos.ok, mi, 0.0)
    return out


def _ogl_records(pos: _Variant, ogl: Array, op: str, gtf: GroundTruth) -> dict[str, np.ndarray]:
    """``iou_med_ogl`` / ``iou_adap_ogl``: the positive map blended with the object prior."""
    p = pos.up
    obj, flat_obj = _upsampled(to_numpy_if_cpu(ogl), op, "ogl")
    side = int(round(p.shape[1] ** 0.5))
    # a flat map has no spatial preference: it enters the blend as 0 (not as its level, which
    # would shift the blend's float32 rounding by a value-dependent amount)
    a = _zero_rows(minmax_normalize(p.reshape(-1, side, side)), pos.flat)
    o = _zero_rows(minmax_normalize(obj.reshape(-1, side, side)), flat_obj)
    blend = flat(minmax_normalize(OGL_ALPHA * a + (1 - OGL_ALPHA) * o))
    both_flat = pos.flat & flat_obj
    rec = {}
    for r, t in (("med", _flat_selects_all(upper_median_threshold(blend), both_flat)),
                 ("adap", _flat_selects_all(adaptive_threshold(blend, gtf.nonzero), both_flat))):
        rec[f"iou_{r}_ogl"] = np.where(pos.ok, _np(gtf.ciou(_gt(blend, t))), 0.0)
    return rec


def _known_flat(flat_rows, raw_flat: np.ndarray, ok: np.ndarray):
    """``flat_rows`` (numpy or torch ``[B]``) with the rows of finite maps (``ok``) replaced by
    ``raw_flat``, the flatness of their raw maps (max == min)."""
    if is_torch(flat_rows):
        import torch

        return torch.where(torch.as_tensor(ok, device=flat_rows.device),
                           torch.as_tensor(raw_flat, device=flat_rows.device), flat_rows)
    return np.where(ok, raw_flat, flat_rows)


def _flat_selects_all(t, flat_rows):
    """Rank thresholds ``t`` [B] of maps whose raw map is flat (``flat_rows`` [B]) become -inf: a
    constant map selects every pixel.

    A constant map has no spatial preference, i.e. it predicts the whole image (the "whole image"
    baseline of the literature, and the all-on mask that EZ-VSL's ``>=`` rule gives); a strict
    ``>`` at its own median would select nothing and score it as silent instead. Negative maps are
    thresholded at the positive's threshold, so a flat positive map makes every negative pixel
    count (pIA 1). Flatness is a property of the raw map (decided before upsampling, see
    :func:`_upsampled`). The compat protocol keeps vssl_eval's literal strict ``>`` (nothing
    selected). See docs/protocols.md §8.3.
    """
    if is_torch(t):
        import torch

        return torch.where(torch.as_tensor(flat_rows, device=t.device), torch.full_like(t, float("-inf")), t)
    return np.where(np.asarray(flat_rows), -np.inf, t)


def _zero_rows(maps, rows):
    """``maps`` [B, h, w] with the maps of ``rows`` [B] set to 0."""
    if is_torch(maps):
        import torch

        return torch.where(torch.as_tensor(rows, device=maps.device)[:, None, None], torch.zeros_like(maps), maps)
    return np.where(np.asarray(rows)[:, None, None], np.zeros_like(maps), maps)


def _gt(m, t):
    return m > (t[:, None] if hasattr(t, "shape") else t)


def _zero_nonfinite(raw):
    if hasattr(raw, "nan_to_num"):
        import torch

        return torch.where(torch.isfinite(raw), raw, torch.zeros_like(raw))
    return np.where(np.isfinite(raw), raw, 0)


def seed_metrics(rec: Mapping[str, np.ndarray], thresholds: Sequence[str],
                 groups: Sequence[str] | None = None) -> dict[str, float]:
    """Metrics of one seed from its per-sample scalars (fractions in [0, 1], raw-scale stats).

    Raw IoUs may hold NaN (0/0): they are counted (``n_nan_iou``) and scored as failures/0.
    """
    out: dict[str, float] = {}
    nan_iou = np.isnan(rec["iou_med"])
    out["n_nan_iou"] = float(nan_iou.sum())
    iou = {k[4:]: np.nan_to_num(v, nan=0.0) for k, v in rec.items() if k.startswith("iou_")}
    out["ciou"], out["auc"] = success_rate(iou["med"]), float(auc(iou["med"]))
    out["ciou_adap"], out["auc_adap"] = success_rate(iou["adap"]), float(auc(iou["adap"]))
    out["miou"] = float(np.mean(iou["med"]))
    for u in thresholds:
        out[f"ciou_{u}"], out[f"auc_{u}"] = success_rate(iou[u]), float(auc(iou[u]))
        out[f"miou_{u}"] = float(np.mean(iou[u]))
    if "med_ogl" in iou:
        out["ciou_ogl"], out["auc_ogl"] = success_rate(iou["med_ogl"]), float(auc(iou["med_ogl"]))
        out["ciou_adap_ogl"], out["auc_adap_ogl"] = success_rate(iou["adap_ogl"]), float(auc(iou["adap_ogl"]))
    negs = [x for x in NEGATIVES if f"conf_{x}" in rec]
    for x in negs:
        for r in ("med", "adap", *thresholds):
            out[f"pia_{x}_{r}"] = float(np.mean(rec[f"pia_{x}_{r}"]))
            out[f"aoc_{x}_{r}"] = float(aoc(rec[f"pia_{x}_{r}"]))
        for u in thresholds:
            out[f"mapiou_positive_{x}_{u}"] = float(np.mean(rec[f"mapiou_{x}_{u}"]))
            out[f"f_positive_{x}_{u}"] = f_score(out[f"ciou_{u}"], 1 - out[f"pia_{x}_{u}"])
            out[f"f_auc_aoc_{x}_{u}"] = f_score(out[f"auc_{u}"], out[f"aoc_{x}_{u}"])
    # Mo & Morgado detection metrics: positives vs every negative map of the same images
    out["loc_acc"] = precision_all_detected(iou["med"], np.ones(iou["med"].size, bool))
    for name, subset in [("", negs)] + [(f"_{x}", [x]) for x in negs]:
        if subset:
            inputs = detection_inputs(rec, subset)
            out[f"ap{name}"] = average_precision(*inputs)
            out[f"max_f1{name}"] = max_f1(*inputs)
    for v in ("positive", *negs):
        for s in ("max", "min"):
            vals = rec[f"{s}_{v}"]
            for k, val in summary(vals[np.isfinite(vals)]).items():
                out[f"{s}_{v}_{k}"] = val
        out[f"nonfinite_{v}"] = float(np.sum(rec[f"nonfinite_{v}"]))
    for x in negs:
        out[f"auroc_max_{x}"] = auroc(rec["max_positive"], rec[f"max_{x}"])
    if negs:
        out["auroc_max_neg"] = auroc(rec["max_positive"], np.concatenate([rec[f"max_{x}"] for x in negs]))
    if groups is not None:
        out["iiou"] = instance_iou(iou["med"], groups)
        out["iauc"] = instance_auc(iou["med"], groups)
        out["iiou_adap"] = instance_iou(iou["adap"], groups)
        out["iauc_adap"] = instance_auc(iou["adap"], groups)
    return out


def detection_inputs(rec: Mapping[str, np.ndarray], negatives: Sequence[str]
                     ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``(conf, ciou, positive)`` of the detection metrics: every positive map (its median-rule
    IoU, NaN as 0) against the maps of ``negatives`` of the same images (IoU 0, not positive).

    Fields are ``[n]`` (one sample set) or ``[P, n]`` (P resampled sets); the maps are laid out
    along the last axis, positives first."""
    iou = np.asarray(rec["iou_med"], np.float64)
    conf = np.concatenate([np.asarray(rec["conf_positive"])] + [np.asarray(rec[f"conf_{x}"]) for x in negatives],
                          axis=-1)
    ious = np.concatenate([np.nan_to_num(iou, nan=0.0)] + [np.zeros_like(iou)] * len(negatives), axis=-1)
    positive = np.zeros(conf.shape, bool)
    positive[..., :iou.shape[-1]] = True
    return conf, ious, positive


#: Records that do not depend on the seed: the positive and the silence maps are the same in
#: every seed (only the noise draw and the offscreen clip change), so their statistics are too.
_SEED_FREE_VARIANTS = ("positive", "silence")


def _detection_rows(negatives: Sequence[str]):
    """AP and max-F1 of every row set (a statistic's pair, computed once per row set and seed: the
    bootstrap asks ``ap`` for every seed's records, then ``max_f1`` for the same ones, so the
    results of the current row set are kept for every seed until the row set changes)."""
    memo: dict[str, Any] = {"rows": None, "by_rec": {}}

    def both(rec: Mapping[str, np.ndarray], rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        if memo["rows"] is not rows:
            memo.update(rows=rows, by_rec={})
        hit = memo["by_rec"].get(id(rec))
        if hit is None or hit[0] is not rec:
            taken = {f: np.asarray(rec[f])[rows] for f in ("iou_med", "conf_positive", *(f"conf_{x}" for x in negatives))}
            hit = memo["by_rec"][id(rec)] = (rec, ap_f1_rows(*detection_inputs(taken, negatives)))
        return hit[1]

    return both


def _negatives(context: StatContext) -> list[str]:
    """The negatives whose per-sample records the context holds (their ``conf_<x>``), in order."""
    return [x for x in NEGATIVES if f"conf_{x}" in context.fields]


def _detection(which: int):
    """Builder of AP (``which`` 0) or max-F1 (1) over every negative the records hold; the two share
    one :func:`_detection_rows` per context, so each row set is scored once for both."""
    def build(context: StatContext) -> rs.Stat | str:
        negs = _negatives(context)
        if not negs or "iou_med" not in context.fields:
            return "the per-sample records hold no negative audio (or no iou_med)"
        both = context.shared("detection", lambda: _detection_rows(negs))
        return lambda rec, rows: both(rec, rows)[which]
    return build


def _auroc_pooled(context: StatContext) -> rs.Stat | str:
    """AUROC of the positive maxima against the pooled maxima of every negative the records hold."""
    negs = _negatives(context)
    if not negs or "max_positive" not in context.fields:
        return "the per-sample records hold no negative audio (or no max_positive)"
    return lambda rec, rows: auroc_resampled(rec["max_positive"], [rec[f"max_{x}"] for x in negs], rows)


def _seed_rule(variant: str) -> str:
    return rs.FIRST_SEED if variant in _SEED_FREE_VARIANTS else rs.SEED_MEAN


_LOC = "Localization under positive audio"
_NEG = "Negative audio (silence, noise, offscreen)"

#: the clean protocol's catalog (docs/metrics.md §12): definitions as :func:`seed_metrics`
CATALOG = (
    Metric("ciou", "cIoU@0.5", "cIoU@0.5", True, _LOC, needs(["iou_med"], lambda: rs.success_of("iou_med")),
           rs.FIRST_SEED, leaderboard=True, compare=True),
    Metric("auc", "AUC", "AUC", True, _LOC, needs(["iou_med"], lambda: rs.auc_of("iou_med")), rs.FIRST_SEED,
           leaderboard=True, compare=True),
    Metric("ciou_adap", "cIoU_adap", "cIoU_adap", True, _LOC,
           needs(["iou_adap"], lambda: rs.success_of("iou_adap")), rs.FIRST_SEED),
    Metric("auc_adap", "AUC_adap", "AUC_adap", True, _LOC, needs(["iou_adap"], lambda: rs.auc_of("iou_adap")),
           rs.FIRST_SEED),
    Metric("ap", "AP", "AP", True, _LOC, _detection(0), leaderboard=True, compare=True),
    Metric("max_f1", "max-F1", "max-F1", True, _LOC, _detection(1), leaderboard=True),
    *(Metric(f"pia_{x}_adap", f"pIA {x}", f"pIA {x}", False, _NEG,
             needs([f"pia_{x}_adap"], lambda x=x: rs.mean_of(f"pia_{x}_adap")), _seed_rule(x),
             leaderboard=True, compare=True) for x in NEGATIVES),
    Metric("auroc_max_neg", "AUROC max (positive vs negative)", "AUROC max", True, _NEG, _auroc_pooled,
           leaderboard=True),
    *(Metric(f"max_{v}_median", f"median max {v}", f"med. max {v}", None, _NEG,
             needs([f"max_{v}"], lambda v=v: rs.median_of(f"max_{v}")), _seed_rule(v))
      for v in ("positive", *NEGATIVES)),
)


class CleanProtocol(Protocol):
    """The clean default: per-seed metrics, then mean and std over seeds (module docstring)."""

    name = "vssleval"
    summary = PROTOCOL_SUMMARIES[name]
    rank = 0
    nonfinite_rule = "each scored as the worst case"
    metrics = CATALOG
    leaderboard_note = "pIA under the adaptive threshold; AUROC max: positive vs pooled negative raw-map maxima."
    breakdown_fields = {"iou": "iou_med", "area": "area",
                        "pia": {x: f"pia_{x}_adap" for x in NEGATIVES}}
    report_note = ("Success rates and AUCs in [0, 1]; pIA is the fraction of the image above the positive's "
                   "adaptive threshold.\n")
    table_note = ("Success rates, AUCs, AP and max-F1 in [0, 1], higher is better; pIA = fraction of the image "
                  "above the positive map's adaptive threshold under negative audio (lower is better); "
                  "AUROC max = positive vs pooled negative maxima (0.5: the map ignores the audio); "
                  "med. max = median raw-map maximum (model's own scale). Every number is in "
                  "`summary.csv` and each run's `metrics.json`.")

    def audio_block(self, preset_audio: Mapping[str, Any]) -> dict[str, Any]:
        """The preset's audio block without :data:`QUIRK_NEGATIVE_AUDIO_KEYS`: every negative goes
        through the positive's front-end (docs/protocols.md §2.5)."""
        block = super().audio_block(preset_audio)
        return {k: v for k, v in block.items() if k not in QUIRK_NEGATIVE_AUDIO_KEYS}

    def sample_records(self, maps: Mapping[str, Array | None], gt: Array, ogl: Array | None,
                       setup: Setup, **inputs: Any) -> dict[str, np.ndarray]:
        return sample_records(maps, gt, setup.thresholds, setup.ops, ogl=ogl, known=inputs.get("extremes"))

    def seeds_sample_records(self, maps: Mapping[str, Sequence[Array] | None], gt: Array, ogl: Array | None,
                             setup: Setup, **inputs: Any) -> list[dict[str, np.ndarray]]:
        """What the seeds share (positive, silence, a negative equal to the positive) is scored once."""
        return seeds_sample_records(maps, gt, setup.thresholds, setup.ops, ogl=ogl, known=inputs.get("extremes"))

    def aggregate(self, seeds: Sequence[SeedRecords], setup: Setup, bootstrap: int) -> dict:
        """Every per-seed metric ``k`` as the mean over seeds plus ``k_std`` (sample std, ddof=1;
        0.0 with one seed); for every headline key ``k`` the bootstrap interval ``k_ci95_low`` /
        ``k_ci95_high`` over samples (paired across seeds, docs/metrics.md §11), and ``bootstrap``
        (resamples, seed, level, method, min_resamples; ``no_intervals``: why there are no interval
        keys, when ``bootstrap`` is below :data:`vssleval.metrics.resampling.MIN_RESAMPLES`)."""
        out: dict = {}
        per_seed = [seed_metrics(s.records, list(setup.thresholds), s.groups) for s in seeds]
        for k in per_seed[0]:
            vals = np.array([m.get(k, np.nan) for m in per_seed], dtype=np.float64)
            out[k] = float(np.mean(vals))
            out[f"{k}_std"] = float(np.std(vals, ddof=1)) if len(vals) > 1 else 0.0
        self.add_intervals(seeds, out, bootstrap)
        out["thresholds"] = dict(setup.thresholds)
        out["upsample"] = setup.ops
        return out

    def results_heading(self, n_seeds: Sequence[int]) -> str:
        return f"Results (clean protocol `vssleval`, mean ± std over {'/'.join(map(str, n_seeds))} seeds)"


PROTOCOL = CleanProtocol()
