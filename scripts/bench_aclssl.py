#!/usr/bin/env python
"""Benchmark: ACL-SSL (``aclssl``) through ``vssleval evaluate`` vs its official test loop (issue 21, "Targets").

Everything runs on the same clips and weights, measured in one run: a synthetic VGG-SS folder of
``--clips`` records (``vssleval.data.synthetic.synth``) and the three checkpoint parts written by
the ACL weight rule (``scripts/reference/aclssl_weights.py``, deterministic substitute weights in
the release containers) into a temporary folder. Every side runs as its own child process, and its
cost is what ``os.wait4`` reports for that child: CPU time = user + sys (the child and the
processes it waited for, e.g. a DataLoader worker), peak RSS = its ``ru_maxrss``. Model loading,
imports and data reading are therefore inside every number, on both sides.

(1) baseline, the shape of the official test loop (``Eval.eval_vggss_agg`` with a batch-1
    DataLoader), built from vssleval's own modules: per sample, one ViT forward at batch 1 (all 12
    layers, as the official ``vision_model`` call computes them, though the decoder reads 4, 7 and
    10), one BEATs + FGA + prompt forward, the decoder, bicubic to 224 + sigmoid, and ACL-SSL's
    19-threshold evaluator on that one sample; the dataset numbers at the end. With
    ``--official-src DIR --official-python PY`` the official code itself is timed as well, through
    the reference harness ``scripts/reference/aclssl.py`` run by the side environment's Python
    (CPU only; its thread count pinned to ``--threads``). That child also does what the harness adds
    (forward hooks that copy each stage, the goldens it writes, 48 adversarial evaluator cases) and
    what the official loop adds (a heatmap jpg and two overlay images per sample), so it is an
    upper bound of the official loop's cost; the vssleval-module baseline is the conservative one,
    and the ratios against it are the headline.
(2) positive only: ``vssleval evaluate --model aclssl --neg none`` (default protocol, default batch
    size 32, ``--seeds 1``: a positive-only run scores nothing per seed).
(3) all negatives (silence, noise, offscreen) x ``--seeds`` seeds with ``--noise-bank K``.
(4) peak memory of one batch of ``--memory-batch`` (default 32) at 352 px through ``encode_image``,
    ``encode_audio`` and ``localize`` (the clips repeated to fill the batch): the child's peak RSS,
    and on CUDA ``torch.cuda.max_memory_allocated``.

The baseline's maps are checked against the positive-only run's stored maps (the official test
map of each, max |difference|; batch 1 and batch 32 kernels differ in the last bits), so both
sides computed the same thing.

Targets (issue 21): (1)/(2) >= 2 and (3)/(2) <= 3 in CPU time. On a CPU, batching a ViT-B/16 at
485 tokens buys little (its matrix products are already large at batch 1); the engine's saving
there is structural (the ViT stops after layer 10, each audio is encoded once). On a GPU batching
is what pays. (3)/(2) falls with the number of clips, because the noise bank's S x K BEATs
forwards are a fixed cost. The measured numbers and their discussion: docs/performance.md §7.

    OMP_NUM_THREADS=1 .venv/bin/python scripts/bench_aclssl.py --clips 8
    .venv/bin/python scripts/bench_aclssl.py --clips 3 --official-src /path/ACL-SSL --official-python /path/venv/bin/python
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import platform
import resource
import shlex
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WEIGHT_RULE = ROOT / "scripts" / "reference" / "aclssl_weights.py"
HARNESS = ROOT / "scripts" / "reference" / "aclssl.py"
VIT_LAYERS = 12  # what the official CLIP vision_model call computes per image
MAP_CHECK = 1e-3  # max |heatmap difference| accepted between the batch-1 baseline and the engine


# ----------------------------------------------------------------------------- arguments
def parse_args(argv=None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clips", type=int, default=8, help="synthetic VGG-SS records (default 8)")
    ap.add_argument("--seeds", type=int, default=10, help="seeds of the all-negatives run (default 10)")
    ap.add_argument("--noise-bank", type=int, default=4, help="noise clips per seed of the all-negatives run")
    ap.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    ap.add_argument("--threads", type=int, default=1, help="torch threads of every child (default 1)")
    ap.add_argument("--memory-batch", type=int, default=32, help="batch of the peak-memory child (0: skip)")
    ap.add_argument("--official-src", type=Path, help="checkout of swimmiing/ACL-SSL at 57f4a6c")
    ap.add_argument("--official-python", type=Path,
                    help="Python of a side environment that runs it (transformers 4.25.1, docs/models.md §18)")
    ap.add_argument("--keep", type=Path, help="keep data, weights and runs in this new folder")
    ap.add_argument("--dry-run", action="store_true", help="print the plan (the children's commands) and stop")
    ap.add_argument("--baseline-child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--memory-child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--data", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--checkpoint", type=Path, help=argparse.SUPPRESS)
    ap.add_argument("--dump", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if (args.official_src is None) != (args.official_python is None):
        ap.error("--official-src and --official-python go together")
    if args.clips < 2:
        ap.error("--clips must be >= 2 (an offscreen draw needs a clip of another class)")
    if args.seeds < 1 or args.noise_bank < 0 or args.threads < 1 or args.memory_batch < 0:
        ap.error("--seeds and --threads must be >= 1, --noise-bank and --memory-batch >= 0")
    if args.keep is not None and args.keep.exists():
        ap.error(f"--keep {args.keep} exists; name a new folder")
    return args


# ----------------------------------------------------------------------------- the plan
def evaluate_cmd(ckpt: Path, data: Path, out: Path, device: str, neg: str, seeds: int, noise_bank: int) -> list[str]:
    """``vssleval evaluate`` on the VGG-SS folder, default protocol and batch size, no intervals
    (the official loop computes none)."""
    return [sys.executable, "-m", "vssleval", "evaluate", "--model", "aclssl", "--checkpoint", str(ckpt),
            "--dataset", "vggss", "--data-dir", str(data), "--neg", neg, "--seeds", str(seeds),
            "--noise-bank", str(noise_bank), "--device", device, "--bootstrap", "0", "--out", str(out)]


def official_cmd(args, ckpt: Path, data: Path, out: Path) -> list[str]:
    """The reference harness under the side Python, its ``torch.set_num_threads`` pinned to ``--threads``."""
    launcher = ("import runpy, sys, torch; n = int(sys.argv.pop(1)); pin = torch.set_num_threads; "
                "torch.set_num_threads = lambda k: pin(n); sys.argv[0] = sys.argv[1]; del sys.argv[1]; "
                "runpy.run_path(sys.argv[0], run_name='__main__')")
    return [str(args.official_python), "-c", launcher, str(args.threads), str(HARNESS), "--src", str(args.official_src),
            "--weights", str(ckpt), "--data", str(data), "--out", str(out)]


def plan(args, tmp: Path) -> dict[str, list[str]]:
    """Every child's command, in the order they run."""
    ckpt, data = tmp / "ckpt", tmp / "data"
    me = [sys.executable, str(Path(__file__).resolve()), "--checkpoint", str(ckpt), "--data", str(data),
          "--device", args.device]
    steps = {"baseline": me + ["--baseline-child", "--dump", str(tmp / "baseline.npz")]}
    if args.official_src:
        steps["official"] = official_cmd(args, ckpt, data, tmp / "official")
    steps["positive"] = evaluate_cmd(ckpt, data, tmp / "positive", args.device, "none", 1, 0)
    steps["all"] = evaluate_cmd(ckpt, data, tmp / "all", args.device, "all", args.seeds, args.noise_bank)
    if args.memory_batch:
        steps["memory"] = me + ["--memory-child", "--memory-batch", str(args.memory_batch)]
    return steps


