"""Compat protocol ``juanola2025``: vssl_eval's metric computation, literally, quirks included.

Every deviation from a clean evaluation is named once here as ``QUIRK_*`` (a constant or a small
function) and listed in ``docs/protocols.md`` §7.2 with what the ``vssleval`` protocol does instead.
The one exception is which interpolation op each map gets: that depends on the model and test
set, so it lives in the model's YAML (``presets.juanola2025.map.upsample``) and arrives here as
the explicit ``ops={positive, ogl, neg}`` argument; this module knows no model names.
Definitions: docs/protocols.md §3.8-§6 (vssl_eval @ e8ebbc9); the quirks by number: §7.1.

Flow: :func:`sample_records` turns one batch of raw maps into per-sample scalars (this is where
all map work happens); :func:`aggregate` turns the seed-major concatenation of those scalars
into the 164 reported values; :func:`format_text` renders the metrics file; :data:`CATALOG` lists
the reported headline numbers with their statistics over the pooled records (docs/metrics.md §12).

Longer than 500 lines on purpose: every quirk is defined once, in this file, and the per-sample
records, the aggregation and the catalog all use them (docs/protocols.md §7.2 points here).
"""

from __future__ import annotations

import io
import os
from typing import Callable, Mapping, Sequence

import numpy as np

from .._array import (_HAS_BITCOUNT, Array, as_float32, as_float64, count, flat, is_torch, map_chunks,
                      to_numpy_if_cpu, workspace)
from ..curves import GRID, aoc, auc, instance_curve, success_rate, trapezoid
from ..overlap import GroundTruth, map_iou_counts
from ..stats import extremes, f_score
from ..thresholds import UniversalThresholds, adaptive_threshold, upper_median_threshold
from ..upsample import upsample, upsample_into
from ...vocabulary import AUDIO_VARIANTS, PROTOCOL_SUMMARIES
from .. import resampling as rs
from ..catalog import Metric, fields_stat, needs
from .base import NEGATIVES, Protocol, ProtocolRefusal, SeedRecords, Setup, pooled

VARIANTS = AUDIO_VARIANTS
_POP8 = np.array([bin(i).count("1") for i in range(256)], np.int64)
PAIRS = (("positive", "silence"), ("positive", "noise"), ("positive", "offscreen"),
         ("silence", "noise"), ("silence", "offscreen"), ("noise", "offscreen"))
#: order in which vssl_eval calls cal_CIOU per sample (median first, maxq3 last)
POOLED_RULES = ("med", "fixed", "max", "max10", "maxq3")

# ----------------------------------------------------------------------------------------------
# The quirks (one definition each)
# ----------------------------------------------------------------------------------------------

#: QUIRK unnormalized_ogl (quirk 11, docs/protocols.md §7.1): OGL blend of *raw* AV and object maps,
#: alpha = 0.4.
QUIRK_OGL_ALPHA = 0.4

#: QUIRK fixed_threshold_05 (quirk 12, docs/protocols.md §7.1): one absolute 0.5 for every family
#: (= cos > 0 for the EZ family, cos > 0.5 for LVS/SSL-Align/SSL-TIE).
QUIRK_FIXED_THRESHOLD = 0.5


def QUIRK_ogl_blend(av: Array, obj: Array) -> Array:
    """unnormalized_ogl: ``0.4 * AV + 0.6 * OBJ`` on raw scales, float32 ([B,H,W] each)."""
    a = np.float32(QUIRK_OGL_ALPHA)
    b = np.float32(1 - QUIRK_OGL_ALPHA)
    return av * a + obj * b


def QUIRK_pooled_rates(per_rule: Sequence[np.ndarray]) -> tuple[float, float]:
    """pooled_five_rule_ciou (quirks 1, 3): "CIoU"/"AUC" are computed on one list holding the
    IoUs of all five threshold rules (median, 0.5, max, max10, maxq3), NaN kept (= failure).
    Returns (success rate at 0.5, AUC) of the pooled list, as fractions."""
    pooled = np.concatenate(per_rule)
    return success_rate(pooled), float(auc(pooled))


def QUIRK_nan_to_zero_wogl(values: np.ndarray) -> np.ndarray:
    """inconsistent_nan (quirk 4): WOGL fixed-threshold IoU lists map NaN -> 0 (OGL ones do not)."""
    return np.nan_to_num(values, nan=0.0)


def QUIRK_scene_key(name: str) -> str:
    """string_scene_key (docs/protocols.md §4.3): group key = basename without '.jpg', last '_'
    token dropped."""
    base = os.path.basename(str(name)).replace(".jpg", "")
    return "_".join(base.split("_")[:-1])


#: QUIRK mean_iou_named_ciou (quirk 2): "CIoU_05/max/max10/maxq3" are mean IoUs, not success
#: rates; F-scores are built on the mean IoU at maxq3 (see :func:`aggregate`).
#: QUIRK duplicated_seeds (quirk 17): positive/silence entries repeat once per seed in every
#: list; we reproduce it by accumulating every seed (callers pass all 10 seeds).


# ----------------------------------------------------------------------------------------------
# Per-sample scalars
# ----------------------------------------------------------------------------------------------

