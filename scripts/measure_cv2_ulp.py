"""How much do the compat (juanola2025) metrics depend on OpenCV's last bit? (docs/protocols.md §8.5)

vssl_eval upsamples some maps with ``cv2.resize(..., INTER_LINEAR)``, whose float32 output depends on
the code path OpenCV takes on the CPU at hand; ``upsample(..., "cv2_linear")`` reproduces one path.
This script measures, on a fixture root (default: the committed bundle ``tests/fixtures``):

1. **agreement** (needs ``cv2``, e.g. ``pip install opencv-python-headless``; skipped without it):
   pixels where our ``cv2_linear`` differs from the local ``cv2.resize``, for every golden raw map
   (7 -> 224 and 14 -> 224), with OpenCV's optimised code (as shipped) and with its plain C++ fallback
   (``cv2.setUseOptimized(False)``);
2. **effect**: every ``cv2_linear`` map of the compat runs is changed, then the compat metrics are
   recomputed: ``--mode ulp`` moves a random ``--fraction`` of the interpolated pixels (those that
   are not plain copies of a raw value) by one ulp up or down (``--draws`` independent draws),
   ``--mode cv2`` / ``cv2-plain`` use the local OpenCV's own output (optimised / fallback). Printed:
   how many of the 164 values move and by how much (report units, i.e. x100), how many lines of the
   2-decimal text file change, and how many masks (strict ``>``, one per sample, seed, map and
   rule, WOGL and OGL) change their pixel count.

    python scripts/measure_cv2_ulp.py [--fixtures DIR] [--mode ulp|cv2|cv2-plain] [--draws 3]

Inputs per model x test set: ``models/<m>_<s>.npz`` (golden seed-1234 maps, targets
``metrics/metrics_<m>_<s>.json`` ``raw_mode``) and, where present, ``metrics/<m>_<s>/captured_raw.npz``
(the 10-seed run, targets ``metrics_full.json``). The unchanged maps reproduce every target exactly
(checked and printed first).
"""

from __future__ import annotations

import argparse
import json
import sys
import zlib
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vssleval.engine.scoring import upsample_plan_for  # noqa: E402
from vssleval.metrics import Accumulator, upsample  # noqa: E402
from vssleval.metrics.protocols import juanola2025 as J  # noqa: E402

#: the map variants a golden file holds; the fixtures spell the positive "pos"
VARIANTS = ("positive", "silence", "noise", "offscreen", "ogl")
FIXTURE_NAME = {"positive": "pos"}
from vssleval.metrics.upsample import cv2_linear_taps  # noqa: E402

import yaml  # noqa: E402

MODELS = ("ezvsl", "slavc", "fnac", "lvs", "sslalign", "ssltie")
SETS = ("vggss", "is3")
RULES = ("fixed", "med", "adap", "max", "max10", "maxq3")


def thresholds(model: str) -> dict:
    return yaml.safe_load((ROOT / "configs" / "models" / f"{model}.yaml").read_text())["thresholds"]


# -- the changed cv2 maps -------------------------------------------------------------------------
class Changer:
    """Turns our ``cv2_linear`` output into another one. Each map's change depends only on the
    draw and the map's raw values, so the metric run and the mask count see the same maps."""

    def __init__(self, mode: str, fraction: float, draw: int):
        self.mode, self.fraction, self.draw = mode, fraction, draw
        self.changed = self.total = 0

    def __call__(self, raw: np.ndarray, up: np.ndarray) -> np.ndarray:
        """``raw`` [B, h, w] float32, ``up`` [B, 224, 224] our cv2_linear output (changed in place)."""
        if self.mode == "ulp":
            h, w = raw.shape[-2:]
            size = up.shape[-1]
            copy = (cv2_linear_taps(h, size)[3] == 0)[:, None] & (cv2_linear_taps(w, size)[3] == 0)[None, :]
            for i in range(raw.shape[0]):
                rng = np.random.default_rng([self.draw, zlib.crc32(np.ascontiguousarray(raw[i]).tobytes())])
                pick = (rng.random((size, size)) < self.fraction) & ~copy
                direction = np.where(rng.random((size, size)) < 0.5, -np.inf, np.inf).astype(np.float32)
                up[i][pick] = np.nextafter(up[i][pick], direction[pick])
                self.changed += int(np.count_nonzero(pick))
        else:
            import cv2

            cv2.setUseOptimized(self.mode == "cv2")
            size = up.shape[-1]
            ref = np.stack([cv2.resize(m, (size, size), interpolation=cv2.INTER_LINEAR) for m in raw])
            cv2.setUseOptimized(True)
            self.changed += int(np.count_nonzero(ref != up))
            up[...] = ref
        self.total += up.size
        return up