# ----------------------------------------------------------------------------- children: shared
def child_setup(args):
    """Model (the three parts from ``--checkpoint``), device, pipelines and samples of a child."""
    import torch

    from vssleval.data import load_dataset
    from vssleval.engine.device import resolve_device
    from vssleval.frontends.pipeline import from_preset
    from vssleval.models import build_model, load_model_config

    torch.set_num_threads(int(os.environ.get("OMP_NUM_THREADS", "1")))
    device = resolve_device(args.device)
    model = build_model("aclssl", checkpoint=str(args.checkpoint), preset="native").to(device).eval()
    audio, image = from_preset(load_model_config("aclssl")["presets"]["native"])
    return torch, model, device, audio, image, load_dataset("vggss", args.data).samples


def sync(torch, device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def baseline_child(args) -> None:
    """The official loop's shape (module docstring, (1)); prints CPU seconds per stage as JSON and
    writes the test maps to ``--dump``."""
    import numpy as np

    c0 = time.process_time()
    torch, model, device, audio, image, samples = child_setup(args)
    from vssleval.metrics.protocols.native import EVALUATORS
    from vssleval.metrics.protocols.native.aclssl import heatmap

    evaluator = EVALUATORS["aclssl"]
    vision = model.clipseg.clip.vision_model
    layers = tuple(model.vision_layers)
    cost = {"load": time.process_time() - c0, "data": 0.0, "vit": 0.0, "audio": 0.0, "decoder": 0.0, "evaluator": 0.0}
    cols, heat = [], []

    def timed(stage, fn):
        t = time.process_time()
        out = fn()
        sync(torch, device)
        cost[stage] += time.process_time() - t
        return out

    with torch.no_grad():
        for s in samples:  # batch 1, in dataset order, as the official DataLoader
            img, fbank = timed("data", lambda: (image.load(s.image_path)[None].to(device),
                                                audio.positive(s.audio_path)[None].to(device)))
            states = timed("vit", lambda: vision.hidden_states(img, layers + (VIT_LAYERS,)))
            visual = torch.stack(states[:len(layers)], dim=1)
            emb = timed("audio", lambda: model.encode_audio(fbank))
            raw = timed("decoder", lambda: model.localize(visual, emb).float().cpu().numpy())
            one = timed("evaluator", lambda: evaluator.samples(raw, [s.boxes_frac]))
            cols.append(one)
            heat.append(heatmap(raw))  # for the map check only (a few ms)
    columns = {k: np.concatenate([np.asarray(c[k]) for c in cols]) for k in cols[0]}
    result = evaluator.aggregate(columns)
    np.savez(args.dump, heatmap=np.concatenate(heat), ids=np.array([s.id for s in samples]))
    print(json.dumps({"n": len(samples), "cpu_by_stage": cost, "auc_at_0.5": result["auc"],
                      "ciou_at_0.5": result["ciou"]}))


def memory_child(args) -> None:
    """One batch of ``--memory-batch`` at 352 px through the three contract methods; prints JSON."""
    torch, model, device, audio, image, samples = child_setup(args)
    after_load = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    picks = [samples[i % len(samples)] for i in range(args.memory_batch)]
    images = torch.stack([image.load(s.image_path) for s in picks]).to(device)
    fbank = torch.stack([audio.positive(s.audio_path) for s in picks]).to(device)
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    with torch.no_grad():
        raw = model.localize(model.encode_image(images), model.encode_audio(fbank))
    sync(torch, device)
    out = {"batch": args.memory_batch, "shape": list(raw.shape), "rss_after_load_mib": after_load,
           "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}
    if device.type == "cuda":
        out["cuda_max_allocated_mib"] = torch.cuda.max_memory_allocated(device) / 2 ** 20
    print(json.dumps(out))


# ----------------------------------------------------------------------------- parent
def run_child(name: str, cmd: list[str], tmp: Path, threads: int) -> dict:
    """Run ``cmd``; its own CPU time (user + sys, waited-for descendants included), wall time and peak
    RSS from ``os.wait4``; the last stdout line parsed as JSON when it is JSON."""
    env = {**os.environ, "OMP_NUM_THREADS": str(threads), "MKL_NUM_THREADS": str(threads)}
    log_out, log_err = tmp / f"{name}.out", tmp / f"{name}.err"
    t0 = time.perf_counter()
    with open(log_out, "w") as out, open(log_err, "w") as err:
        proc = subprocess.Popen(cmd, stdout=out, stderr=err, env=env, cwd=ROOT)
        _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        tail = log_err.read_text(errors="replace").strip().splitlines()[-15:]
        raise SystemExit(f"bench_aclssl: the {name} child failed (exit {proc.returncode}):\n  " + "\n  ".join(tail))
    lines = log_out.read_text(errors="replace").strip().splitlines()
    try:
        report = json.loads(lines[-1]) if lines else {}
    except json.JSONDecodeError:
        report = {}
    return {"cpu": usage.ru_utime + usage.ru_stime, "sys": usage.ru_stime, "wall": wall,
            "rss_mib": usage.ru_maxrss / 1024, "report": report}


def prepare(tmp: Path, clips: int) -> None:
    """The synthetic VGG-SS folder and the weight-rule checkpoint folder, outside every timing."""
    from vssleval.data.synthetic.generate import synth

    spec = importlib.util.spec_from_file_location("aclssl_weights_rule", WEIGHT_RULE)
    rule = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(rule)
    synth("vggss", clips, 0, tmp / "data")
    rule.write_checkpoint_dir(tmp / "ckpt")


def check_maps(tmp: Path) -> float:
    """Max |difference| of the official test map between the batch-1 baseline and the positive-only
    run's store (by sample id); raises when above :data:`MAP_CHECK`."""
    import numpy as np

    from vssleval.engine.store import HeatmapStore
    from vssleval.metrics.protocols.native.aclssl import heatmap

    with np.load(tmp / "baseline.npz") as b:
        ref = dict(zip(b["ids"].tolist(), b["heatmap"]))
    worst = 0.0
    for shard in HeatmapStore.open(tmp / "positive" / "store").iter_shards():
        for sid, m in zip(shard["ids"].tolist(), heatmap(np.asarray(shard["positive"], np.float32))):
            worst = max(worst, float(np.abs(m - ref.pop(sid)).max()))
    if ref or worst > MAP_CHECK:
        raise SystemExit(f"bench_aclssl: baseline and engine maps differ (max {worst:.3g}; unmatched {sorted(ref)})")
    return worst


def machine() -> str:
    cpu = next((ln.split(":", 1)[1].strip() for ln in Path("/proc/cpuinfo").read_text().splitlines()
                if ln.startswith("model name")), platform.processor()) if Path("/proc/cpuinfo").exists() else platform.processor()
    load = " ".join(f"{x:.2f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    return f"{cpu}, {os.cpu_count()} CPUs visible, load average {load}"


def report(args, res: dict, worst: float) -> None:
    """The numbers and the two ratios against their targets."""
    def line(label, r):
        print(f"  {label:40s} {r['cpu']:7.1f} s CPU (sys {r['sys']:5.1f}) {r['wall']:7.1f} s wall  "
              f"peak RSS {r['rss_mib']:6.0f} MiB")

    base = res["baseline"]
    print("baseline: the official loop's shape in vssleval modules (batch 1, 12-layer ViT per sample)")
    line("(1) baseline", base)
    stages = base["report"]["cpu_by_stage"]
    print("      CPU by stage: " + ", ".join(f"{k} {v:.1f} s" for k, v in stages.items()))
    if "official" in res:
        line("(1') official code via the harness", res["official"])
    line("(2) vssleval positive only", res["positive"])
    line(f"(3) all negatives x {args.seeds} seeds, bank {args.noise_bank}", res["all"])
    print(f"  checked: baseline vs engine test maps max |diff| {worst:.2g} (batch 1 vs batched kernels)")
    pos, alln = res["positive"], res["all"]
    print(f"  ratio (1)/(2) baseline / positive : {base['cpu'] / pos['cpu']:5.2f}x CPU "
          f"({base['wall'] / pos['wall']:.2f}x wall); target >= 2")
    if "official" in res:
        off = res["official"]
        print(f"  ratio (1')/(2) official / positive: {off['cpu'] / pos['cpu']:5.2f}x CPU "
              f"({off['wall'] / pos['wall']:.2f}x wall); target >= 2")
    print(f"  ratio (3)/(2) all / positive      : {alln['cpu'] / pos['cpu']:5.2f}x CPU "
          f"({alln['wall'] / pos['wall']:.2f}x wall); target <= 3")
    if "memory" in res:
        m = res["memory"]["report"]
        text = (f"  (4) peak memory, batch {m['batch']} at 352 px: RSS {m['peak_rss_mib']:.0f} MiB "
                f"(after loading the model {m['rss_after_load_mib']:.0f} MiB)")
        if "cuda_max_allocated_mib" in m:
            text += f", CUDA max allocated {m['cuda_max_allocated_mib']:.0f} MiB"
        print(text)


def main(argv=None) -> int:
    args = parse_args(argv)
    if args.baseline_child:
        return baseline_child(args) or 0
    if args.memory_child:
        return memory_child(args) or 0
    with tempfile.TemporaryDirectory(prefix="bench_aclssl_") as scratch:
        tmp = args.keep or Path(scratch)
        steps = plan(args, tmp)
        print(f"aclssl (ACL weight rule), synthetic VGG-SS, {args.clips} clips, device {args.device}, "
              f"{args.threads} torch thread(s) per child; {machine()}")
        if args.dry_run:
            for name, cmd in steps.items():
                print(f"{name}: {shlex.join(cmd)}")
            return 0
        tmp.mkdir(parents=True, exist_ok=args.keep is None)
        prepare(tmp, args.clips)
        res = {}
        for name, cmd in steps.items():
            print(f"running {name} ...", flush=True)
            res[name] = run_child(name, cmd, tmp, args.threads)
        worst = check_maps(tmp)
        report(args, res, worst)
        print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
