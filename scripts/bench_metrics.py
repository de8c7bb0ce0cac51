#!/usr/bin/env python
"""Benchmark: juanola2025 compat metrics, our module vs the reference's per-sample loop.

Both compute the same per-sample scalars from the same random raw maps (N samples x 4 audio
variants + object map, 7x7, EZ-family ops on VGG-SS: torch align_corners=True positives and
object maps, cv2 INTER_LINEAR negatives), then the 164 metrics. The script asserts that every
per-sample scalar is identical (NaN included) and that the 164 final metrics are identical.

(a) module: ``juanola2025.sample_records`` on batches, then ``aggregate``.
(b) baseline: what vssl_eval does for each sample (docs/protocols.md §4), written from that description:
    per sample, np.sort of the flattened 224x224 map for the median and again for the adaptive
    threshold (positive and OGL blend), five cal_CIOU calls + cal_CIOU_adap per map with float64
    masks and float64 GT products, pIA of 3 negatives x 6 rules x (WOGL, OGL) on boolean masks,
    30 WOGL + 12 OGL compute_IOU_maps, raw max/min. cv2.resize is not a dependency, so the
    baseline's negative maps use our bit-exact emulation per sample (the script also reports the
    baseline's upsampling share; the real cv2.resize would be faster than the emulation).
    The dataset-level step (``aggregate``: means, 21-point AUCs, F-scores) is the same function
    on both sides and costs milliseconds; the per-sample map work is what is compared.

Where (a) spends its time (about 0.75 ms/sample on the 2-core AMD EPYC dev box, 1 thread): the
five upsamplings (~35 %, the torch align_corners=True kernel alone ~20 %), 48 strict float32
threshold passes over 224x224 maps (~20 %), two selections per sample for the median/adaptive
thresholds (~15 %), bit packing and popcounts (~15 %), the OGL blends (~7 %). Each of those is a
single memory-speed NumPy pass, so with exact reference semantics the module is within ~1.5x of
what NumPy can do; the reference loop costs ~6.5 ms/sample, hence ~8-9x on one thread, not 100x.
(Tried and dropped: a NumPy emulation of torch's align_corners=True kernel -- this torch build computes
fma(H0, w0, H1*w1) on both axes, which a float64 emulation reproduces bit for bit, but at 2x
the cost of torch's own kernel.) The module also runs its chunks on ``--threads`` workers (the
second timing): 1.4-1.5x on this machine's 2 cores, so ~12x; the loop it replaces is serial.

    OMP_NUM_THREADS=1 .venv/bin/python scripts/bench_metrics.py --n 2000
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np
import torch
import torch.nn.functional as F

from vssleval.engine.scoring import upsample_plan_for
from vssleval.metrics.protocols import juanola2025 as J
from vssleval.metrics.thresholds import UniversalThresholds
from vssleval.metrics.upsample import upsample

TH = UniversalThresholds(0.6041, 0.6645, 0.6382)
OPS = upsample_plan_for("ezvsl", "vggss")


def make_data(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    maps = {v: (0.5 + 0.15 * rng.standard_normal((n, 7, 7))).astype(np.float32)
            for v in ("positive", "silence", "noise", "offscreen")}
    ogl = rng.random((n, 7, 7)).astype(np.float32)
    gt = np.zeros((n, 224, 224), np.uint8)
    x0, y0 = rng.integers(0, 150, n), rng.integers(0, 150, n)
    w, h = rng.integers(5, 74, n), rng.integers(5, 74, n)
    for i in range(n):
        gt[i, y0[i]:y0[i] + h[i], x0[i]:x0[i] + w[i]] = 1
    gt[::250] = 0  # a few empty GTs (as VGG-SS has): adaptive index HW // 2, 0/0 -> NaN IoUs
    return maps, ogl, gt


# ---------------------------------------------------------------- the reference's loop, literally
# Written from docs/protocols.md §3.8-§4 (not from vssl_eval's code): one sample at a time, float32
# 224x224 maps, float64 GT, np.sort of the flattened map for every order-statistic threshold,
# cal_CIOU building a float64 mask and float64 products with the GT on every call, pIA and
# compute_IOU_maps on boolean masks. Upsampling: torch F.interpolate per sample for
# align_corners=True; for cv2.resize (not a dependency) our bit-exact emulation, per sample.
HW = 224 * 224


def ref_upsample_torch(m):
    t = torch.from_numpy(m)[None, None]
    return F.interpolate(t, size=(224, 224), mode="bilinear", align_corners=True)[0, 0].numpy()


def ref_upsample_cv2(m):
    return upsample(m[None], "cv2_linear")[0]  # stands in for cv2.resize(m, (224, 224))


def ref_upsample(m, op):
    return ref_upsample_torch(m) if op == "bilinear_ac" else ref_upsample_cv2(m)


def ref_thr_median(m):
    return np.sort(m.flatten())[int(HW / 2)]


def ref_thr_adaptive(m, gt):
    g = np.sum(gt != 0)
    if g == 0:
        g = HW // 2
    return np.sort(m.flatten())[HW - g]


def ref_cal_ciou(infer, gtmap, thres):
    """Evaluator_iiou.cal_CIOU: float64 mask, consensus IoU with the float64 GT (docs/protocols.md §4.2)."""
    infer_map = np.zeros((224, 224))
    infer_map[infer > thres] = 1
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.sum(infer_map * gtmap) / (np.sum(gtmap) + np.sum(infer_map * (gtmap == 0)))


def ref_pia(mask):
    return np.sum(mask) / HW


def ref_compute_iou_maps(a, b):
    if np.sum(b) == 0 and np.sum(a) > 0:
        return 0.0
    if np.sum(a) == 0 and np.sum(b) == 0:
        return 1.0
    return np.sum(np.logical_and(a, b)) / np.sum(np.logical_or(a, b))


def ref_sample(raw, ogl, gt, th, ops, fixed=0.5, alpha=0.4):
    """One sample of one seed, in the reference's order (docs/protocols.md §4.3-§4.6).

    Returns {field: scalar}."""
    rec = {}
    for v in ("positive", "silence", "noise", "offscreen"):  # docs/protocols.md §4.6: raw low-resolution extremes
        rec[f"max_{v}"], rec[f"min_{v}"] = float(np.max(raw[v])), float(np.min(raw[v]))
    P = ref_upsample(raw["positive"], ops["positive"])
    N = {x: ref_upsample(raw[x], ops["neg"]) for x in ("silence", "noise", "offscreen")}
    O = ref_upsample(ogl, ops["ogl"])
    G = gt.astype(np.float64)
    Bp = P * np.float32(alpha) + O * np.float32(1 - alpha)
    BN = {x: m * np.float32(alpha) + O * np.float32(1 - alpha) for x, m in N.items()}
    uni = {"max": th.max, "max10": th.max10, "maxq3": th.maxq3}
    for w, pos_map, negs in (("wogl", P, N), ("ogl", Bp, BN)):
        t = {"med": ref_thr_median(pos_map), "adap": ref_thr_adaptive(pos_map, G), "fixed": fixed, **uni}
        ious = [ref_cal_ciou(pos_map, G, t[r]) for r in ("med", "fixed", "max", "max10", "maxq3")]
        for r, v in zip(("med", "fixed", "max", "max10", "maxq3"), ious):
            rec[f"iou_{w}_{r}"] = v  # NaN -> 0 for WOGL happens at aggregation (QUIRK_nan_to_zero_wogl)
        rec[f"iou_{w}_adap"] = ref_cal_ciou(pos_map, G, t["adap"])  # cal_CIOU_adap
        neg_masks = {}
        for x, m in negs.items():
            for r in ("fixed", "med", "adap", "max", "max10", "maxq3"):
                neg_masks[(x, r)] = m > t[r]
                rec[f"pia_{w}_{x}_{r}"] = ref_pia(neg_masks[(x, r)])
        pair_rules = ("fixed", "max", "max10", "maxq3", "adap") if w == "wogl" else ("fixed", "adap")
        masks = dict(neg_masks)
        for r in pair_rules:
            masks[("positive", r)] = pos_map > t[r]
        for r in pair_rules:
            for a, b in J.PAIRS:
                rec[f"mapiou_{w}_{a}_{b}_{r}"] = ref_compute_iou_maps(masks[(a, r)], masks[(b, r)])
    return rec


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--batch", type=int, default=64)
    ap.add_argument("--baseline-n", type=int, default=None,
                    help="run the baseline on the first K samples only and extrapolate per sample")
    ap.add_argument("--repeat", type=int, default=3, help="module timing: median of this many runs")
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 1,
                    help="module worker threads of the second timing (the first uses 1, like the baseline)")
    args = ap.parse_args()
    torch.set_num_threads(1)  # the baseline and the module's torch kernels: one intra-op thread
    maps, ogl, gt = make_data(args.n)
    groups = [f"g{i // 2}" for i in range(args.n)]

    def run_module(threads: int):
        parts = []
        for s in range(0, args.n, args.batch):
            sl = slice(s, s + args.batch)
            parts.append(J.sample_records(maps["positive"][sl], maps["silence"][sl], maps["noise"][sl],
                                          maps["offscreen"][sl], ogl[sl], gt[sl], TH, OPS, threads=threads))
        rec = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
        return rec, J.aggregate(rec, groups)

    def timed(threads: int):
        # wall and CPU (process) time: on a shared machine the CPU time is the steadier of the two
        times, cpus = [], []
        for _ in range(args.repeat):
            t0, c0 = time.perf_counter(), time.process_time()
            out = run_module(threads)
            times.append(time.perf_counter() - t0)
            cpus.append(time.process_time() - c0)
        return out, float(np.median(times)), float(np.median(cpus))

    (rec, ours), t_ours, c_ours = timed(1)
    (rec_mt, _), t_mt, _ = timed(args.threads)
    for k, v in rec.items():
        assert np.array_equal(v, rec_mt[k], equal_nan=True), f"{args.threads} threads changed {k}"

    nb = min(args.baseline_n or args.n, args.n)
    t0, c0 = time.perf_counter(), time.process_time()
    rows = [ref_sample({v: maps[v][i] for v in maps}, ogl[i], gt[i], TH, OPS) for i in range(nb)]
    base_rec = {k: np.array([r[k] for r in rows], dtype=np.float64) for k in rows[0]}
    base = J.aggregate(base_rec, groups[:nb])
    t_base, c_base = time.perf_counter() - t0, time.process_time() - c0
    # the baseline's upsampling alone (5 maps per sample), to show its share honestly
    k_up = min(nb, 200)
    c0 = time.process_time()
    for i in range(k_up):
        ref_upsample(maps["positive"][i], OPS["positive"]), ref_upsample(ogl[i], OPS["ogl"])
        for v in J.NEGATIVES:
            ref_upsample(maps[v][i], OPS["neg"])
    up_base = (time.process_time() - c0) / k_up

    assert set(base_rec) == set(rec), "field sets differ"
    for k, v in base_rec.items():
        assert np.array_equal(v, rec[k][:nb], equal_nan=True), f"baseline and module differ on {k}"
    ours_nb = ours if nb == args.n else J.aggregate({k: v[:nb] for k, v in rec.items()}, groups[:nb])
    for k in ours_nb:
        assert ours_nb[k] == base[k] or (np.isnan(ours_nb[k]) and np.isnan(base[k])), f"metric {k} differs"
    per_ours, per_base = t_ours / args.n, t_base / nb
    cpu_ours, cpu_base = c_ours / args.n, c_base / nb
    print(f"samples: {args.n} x 4 audio variants (+ object map), 7x7 -> 224x224, 164 compat metrics, "
          f"torch threads {torch.get_num_threads()}")
    print(f"module   : {t_ours:8.2f} s wall  ({per_ours * 1e3:.3f} ms/sample wall, {cpu_ours * 1e3:.3f} CPU; "
          f"median of {args.repeat} runs, batch {args.batch}, 1 thread)")
    print(f"module   : {t_mt:8.2f} s wall  ({t_mt / args.n * 1e3:.3f} ms/sample wall; {args.threads} threads, "
          f"{os.cpu_count()} CPUs visible; same values asserted)")
    scope = "full run" if nb == args.n else f"first {nb} samples, EXTRAPOLATED to {args.n}: {per_base * args.n:.1f} s"
    print(f"baseline : {t_base * args.n / nb:8.2f} s wall  ({per_base * 1e3:.3f} ms/sample wall, "
          f"{cpu_base * 1e3:.3f} CPU; {scope})")
    print(f"           of which upsampling ~{up_base * 1e3:.3f} ms/sample CPU (torch per sample + cv2 emulation)")
    print(f"checked  : {len(base_rec)} per-sample fields x {nb} samples identical (NaN included); "
          f"{len(ours_nb)} metrics identical")
    print(f"ratio    : {per_base / per_ours:.1f}x wall, {cpu_base / cpu_ours:.1f}x CPU  "
          f"(1 thread each; baseline without its upsampling: {(cpu_base - up_base) / cpu_ours:.1f}x CPU)")
    print(f"ratio    : {per_base / (t_mt / args.n):.1f}x wall with {args.threads} module threads "
          f"(the baseline loop is serial)")


if __name__ == "__main__":
    main()