def record_fields() -> list[str]:
    """Names of the per-sample scalars produced by :func:`sample_records` (column order)."""
    f = [f"{s}_{v}" for v in VARIANTS for s in ("max", "min")]
    for w in ("wogl", "ogl"):
        f += [f"iou_{w}_{r}" for r in POOLED_RULES + ("adap",)]
    for w in ("wogl", "ogl"):
        f += [f"pia_{w}_{x}_{r}" for x in NEGATIVES for r in ("fixed", "med", "adap", "max", "max10", "maxq3")]
    f += [f"mapiou_wogl_{a}_{b}_{r}" for a, b in PAIRS for r in ("fixed", "max", "max10", "maxq3", "adap")]
    f += [f"mapiou_ogl_{a}_{b}_{r}" for a, b in PAIRS for r in ("fixed", "adap")]
    return f


def _gt(m: Array, t) -> Array:
    """Strict binarization with a scalar or per-sample ``[B]`` threshold (float32 compare)."""
    return m > (t[:, None] if hasattr(t, "shape") else t)


def _ratio(n: Array, hw: int) -> np.ndarray:
    return np.asarray(_np(n), dtype=np.float64) / hw


def _np(x: Array) -> np.ndarray:
    if hasattr(x, "detach"):
        return x.detach().cpu().numpy()
    return np.asarray(x)


def sample_records(pos: Array, silence: Array, noise: Array, offscreen: Array, ogl: Array, gt: Array,
                   thresholds: UniversalThresholds, ops: Mapping[str, str],
                   threads: int | None = None) -> dict[str, np.ndarray]:
    """vssl_eval's per-sample computations for one batch of one seed (docs/protocols.md §4).

    Args:
        pos, silence, noise, offscreen: raw AV maps ``[B, h, w]`` (7x7 or 14x14), raw scale.
        ogl: raw object-saliency maps ``[B, h', w']``.
        gt: ``[B, 224, 224]`` ground truth (0/1).
        thresholds: the model's universal constants.
        ops: upsampling op names ``{positive, ogl, neg}`` (``neg`` for all three negatives), the
            model preset's plan, vssl_eval's interpolation mismatch included.
        threads: CPU threads for the numpy path (chunks of rows in parallel); default
            ``torch.get_num_threads()``, so ``OMP_NUM_THREADS``/``torch.set_num_threads`` rule.
            Results do not depend on it.
    Returns:
        ``{field: float64 [B]}`` for every name of :func:`record_fields`; IoUs keep NaN (0/0).

    numpy / CPU-torch inputs take :func:`_sample_records_numpy` (counts from bit-packed masks,
    chunked); CUDA tensors take :func:`_sample_records_generic`. Both give identical values.
    """
    args = (pos, silence, noise, offscreen, ogl, gt)
    if any(is_torch(a) and a.device.type != "cpu" for a in args):
        return _sample_records_generic(*args, thresholds, ops)
    return _sample_records_numpy(*(to_numpy_if_cpu(a) for a in args), thresholds, ops, threads)


#: mask order of the fast path: every rule is applied to every map (pIA needs all six on the
#: negatives, the GT IoU all six on the positive); pair IoUs use the first 5 (WOGL) or 2 (OGL)
_RULES = ("fixed", "adap", "max", "max10", "maxq3", "med")
_PAIR_RULES = {"wogl": 5, "ogl": 2}
if {_RULES.index(r) for r in ("fixed", "max", "max10", "maxq3", "adap")} != set(range(5)):  # pragma: no cover
    raise AssertionError("_RULES must start with the pair rules")
_RI = {r: i for i, r in enumerate(_RULES)}
_PAIR_IDX = tuple((VARIANTS.index(a), VARIANTS.index(b)) for a, b in PAIRS)
#: rows per chunk: the chunk's maps and masks (~14 MB for 224x224) live in per-thread buffers
#: reused across chunks and calls (fresh multi-MB arrays cost page faults on every call)
_CHUNK = 8
_SIZE = 224  # the evaluation grid (upsample's default size)


def _popcount(words: np.ndarray) -> np.ndarray:
    """Set bits per row (last axis) of a uint8/uint64 array -> int64."""
    if _HAS_BITCOUNT:
        return np.bitwise_count(words).sum(-1, dtype=np.int64)
    return _POP8[words.view(np.uint8)].sum(-1, dtype=np.int64)


def _pack(mask: np.ndarray) -> np.ndarray:
    """Bool ``[..., P]`` -> packed words ``[..., ceil(P/8) bytes]`` as uint64 when possible."""
    p = np.packbits(mask, axis=-1)
    return p.view(np.uint64) if p.shape[-1] % 8 == 0 else p