def patched_upsample_into(change: Changer):
    real = J.upsample_into

    def upsample_into(maps, op, out):
        real(maps, op, out)
        return change(np.asarray(maps, np.float32), out) if op == "cv2_linear" else out

    return upsample_into


def upsampled(raw: np.ndarray, op: str, change: Changer | None) -> np.ndarray:
    up = upsample(np.asarray(raw, np.float32), op)
    return change(np.asarray(raw, np.float32), up) if change is not None and op == "cv2_linear" else up


# -- mask pixel counts (strict >, the compat rules) -------------------------------------------------
def mask_counts(maps: dict, gt: np.ndarray, ops: dict, th: dict, change: Changer | None) -> np.ndarray:
    """int64 [B, 2 (WOGL, OGL), 4 maps, 6 rules]: pixels of each compat mask (docs/protocols.md §4.4)."""
    up = {v: upsampled(maps[v], ops["positive" if v == "positive" else "neg"], change).reshape(len(gt), -1)
          for v in ("positive", "silence", "noise", "offscreen")}
    obj = upsampled(maps["ogl"], ops["ogl"], change).reshape(len(gt), -1)
    a32, b32 = np.float32(J.QUIRK_OGL_ALPHA), np.float32(1 - J.QUIRK_OGL_ALPHA)
    hw = obj.shape[1]
    g = np.count_nonzero(gt.reshape(len(gt), -1), axis=1)
    k_adap = hw - np.where(g == 0, hw // 2, g)
    out = np.zeros((len(gt), 2, 4, len(RULES)), np.int64)
    for wi, w in enumerate(("wogl", "ogl")):
        ms = [up[v] if w == "wogl" else up[v] * a32 + obj * b32 for v in ("positive", "silence", "noise", "offscreen")]
        srt = np.sort(ms[0], axis=1)
        t = {"fixed": J.QUIRK_FIXED_THRESHOLD, "max": th["max"], "max10": th["max10"], "maxq3": th["maxq3"],
             "med": srt[:, hw // 2][:, None], "adap": np.take_along_axis(srt, k_adap[:, None], 1)}
        for vi, m in enumerate(ms):
            for ri, r in enumerate(RULES):
                out[:, wi, vi, ri] = np.count_nonzero(np.greater(m, t[r]), axis=1)
    return out


# -- the runs ---------------------------------------------------------------------------------------
def cases(root: Path) -> list[tuple[str, str, str, Path]]:
    """(kind, model, set, file) for every golden and captured run in ``root``."""
    out = []
    for m in MODELS:
        for s in SETS:
            if (root / "models" / f"{m}_{s}.npz").is_file():
                out.append(("golden", m, s, root / "models" / f"{m}_{s}.npz"))
            if (root / "metrics" / f"{m}_{s}" / "captured_raw.npz").is_file():
                out.append(("captured", m, s, root / "metrics" / f"{m}_{s}" / "captured_raw.npz"))
    return out


def run(kind: str, model: str, testset: str, path: Path, change: Changer | None):
    """(the 164 values, the 2-decimal text, mask counts) of one case with changed cv2 maps."""
    z = np.load(path)
    th, ops = thresholds(model), upsample_plan_for(model, testset)
    acc = Accumulator("juanola2025", thresholds=th, upsample=ops, seeds=None)
    real = J.upsample_into
    if change is not None:
        J.upsample_into = patched_upsample_into(change)
    try:
        if kind == "golden":
            seeds = [{v: z[f"raw_{FIXTURE_NAME.get(v, v)}"] for v in VARIANTS}]
            names, gt = list(z["names"]), z["gt_map"]
        else:
            seeds = [{v: z[FIXTURE_NAME.get(v, v)][s] for v in VARIANTS}
                     for s in range(z["pos"].shape[0])]
            names, gt = list(z["names"]), z["gt"]
        counts = []
        for s, maps in enumerate(seeds):
            acc.update(s, names, maps["positive"], maps["silence"], maps["noise"], maps["offscreen"], gt,
                       ogl=maps["ogl"])
        res = acc.result()
    finally:
        J.upsample_into = real
    for maps in seeds:
        counts.append(mask_counts(maps, gt, ops, th, change))
    values = {k: res[k] for k in J.metric_keys()}
    return values, J.format_text(values), np.stack(counts)


def target(kind: str, model: str, testset: str, root: Path) -> dict:
    if kind == "golden":
        return json.loads((root / "metrics" / f"metrics_{model}_{testset}.json").read_text())["raw_mode"]
    return json.loads((root / "metrics" / f"{model}_{testset}" / "metrics_full.json").read_text())


def same(a: float, b: float) -> bool:
    return abs(a - b) <= 1e-9 or (np.isnan(a) and np.isnan(b))


def agreement(root: Path) -> None:
    try:
        import cv2
    except ImportError:
        print("agreement: cv2 not importable, skipped (pip install opencv-python-headless)")
        return
    print(f"agreement with cv2.resize INTER_LINEAR: opencv {cv2.__version__}")
    if hasattr(cv2, "getCPUFeaturesLine"):
        print(f"  CPU features (baseline, dispatched; '?' = not available): {cv2.getCPUFeaturesLine()}")
    for optimized in (True, False):
        cv2.setUseOptimized(optimized)
        for side in (7, 14):
            diff = total = maps = worst = 0
            for _, _, _, path in [c for c in cases(root) if c[0] == "golden"]:
                z = np.load(path)
                for k in z.files:
                    if not k.startswith("raw_") or z[k].shape[-1] != side:
                        continue
                    raw = z[k].astype(np.float32)
                    ours = upsample(raw, "cv2_linear")
                    ref = np.stack([cv2.resize(m, (224, 224), interpolation=cv2.INTER_LINEAR) for m in raw])
                    d = ours != ref
                    diff, total, maps = diff + int(d.sum()), total + d.size, maps + raw.shape[0]
                    if d.any():
                        ulps = np.abs(ours.view(np.int32).astype(np.int64) - ref.view(np.int32))[d]
                        worst = max(worst, int(ulps.max()))
            if maps:
                print(f"  {'optimised' if optimized else 'plain C++ (setUseOptimized(False))'}, "
                      f"{side} -> 224: {diff} of {total} pixels differ ({100 * diff / total:.2f} %, "
                      f"{maps} maps), at most {worst} ulp")
    cv2.setUseOptimized(True)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--fixtures", type=Path, default=ROOT / "tests" / "fixtures",
                    help="fixture root (models/, metrics/); default: the committed bundle")
    ap.add_argument("--mode", choices=("ulp", "cv2", "cv2-plain"), default="ulp")
    ap.add_argument("--fraction", type=float, default=0.10, help="--mode ulp: share of interpolated pixels moved")
    ap.add_argument("--draws", type=int, default=3, help="--mode ulp: independent draws")
    ap.add_argument("--no-agreement", action="store_true", help="skip the cv2 agreement table")
    a = ap.parse_args(argv)
    root = a.fixtures.resolve()
    todo = cases(root)
    if not todo:
        print(f"no fixtures under {root}", file=sys.stderr)
        return 2
    print(f"fixtures: {root} ({sum(k == 'golden' for k, *_ in todo)} golden, "
          f"{sum(k == 'captured' for k, *_ in todo)} captured 10-seed runs)")
    if not a.no_agreement:
        agreement(root)
    base = {}
    for kind, m, s, path in todo:
        base[(kind, m, s)] = run(kind, m, s, path, None)
        ref = target(kind, m, s, root)
        bad = [k for k in ref if not same(ref[k], base[(kind, m, s)][0][k])]
        print(f"unchanged maps, {kind} {m}_{s}: {164 - len(bad)} of 164 values equal the target")
    draws = range(a.draws) if a.mode == "ulp" else range(1)
    label = f"{a.fraction:.0%} of interpolated cv2 pixels +-1 ulp" if a.mode == "ulp" else f"local OpenCV ({a.mode})"
    for draw in draws:
        change = Changer(a.mode, a.fraction, draw)
        for kind in ("golden", "captured"):
            moved = lines = n_val = n_lines = masks_changed = n_masks = px = px_max = 0
            worst = (0.0, "")
            for (k, m, s), (vals0, text0, cnt0) in base.items():
                if k != kind:
                    continue
                vals, text, cnt = run(k, m, s, [p for kk, mm, ss, p in todo if (kk, mm, ss) == (k, m, s)][0], change)
                for key in vals0:
                    n_val += 1
                    if not same(vals0[key], vals[key]):
                        moved += 1
                        d = abs(vals[key] - vals0[key])
                        if d > worst[0]:
                            worst = (d, f"{m}_{s} {key}: {vals0[key]!r} -> {vals[key]!r}")
                l0, l1 = text0.splitlines(), text.splitlines()
                n_lines += len(l0)
                lines += sum(x != y for x, y in zip(l0, l1))
                dpx = np.abs(cnt - cnt0)
                n_masks += dpx.size
                masks_changed += int(np.count_nonzero(dpx))
                px += int(dpx.sum())
                px_max = max(px_max, int(dpx.max()))
            if not n_val:
                continue
            where = f", {worst[1]}" if worst[1] else ""
            print(f"[{label}, draw {draw}] {kind}: {change.changed} of {change.total} cv2 pixels changed so far; "
                  f"{moved} of {n_val} values move (largest |change| {worst[0]:.3g}{where}); "
                  f"{lines} of {n_lines} text lines change; {masks_changed} of {n_masks} masks change their "
                  f"pixel count (total {px} px, at most {px_max} px in one mask)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
