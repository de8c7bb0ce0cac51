#!/usr/bin/env python
"""Benchmark: juanola2025 compat metrics, vectorized module vs a per-sample NumPy loop.

Both compute the same per-sample scalars (checked equal) from the same random raw maps
(N samples x 4 audio variants + object map, 7x7, EZ-family ops on VGG-SS), then the same
aggregation. The baseline mirrors the reference: per sample, np.sort of each 224x224 map for
its thresholds, float64 masks and sums per IoU/pIA call.

    OMP_NUM_THREADS=1 .venv/bin/python scripts/bench_metrics.py --n 2000
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
import torch.nn.functional as F

from vssleval.metrics.protocols import juanola2025 as J
from vssleval.metrics.thresholds import UniversalThresholds
from vssleval.metrics.upsample import cv2_linear_taps

TH = UniversalThresholds(0.6041, 0.6645, 0.6382)
OPS = J.upsample_ops("ez", "vggss")


def make_data(n: int, seed: int = 0):
    rng = np.random.default_rng(seed)
    maps = {v: (0.5 + 0.15 * rng.standard_normal((n, 7, 7))).astype(np.float32)
            for v in ("pos", "silence", "noise", "offscreen")}
    ogl = rng.random((n, 7, 7)).astype(np.float32)
    gt = np.zeros((n, 224, 224), np.uint8)
    x0, y0 = rng.integers(0, 150, n), rng.integers(0, 150, n)
    w, h = rng.integers(5, 74, n), rng.integers(5, 74, n)
    for i in range(n):
        gt[i, y0[i]:y0[i] + h[i], x0[i]:x0[i] + w[i]] = 1
    return maps, ogl, gt


# ---------------------------------------------------------------- straightforward baseline
def cv2_one(m):
    r0, r1, a0, a1 = cv2_linear_taps(m.shape[0], 224)
    c0, c1, b0, b1 = cv2_linear_taps(m.shape[1], 224)
    x = m.astype(np.float64)
    h = (x[:, c0] * b0.astype(np.float64) + x[:, c1] * b1.astype(np.float64)).astype(np.float32).astype(np.float64)
    return (h[r0] * a0.astype(np.float64)[:, None] + h[r1] * a1.astype(np.float64)[:, None]).astype(np.float32)


def torch_one(m):
    t = torch.from_numpy(m)[None, None]
    return F.interpolate(t, size=(224, 224), mode="bilinear", align_corners=True)[0, 0].numpy()


def cal_ciou(infer, gt, thr):
    pred = np.zeros((224, 224))
    pred[infer > thr] = 1
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.sum(pred * gt) / (np.sum(gt) + np.sum(pred * (gt == 0)))


def iou_maps(a, b):
    if np.sum(b) == 0 and np.sum(a) > 0:
        return 0.0
    if np.sum(a) == 0 and np.sum(b) == 0:
        return 1.0
    return np.sum(np.logical_and(a, b)) / np.sum(np.logical_or(a, b))


def baseline_sample(raw, ogl, gt):
    rec = {}
    for v, m in raw.items():
        rec[f"max_{v}"], rec[f"min_{v}"] = float(m.max()), float(m.min())
    up = {"pos": torch_one(raw["pos"])}
    for v in J.NEGATIVES:
        up[v] = cv2_one(raw[v])
    obj = torch_one(ogl)
    g = gt.astype(np.float64)
    n_gt = int(np.sum(g != 0)) or 224 * 224 // 2
    for w in ("wogl", "ogl"):
        maps = dict(up) if w == "wogl" else {v: m * np.float32(0.4) + obj * np.float32(0.6) for v, m in up.items()}
        srt = np.sort(maps["pos"].flatten())
        t = {"med": srt[224 * 224 // 2], "fixed": 0.5, "max": TH.max, "max10": TH.max10, "maxq3": TH.maxq3,
             "adap": srt[224 * 224 - n_gt]}
        for r in J.POOLED_RULES + ("adap",):
            rec[f"iou_{w}_{r}"] = cal_ciou(maps["pos"], g, t[r])
        for x in J.NEGATIVES:
            for r in ("fixed", "med", "adap", "max", "max10", "maxq3"):
                rec[f"pia_{w}_{x}_{r}"] = np.sum(maps[x] > t[r]) / (224 * 224)
        for r in (("fixed", "max", "max10", "maxq3", "adap") if w == "wogl" else ("fixed", "adap")):
            for a, b in J.PAIRS:
                rec[f"mapiou_{w}_{a}_{b}_{r}"] = iou_maps(maps[a] > t[r], maps[b] > t[r])
    return rec


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=2000)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--baseline-n", type=int, default=None,
                    help="run the baseline on the first K samples only and extrapolate per sample")
    args = ap.parse_args()
    torch.set_num_threads(1)
    maps, ogl, gt = make_data(args.n)
    groups = [f"g{i // 2}" for i in range(args.n)]

    t0 = time.perf_counter()
    parts = []
    for s in range(0, args.n, args.batch):
        sl = slice(s, s + args.batch)
        parts.append(J.sample_records(maps["pos"][sl], maps["silence"][sl], maps["noise"][sl],
                                      maps["offscreen"][sl], ogl[sl], gt[sl], TH, OPS))
    rec = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    ours = J.aggregate(rec, groups)
    t_ours = time.perf_counter() - t0

    nb = args.baseline_n or args.n
    t0 = time.perf_counter()
    rows = [baseline_sample({v: maps[v][i] for v in maps}, ogl[i], gt[i]) for i in range(nb)]
    base_rec = {k: np.array([r[k] for r in rows], dtype=np.float64) for k in rows[0]}
    if nb == args.n:
        base = J.aggregate(base_rec, groups)
    t_base = time.perf_counter() - t0
    for k, v in base_rec.items():
        assert np.array_equal(v, rec[k][:nb], equal_nan=True), f"baseline and module differ on {k}"
    if nb == args.n:
        assert all(np.isclose(ours[k], base[k], equal_nan=True, atol=0) for k in ours)
    per_ours, per_base = t_ours / args.n, t_base / nb
    print(f"samples: {args.n} x 4 audio variants (+ object map), 7x7 -> 224x224, 164 compat metrics, 1 thread")
    print(f"module   : {t_ours:8.2f} s  ({per_ours * 1e3:.3f} ms/sample)")
    if nb == args.n:
        print(f"baseline : {t_base:8.2f} s  ({per_base * 1e3:.3f} ms/sample, full run)")
    else:
        print(f"baseline : {t_base:8.2f} s on {nb} samples ({per_base * 1e3:.3f} ms/sample); "
              f"EXTRAPOLATED to {args.n}: {per_base * args.n:.2f} s")
    print(f"ratio    : {per_base / per_ours:.1f}x  (per-sample scalars identical: yes)")


if __name__ == "__main__":
    main()