def _order_stats(p: np.ndarray, k_med: int, k_adap: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``sort(row)[k_med]`` and ``sort(row)[k_adap[b]]`` per row of ``p`` [c, P] (NaN last, as
    np.sort), by one selection per row plus one on the half that holds ``k_adap``."""
    t_med = np.empty(p.shape[0], p.dtype)
    t_adap = np.empty(p.shape[0], p.dtype)
    for i, row in enumerate(p):
        part = np.partition(row, k_med)
        t_med[i] = part[k_med]
        k = int(k_adap[i])
        if k == k_med:
            t_adap[i] = t_med[i]
        elif k > k_med:  # everything right of k_med is >= part[k_med]
            rest = part[k_med + 1:]
            t_adap[i] = np.partition(rest, k - k_med - 1)[k - k_med - 1]
        else:
            t_adap[i] = np.partition(part[:k_med], k)[k]
    return t_med, t_adap


def _sample_records_numpy(pos, silence, noise, offscreen, ogl, gt, thresholds: UniversalThresholds,
                          ops: Mapping[str, str], threads: int | None = None) -> dict[str, np.ndarray]:
    """Fast numpy path of :func:`sample_records` (same values, bit for bit).

    Per chunk of rows: each upsampled map is thresholded once per rule into a reused bool
    buffer (strict ``>`` in float32, the same comparisons as the reference) and bit-packed;
    every count (pIA, |A|, |A and B|, |A and GT|) is then a popcount of 784 words. Order
    statistics use selection, not a sort. Non-binary (Flickr consensus) GT falls back to
    :class:`GroundTruth` on the unpacked masks. Chunks write disjoint rows of the outputs, so
    ``threads > 1`` runs them in a thread pool (buffers are per thread, see ``workspace``).
    """
    raws = {"positive": pos, "silence": silence, "noise": noise, "offscreen": offscreen}
    rec: dict[str, np.ndarray] = {}
    for variant, raw in raws.items():
        rec[f"max_{variant}"], rec[f"min_{variant}"] = extremes(raw)
    n_rows = pos.shape[0]
    gt = np.asarray(gt)
    gt_flat = flat(gt)
    universal = thresholds.as_dict()
    rule_const = {"fixed": QUIRK_FIXED_THRESHOLD, "max": universal["max"], "max10": universal["max10"],
                  "maxq3": universal["maxq3"]}
    alpha32, rest32 = np.float32(QUIRK_OGL_ALPHA), np.float32(1 - QUIRK_OGL_ALPHA)
    sizes = {blend: np.zeros((n_rows, len(VARIANTS), len(_RULES)), np.int64) for blend in ("wogl", "ogl")}
    both = {blend: np.zeros((n_rows, len(PAIRS), len(_RULES)), np.int64) for blend in ("wogl", "ogl")}
    iou = {blend: np.zeros((n_rows, len(_RULES)), np.float64) for blend in ("wogl", "ogl")}
    hw = _SIZE * _SIZE

    def chunk(start: int) -> None:  # rows [start, start + _CHUNK): writes disjoint rows of the outputs
        rows = slice(start, min(start + _CHUNK, n_rows))
        n_chunk = rows.stop - rows.start
        up = []
        for variant in VARIANTS:  # float32 [n_chunk, 224*224] each, in reused (contiguous) buffers
            buf = workspace(f"compat_up_{variant}", (_CHUNK, _SIZE, _SIZE), np.float32)[:n_chunk]
            op = ops["positive" if variant == "positive" else "neg"]
            up.append(flat(upsample_into(as_float32(raws[variant][rows]), op, buf)))
        obj_buf = workspace("compat_up_obj", (_CHUNK, _SIZE, _SIZE), np.float32)[:n_chunk]
        obj = flat(upsample_into(as_float32(ogl[rows]), ops["ogl"], obj_buf))
        masks = workspace("compat_masks", (_CHUNK, len(_RULES), hw), np.bool_)[:n_chunk]
        blended = workspace("compat_blend", (_CHUNK, hw), np.float32)[:n_chunk]
        gt_rows = gt_flat[rows]
        nonzero = gt_rows != 0
        gt_pixels = count(nonzero)
        if gt_rows.dtype == np.bool_:
            binary = True
        elif gt_rows.dtype.kind == "u":
            binary = gt_rows.size == 0 or int(gt_rows.max()) <= 1
        else:  # every non-zero value is exactly 1 (GroundTruth's rule, on the original dtype)
            binary = bool(np.all(nonzero == (gt_rows == 1)))
        k_adap = hw - np.where(gt_pixels == 0, hw // 2, gt_pixels)
        if binary:
            gt_words = _pack(nonzero)
            mass = as_float64(gt_pixels)
        else:
            gtf = GroundTruth(gt_rows)
        # QUIRK_ogl_blend's (1 - alpha) * OBJ, computed once and shared by the four maps
        obj_term = np.multiply(obj, rest32, out=workspace("compat_obj_term", (_CHUNK, hw), np.float32)[:n_chunk])
        nbytes = (hw + 7) // 8
        packed8 = workspace("compat_packed", (_CHUNK, len(VARIANTS), len(_RULES), nbytes), np.uint8)[:n_chunk]
        packed = packed8.view(np.uint64) if nbytes % 8 == 0 else packed8  # [n_chunk, 4 maps, 6 rules, words]
        pair_buf = workspace("compat_pair", (_CHUNK, len(_RULES), packed.shape[-1]), packed.dtype)[:n_chunk]
        for blend in ("wogl", "ogl"):
            rule_t = None
            for map_i, scores in enumerate(up):
                if blend == "ogl":  # QUIRK_ogl_blend, same float32 operations, into a reused buffer
                    np.multiply(scores, alpha32, out=blended)
                    np.add(blended, obj_term, out=blended)
                    scores = blended
                if map_i == 0:
                    t_med, t_adap = _order_stats(scores, hw // 2, k_adap)
                    rule_t = dict(rule_const, med=t_med[:, None], adap=t_adap[:, None])
                for rule_i, rule in enumerate(_RULES):
                    np.greater(scores, rule_t[rule], out=masks[:, rule_i])
                if map_i == 0 and not binary:
                    iou[blend][rows] = np.stack([_np(gtf.ciou(masks[:, rule_i])) for rule_i in range(len(_RULES))], 1)
                packed8[:, map_i] = np.packbits(masks, axis=-1)
            sizes[blend][rows] = _popcount(packed)
            n_pair_rules = _PAIR_RULES[blend]
            for pair_i, (map_a, map_b) in enumerate(_PAIR_IDX):
                both[blend][rows, pair_i, :n_pair_rules] = _popcount(np.bitwise_and(
                    packed[:, map_a, :n_pair_rules], packed[:, map_b, :n_pair_rules], out=pair_buf[:, :n_pair_rules]))
            if binary:
                inter = as_float64(_popcount(np.bitwise_and(packed[:, 0], gt_words[:, None], out=pair_buf)))
                background = as_float64(sizes[blend][rows, 0]) - inter
                with np.errstate(invalid="ignore", divide="ignore"):
                    iou[blend][rows] = inter / (mass[:, None] + background)

    map_chunks(chunk, n_rows, _CHUNK, threads)
    for blend in ("wogl", "ogl"):  # same key order as the generic path
        for rule in POOLED_RULES + ("adap",):
            rec[f"iou_{blend}_{rule}"] = iou[blend][:, _RI[rule]].copy()
        for neg_i, neg in enumerate(NEGATIVES, start=1):
            for rule in ("fixed", "med", "adap", "max", "max10", "maxq3"):
                rec[f"pia_{blend}_{neg}_{rule}"] = _ratio(sizes[blend][:, neg_i, _RI[rule]], hw)
        pair_rules = ("fixed", "max", "max10", "maxq3", "adap") if blend == "wogl" else ("fixed", "adap")
        for rule in pair_rules:
            for pair_i, ((name_a, name_b), (map_a, map_b)) in enumerate(zip(PAIRS, _PAIR_IDX)):
                rec[f"mapiou_{blend}_{name_a}_{name_b}_{rule}"] = _np(map_iou_counts(
                    sizes[blend][:, map_a, _RI[rule]], sizes[blend][:, map_b, _RI[rule]],
                    both[blend][:, pair_i, _RI[rule]]))
    return rec


def _sample_records_generic(pos: Array, silence: Array, noise: Array, offscreen: Array, ogl: Array, gt: Array,
                   thresholds: UniversalThresholds, ops: Mapping[str, str]) -> dict[str, np.ndarray]:
    """:func:`sample_records` written mask by mask, for any array kind (the CUDA path, and the
    definition the numpy fast path is tested against)."""
    raws = {"positive": pos, "silence": silence, "noise": noise, "offscreen": offscreen}
    rec: dict[str, np.ndarray] = {}
    for v, r in raws.items():
        rec[f"max_{v}"], rec[f"min_{v}"] = extremes(r)
    # Work in numpy on CPU (faster reductions), torch on CUDA.
    up = {"positive": to_numpy_if_cpu(upsample(as_float32(to_numpy_if_cpu(pos)), ops["positive"]))}
    for v in NEGATIVES:
        up[v] = to_numpy_if_cpu(upsample(as_float32(to_numpy_if_cpu(raws[v])), ops["neg"]))
    obj = to_numpy_if_cpu(upsample(as_float32(to_numpy_if_cpu(ogl)), ops["ogl"]))
    gtf = GroundTruth(to_numpy_if_cpu(gt))
    fixed = QUIRK_FIXED_THRESHOLD
    th = thresholds.as_dict()
    for w in ("wogl", "ogl"):
        maps = {v: flat(up[v]) for v in VARIANTS}
        if w == "ogl":
            maps = {v: QUIRK_ogl_blend(m, flat(obj)) for v, m in maps.items()}
        p = maps["positive"]
        hw = p.shape[1]
        t_med = upper_median_threshold(p)
        t_adap = adaptive_threshold(p, gtf.nonzero)
        rule_t = {"med": t_med, "fixed": fixed, "max": th["max"], "max10": th["max10"],
                  "maxq3": th["maxq3"], "adap": t_adap}

        # one mask per (map, rule), shared by pIA, pair IoUs and the GT IoU
        masks = {(v, r): _gt(maps[v], t) for v in VARIANTS for r, t in rule_t.items()}
        sizes = {k: count(m) for k, m in masks.items()}
        for r in POOLED_RULES + ("adap",):
            rec[f"iou_{w}_{r}"] = _np(gtf.ciou(masks[("positive", r)], sizes[("positive", r)]))
        for x in NEGATIVES:
            for r in ("fixed", "med", "adap", "max", "max10", "maxq3"):
                rec[f"pia_{w}_{x}_{r}"] = _ratio(sizes[(x, r)], hw)
        pair_rules = ("fixed", "max", "max10", "maxq3", "adap") if w == "wogl" else ("fixed", "adap")
        for r in pair_rules:
            for a, b in PAIRS:
                both = count(masks[(a, r)] & masks[(b, r)])
                rec[f"mapiou_{w}_{a}_{b}_{r}"] = _np(map_iou_counts(sizes[(a, r)], sizes[(b, r)], both))
    return rec


# ----------------------------------------------------------------------------------------------
# Aggregation to the 164 keys
# ----------------------------------------------------------------------------------------------

_NEG_KEY = {"silence": "Silence", "noise": "Noise", "offscreen": "OffScreen"}
_PAIR_KEY = {"positive": "Pos", "silence": "Silence", "noise": "Noise", "offscreen": "Offscreen"}
_PIA_SUFFIX = {"fixed": "", "med": "_ThrCIoU", "adap": "_ThrCIoU_Adap", "max": "_Max",
               "max10": "_Max10", "maxq3": "_MaxQ3"}
_CIOU_SUFFIX = {"fixed": "_05", "adap": "_adap", "max": "_max", "max10": "_max10", "maxq3": "_maxq3"}
_WOGL_PAIR_SUFFIX = {"fixed": "", "max": "_Max", "max10": "_Max_10", "maxq3": "_Max_Q3", "adap": "_Adap"}


def QUIRK_key_spelling(kind: str, x: str, rule: str, ogl: bool) -> str:
    """key_typos (quirk 20): the reference's key spellings for pIA/AOC, typos included."""
    if kind == "pIA":
        if x == "noise" and rule == "fixed" and ogl:
            return "pIA_Noise_OG_OGLL_OGL"
        if x == "offscreen" and rule == "adap" and not ogl:
            return "pIA_OffScreem_ThrCIoU_Adap"
        key = f"pIA_{_NEG_KEY[x]}{_PIA_SUFFIX[rule]}"
    else:
        name = "Offscreen" if (x == "offscreen" and rule in ("fixed", "med", "adap")) else _NEG_KEY[x]
        key = f"AOC_{name}{_PIA_SUFFIX[rule]}"
    return key + ("_OGL" if ogl else "")


def metric_keys() -> list[str]:
    """The 164 keys of ``metrics/<model>_<testset>.txt``, in file order (docs/protocols.md §6.1)."""
    keys: list[str] = []
    for x in ("", "_Silence", "_Noise", "_Offscreen"):
        keys += [f"Max_Heatmap{x}", f"Min_Heatmap{x}", f"Median_Max_Heatmap{x}", f"Median_Min_Heatmap{x}"]
    rules6 = ("fixed", "med", "adap", "max", "max10", "maxq3")
    ciou6 = ["", "_05", "_adap", "_max", "_max10", "_maxq3"]
    keys += [f"CIoU{s}_OGL" for s in ciou6] + [f"AUC{s}_OGL" for s in ciou6]
    for x in NEGATIVES:
        keys += [QUIRK_key_spelling("pIA", x, r, True) for r in rules6]
        keys += [QUIRK_key_spelling("AOC", x, r, True) for r in rules6]
    for a, b in PAIRS:
        keys += [f"IoU_{_PAIR_KEY[a]}_{_PAIR_KEY[b]}_OGL", f"IoU_{_PAIR_KEY[a]}_{_PAIR_KEY[b]}_Adap_OGL"]
    keys += [f"CIoU{s}" for s in ciou6]
    keys += ["F_Pos_Neg", "F_Pos_Silence", "F_Pos_Noise", "F_Pos_OffScreen", "F_AUC_AOC_Pos_Neg",
             "F_AUC_AOC_Pos_Silence", "F_AUC_AOC_Pos_Noise", "F_AUC_AOC_Pos_OffScreen"]
    keys += [f"AUC{s}" for s in ciou6]
    for x in NEGATIVES:
        keys += [QUIRK_key_spelling("pIA", x, r, False) for r in rules6]
        keys += [QUIRK_key_spelling("AOC", x, r, False) for r in rules6]
    for a, b in PAIRS:
        keys += [f"IoU_{_PAIR_KEY[a]}_{_PAIR_KEY[b]}{_WOGL_PAIR_SUFFIX[r]}_WOGL"
                 for r in ("fixed", "max", "max10", "maxq3", "adap")]
    keys += ["iiou_adap", "IAUC_adap"]
    return keys


def aggregate(rec: Mapping[str, np.ndarray], groups: Sequence[str]) -> dict[str, float]:
    """The 164 vssl_eval metrics from per-sample scalars pooled over seeds (docs/protocols.md §5).

    Args:
        rec: ``{field: float64 [S*N]}`` in seed-major order (index = seed*N + sample).
        groups: ``[S*N]`` scene keys (:func:`QUIRK_scene_key` of the sample names).
    Returns:
        ``{key: float}`` in :func:`metric_keys` order; percentages (x100) except Max/Min stats.
    """
    out: dict[str, float] = {}
    for v, x in zip(VARIANTS, ("", "_Silence", "_Noise", "_Offscreen")):
        out[f"Max_Heatmap{x}"] = float(np.mean(rec[f"max_{v}"]))
        out[f"Min_Heatmap{x}"] = float(np.mean(rec[f"min_{v}"]))
        out[f"Median_Max_Heatmap{x}"] = float(np.median(rec[f"max_{v}"]))
        out[f"Median_Min_Heatmap{x}"] = float(np.median(rec[f"min_{v}"]))
    for w, sfx in (("wogl", ""), ("ogl", "_OGL")):
        sr, area = QUIRK_pooled_rates([rec[f"iou_{w}_{r}"] for r in POOLED_RULES])
        out[f"CIoU{sfx}"], out[f"AUC{sfx}"] = sr * 100, area * 100
        out[f"CIoU_adap{sfx}"] = success_rate(rec[f"iou_{w}_adap"]) * 100
        out[f"AUC_adap{sfx}"] = float(auc(rec[f"iou_{w}_adap"])) * 100
        for r in ("fixed", "max", "max10", "maxq3"):
            vals = rec[f"iou_{w}_{r}"]
            if w == "wogl":
                vals = QUIRK_nan_to_zero_wogl(vals)
            out[f"CIoU{_CIOU_SUFFIX[r]}{sfx}"] = float(np.mean(vals)) * 100
            out[f"AUC{_CIOU_SUFFIX[r]}{sfx}"] = float(auc(vals)) * 100
        for x in NEGATIVES:
            for r in ("fixed", "med", "adap", "max", "max10", "maxq3"):
                vals = rec[f"pia_{w}_{x}_{r}"]
                out[QUIRK_key_spelling("pIA", x, r, w == "ogl")] = float(np.mean(vals)) * 100
                out[QUIRK_key_spelling("AOC", x, r, w == "ogl")] = float(aoc(vals)) * 100
        pair_rules = ("fixed", "max", "max10", "maxq3", "adap") if w == "wogl" else ("fixed", "adap")
        for a, b in PAIRS:
            for r in pair_rules:
                key = (f"IoU_{_PAIR_KEY[a]}_{_PAIR_KEY[b]}{_WOGL_PAIR_SUFFIX[r]}_WOGL" if w == "wogl"
                       else f"IoU_{_PAIR_KEY[a]}_{_PAIR_KEY[b]}{'_Adap' if r == 'adap' else ''}_OGL")
                out[key] = float(np.mean(rec[f"mapiou_{w}_{a}_{b}_{r}"])) * 100
    # F-scores on the WOGL maxq3 quantities (quirk: mean IoU, not a success rate)
    ciou_q3, auc_q3 = out["CIoU_maxq3"], out["AUC_maxq3"]
    neg_pia = [100 - out[QUIRK_key_spelling("pIA", x, "maxq3", False)] for x in NEGATIVES]
    neg_aoc = [out[QUIRK_key_spelling("AOC", x, "maxq3", False)] for x in NEGATIVES]
    out["F_Pos_Neg"] = f_score(ciou_q3, float(np.mean(neg_pia)))
    out["F_AUC_AOC_Pos_Neg"] = f_score(auc_q3, float(np.mean(neg_aoc)))
    for x, p_, a_ in zip(NEGATIVES, neg_pia, neg_aoc):
        out[f"F_Pos_{_NEG_KEY[x]}"] = f_score(ciou_q3, p_)
        out[f"F_AUC_AOC_Pos_{_NEG_KEY[x]}"] = f_score(auc_q3, a_)
    curve = instance_curve(rec["iou_wogl_adap"], groups, GRID, nan_propagates=True)
    out["iiou_adap"] = float(instance_curve(rec["iou_wogl_adap"], groups, np.array([0.5]), True)[0]) * 100
    out["IAUC_adap"] = float(trapezoid(curve)) * 100
    return {k: out[k] for k in metric_keys()}


def format_text(metrics: Mapping[str, float]) -> str:
    """The metrics file body: ``<Key>: <value with 2 decimals>`` per line (NaN prints ``nan``)."""
    return "".join(f"{k}: {metrics[k]:.2f}\n" for k in metric_keys())


MAX_MIN_FILES = tuple((s, v) for s in ("max", "min") for v in VARIANTS)


#: vssl_eval's spelling of the variants in its ``max_min`` file names (a reference format, kept)
QUIRK_DUMP_NAME = {"positive": "pos", "silence": "silence", "noise": "noise", "offscreen": "offscreen"}


def max_min_arrays(rec: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
    """The 8 ``max_min`` dumps under vssl_eval's names: ``{'max_pos': float64 [S*N], ...}``
    (seed-major, raw maps; from the ``max_positive``, ... records)."""
    return {f"{s}_{QUIRK_DUMP_NAME[v]}": np.asarray(rec[f"{s}_{v}"], dtype=np.float64) for s, v in MAX_MIN_FILES}


# ----------------------------------------------------------------------------------------------
# The catalog: the reported keys, each recomputed from the pooled per-sample records
# ----------------------------------------------------------------------------------------------

def _rates(fields: Sequence[str], share: Callable[[np.ndarray], np.ndarray]) -> rs.Stat:
    """x100 the mean over rows of each sample's ``share`` of the metric, over the lists ``fields``
    side by side (every list has one value per sample, so the mean of their means is the mean of
    the pooled list: QUIRK_pooled_rates)."""
    def stat(rec: Mapping[str, np.ndarray], rows: np.ndarray) -> np.ndarray:
        return np.mean([share(np.asarray(rec[f], np.float64))[rows].mean(axis=-1) for f in fields], axis=0) * 100
    return stat


def _success(v: np.ndarray) -> np.ndarray:
    """Each IoU's share of the success rate at 0.5 (NaN fails)."""
    return (v >= 0.5).astype(np.float64)


def _auc_nan_to_zero(v: np.ndarray) -> np.ndarray:
    return rs.sample_auc(QUIRK_nan_to_zero_wogl(v))


def _f_pos_neg(ciou_q3: np.ndarray, *pia_q3: np.ndarray) -> np.ndarray:
    """F_Pos_Neg per row: F(mean IoU at maxq3, mean over the negatives of 100 - pIA at maxq3), x100 scale."""
    a = QUIRK_nan_to_zero_wogl(ciou_q3).mean(axis=-1) * 100
    b = np.mean([100 - p.mean(axis=-1) * 100 for p in pia_q3], axis=0)
    with np.errstate(invalid="ignore", divide="ignore"):
        return 2 * a * b / (a + b)


def _wogl(rule: str) -> list[str]:
    return [f"iou_wogl_{rule}"]


_POOLED = [f"iou_wogl_{r}" for r in POOLED_RULES]
_PIA_Q3 = [f"pia_wogl_{x}_maxq3" for x in NEGATIVES]
_SECTION = "Headline (juanola2025)"
_PIA_SHORT = {"silence": "pIA sil. maxq3", "noise": "pIA noise maxq3", "offscreen": "pIA off. maxq3"}
_GROUPED = ("grouped by scene (pairs of samples, docs/protocols.md §5.4): resampling single samples would split "
            "the groups")


def _row(key: str, label: str, short: str, better: bool | None, fields: Sequence[str],
         stat: Callable[[], rs.Stat], **kw) -> Metric:
    """A catalog row pooled over seeds (vssl_eval pools them), without a ``metrics.json`` interval."""
    return Metric(key, label, short, better, _SECTION, needs(list(fields), stat), rs.POOLED, interval=False,
                  compare=True, **kw)


def _of(fn: Callable[..., np.ndarray], fields: Sequence[str]) -> Callable[[], rs.Stat]:
    return lambda: fields_stat(fn, *fields)


#: the compat protocol's catalog (docs/metrics.md §12): definitions as :func:`aggregate`
CATALOG = (
    _row("CIoU", "CIoU (pooled)", "CIoU", True, _POOLED, lambda: _rates(_POOLED, _success), leaderboard=True),
    _row("AUC", "AUC (pooled)", "AUC", True, _POOLED, lambda: _rates(_POOLED, rs.sample_auc), leaderboard=True),
    _row("CIoU_adap", "CIoU_adap", "CIoU_adap", True, _wogl("adap"), lambda: _rates(_wogl("adap"), _success),
         leaderboard=True),
    _row("AUC_adap", "AUC_adap", "AUC_adap", True, _wogl("adap"), lambda: _rates(_wogl("adap"), rs.sample_auc),
         leaderboard=True),
    _row("CIoU_maxq3", "CIoU_maxq3", "CIoU_maxq3", True, _wogl("maxq3"),
         lambda: _rates(_wogl("maxq3"), QUIRK_nan_to_zero_wogl)),
    _row("AUC_maxq3", "AUC_maxq3", "AUC_maxq3", True, _wogl("maxq3"), lambda: _rates(_wogl("maxq3"), _auc_nan_to_zero)),
    *(_row(QUIRK_key_spelling("pIA", x, "maxq3", False), f"pIA {x} maxq3", _PIA_SHORT[x], False,
           [f"pia_wogl_{x}_maxq3"], lambda x=x: _rates([f"pia_wogl_{x}_maxq3"], np.asarray), leaderboard=True)
      for x in NEGATIVES),
    _row("F_Pos_Neg", "F pos/neg", "F pos/neg", True, _wogl("maxq3") + _PIA_Q3, _of(_f_pos_neg, _wogl("maxq3") + _PIA_Q3),
         leaderboard=True),
    _row("Median_Max_Heatmap", "median max pos", "med. max pos", None, ["max_positive"],
         _of(lambda v: np.median(v, axis=-1), ["max_positive"])),
    _row("Median_Max_Heatmap_Silence", "median max silence", "med. max silence", None, ["max_silence"],
         _of(lambda v: np.median(v, axis=-1), ["max_silence"])),
    Metric("iiou_adap", "iIoU_adap", "iIoU_adap", True, _SECTION, None, interval=False, compare=True,
           no_statistic=_GROUPED),
    Metric("IAUC_adap", "IAUC_adap", "IAUC_adap", True, _SECTION, None, interval=False, compare=True,
           no_statistic=_GROUPED),
)


class Juanola2025Protocol(Protocol):
    """vssl_eval's computation: every negative and the OGL prior, 164 keys pooled over seeds (x100)."""

    name = "juanola2025"
    summary = PROTOCOL_SUMMARIES[name]
    rank = 1
    negatives_required = NEGATIVES
    needs_ogl = True
    allows_reduced_precision = False  # reproduces vssl_eval's fp32 numbers
    nonfinite_rule = "scored with vssl_eval's own NaN behaviour"
    metrics = CATALOG
    leaderboard_note = ("Protocol juanola2025: vssl_eval's numbers, x100, pooled over seeds (no intervals); CIoU / AUC "
                        "pool five threshold rules, pIA at the maxq3 threshold, F pos/neg on the mean IoU at maxq3 "
                        "(docs/protocols.md §5).")

    def thresholds(self, model_config: Mapping, model_name: str) -> dict:
        """The model's universal thresholds, or the baselines' stand-ins (docs/models.md §15)."""
        thresholds = model_config.get("thresholds") or model_config.get("compat_thresholds") or {}
        if not thresholds:
            raise ProtocolRefusal(f"protocol juanola2025 needs the model's universal thresholds (max, max10, "
                                  f"maxq3); {model_name}'s YAML has none (vssl_eval published them for its own "
                                  f"models only): use --protocol vssleval (the default)")
        return dict(thresholds)

    def upsample_plan(self, op, model_name: str, preset: str) -> dict[str, str]:
        """vssl_eval's per-variant ops ``{positive, ogl, neg}``, its interpolation mismatch included."""
        negs = {v: op(v) for v in NEGATIVES}
        if len(set(negs.values())) > 1:  # the compat metrics take one op for the three negatives
            raise ProtocolRefusal(f"{model_name}: preset {preset!r} upsamples the negatives with different ops "
                                  f"{negs}; vssl_eval uses one (cv2_linear) for all three")
        return {"positive": op("positive"), "ogl": op("ogl"), "neg": negs["silence"]}

    def setup(self, thresholds, ops, settings=None) -> Setup:
        if thresholds is None:
            raise ValueError("protocol juanola2025 needs the model's thresholds {max, max10, maxq3}")
        th = thresholds if isinstance(thresholds, UniversalThresholds) else UniversalThresholds.from_mapping(thresholds)
        if not isinstance(ops, Mapping) or set(ops) != {"positive", "ogl", "neg"}:
            raise ValueError("protocol juanola2025 needs upsample={positive, ogl, neg} (op names; the model "
                             f"YAML's presets.juanola2025.map.upsample), got {ops!r}")
        return Setup(th, dict(ops), dict(settings or {}))

    def check_inputs(self, maps, ogl) -> None:
        missing = [k for k in NEGATIVES if maps.get(k) is None]
        if missing or ogl is None:
            raise ValueError(f"juanola2025 needs all four variants and ogl; missing "
                             f"{missing + (['ogl'] if ogl is None else [])}")

    def groups(self, sample_ids, groups):
        return list(groups) if groups is not None else [QUIRK_scene_key(s) for s in sample_ids]

    def sample_records(self, maps, gt, ogl, setup: Setup, **inputs) -> dict[str, np.ndarray]:
        rec = sample_records(maps["positive"], maps["silence"], maps["noise"], maps["offscreen"], ogl, gt,
                             setup.thresholds, setup.ops)
        for v, known in (inputs.get("extremes") or {}).items():  # the raw maps' own (docs/models.md §2.8)
            rec[f"max_{v}"], rec[f"min_{v}"] = extremes(None, known)
        return rec

    def aggregate(self, seeds: Sequence[SeedRecords], setup: Setup, bootstrap: int) -> dict:
        """The 164 reference keys (x100, pooled over seeds) after ``nonfinite_maps``."""
        rec, groups = pooled(seeds)
        out: dict = {"nonfinite_maps": int(sum(np.sum(~np.isfinite(rec[f"max_{v}"])) for v in VARIANTS))}
        out.update(aggregate(rec, groups))
        return out

    def results_heading(self, n_seeds) -> str:
        return f"Results (protocol `{self.name}`: vssl_eval compatibility, pooled over seeds, x100)"

    def extra_files(self, seeds, setup, model_name: str, testset: str) -> dict[str, str | bytes]:
        """``metrics/<model>_<testset>.txt`` (164 lines, 2 decimals) and the 8
        ``metrics/max_min/<model>_<testset>_{max,min}_{variant}.npy`` (float64, seed-major)."""
        rec, groups = pooled(seeds)
        files: dict[str, str | bytes] = {f"metrics/{model_name}_{testset}.txt": format_text(aggregate(rec, groups))}
        for key, arr in max_min_arrays(rec).items():
            stat, variant = key.split("_", 1)
            buf = io.BytesIO()
            np.save(buf, arr)
            files[f"metrics/max_min/{model_name}_{testset}_{stat}_{variant}.npy"] = buf.getvalue()
        return files


PROTOCOL = Juanola2025Protocol()
