#!/usr/bin/env python
"""Benchmark: fp32 vs bf16 autocast (``--amp bf16``) for every zoo model and the embedded model.

For each model -- the zoo's architectures with the test fixtures' deterministic rule weights
(crc32(key)-seeded, the rule of ``tests/weight_rule.py``, imported as ``scripts/bench_engine.py``
does, so no fixture file is needed) and ``synth-ezvsl`` with its shipped weights -- it prints:

* ``speed``: fp32 time / bf16 time of ``model(images, audio)`` on one batch of the embedded
  synthetic benchmark (the preset's own inputs, NHWC as the engine runs it, best of R repeats);
* ``map drift``: max |bf16 - fp32| / max |fp32| over the maps of that batch;
* the change (bf16 - fp32) of every headline metric of protocol ``vssleval`` on the embedded
  benchmark (first N samples, S seeds, all negatives), each run through ``vssleval.api.evaluate``.

bf16 is refused on a CPU without native bf16 (engine/device.py); ``--allow-emulated`` lifts the
refusal for this measurement only (the table then says ``emulated``): oneDNN runs bf16 there with
fp32 instructions and conversions, which is what the speed column shows.

    OMP_NUM_THREADS=1 .venv/bin/python scripts/bench_amp.py --allow-emulated --n 16 --seeds 2
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

import vssleval.engine.device as device_mod
from vssleval.api import evaluate
from vssleval.data import load_dataset
from vssleval.data.synthetic import default_synthetic_dir
from vssleval.frontends.pipeline import AudioPipeline, ImagePipeline
from vssleval.metrics.protocols import PROTOCOLS
from vssleval.models import build_model, list_models
from vssleval.models.registry import preset_block

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))
from weight_rule import tensor as rule_tensor  # noqa: E402

#: models without learned weights (baselines) or that are not AV models (the object prior)
NOT_ZOO = ("center", "full", "random", "ogl")
EMBEDDED = "synth-ezvsl"


def rule_model(name: str) -> torch.nn.Module:
    """``name``'s architecture with rule weights over its own state-dict keys."""
    model = build_model(name, random_init=True)
    sd = {k: rule_tensor(k, tuple(v.shape), v.dtype) if v.is_floating_point() else v
          for k, v in model.state_dict().items()}
    model.load_state_dict(sd)
    return model.eval()


def batch_inputs(model, data_dir: Path, n: int, preset: str):
    """One batch of the first ``n`` samples, built by the model's preset (NHWC images)."""
    block = preset_block(model.config, preset, model.name)
    audio, image = AudioPipeline(block["audio"]), ImagePipeline(block["image"])
    samples = load_dataset("synthetic-vggss", data_dir).samples[:n]
    images = torch.stack([image.load(s.image_path) for s in samples]).contiguous(memory_format=torch.channels_last)
    sound = torch.stack([audio.positive(s.audio_path) for s in samples])
    if sound.dim() == 4:
        sound = sound.contiguous(memory_format=torch.channels_last)
    return images, sound


def timed_maps(model, images, sound, amp: str | None, repeats: int) -> tuple[float, np.ndarray]:
    """Best-of-``repeats`` seconds of one forward, and its maps (float32)."""
    cpu = torch.device("cpu")
    best, out = float("inf"), None
    with torch.no_grad(), device_mod.autocast(cpu, amp):
        for _ in range(repeats):
            t0 = time.perf_counter()
            out = model(images, sound)
            best = min(best, time.perf_counter() - t0)
    return best, out.float().numpy()


def headline_changes(model, data_dir: Path, n: int, seeds: int, tmp: Path) -> dict[str, float]:
    """bf16 - fp32 of every headline metric of protocol vssleval on the embedded benchmark."""
    kwargs = dict(data_dir=data_dir, seeds=seeds, limit=n, device="cpu", bootstrap=0, verbose=False,
                  protocol="vssleval", overwrite=True)
    fp32 = evaluate(model, out=tmp / f"{model.name}-fp32", **kwargs).metrics
    bf16 = evaluate(model, out=tmp / f"{model.name}-bf16", amp="bf16", **kwargs).metrics
    assert bf16["run"]["amp"] == "bf16" and fp32["run"]["amp"] is None
    return {key: bf16[key] - fp32[key] for key, _ in PROTOCOLS["vssleval"].headline if key in fp32}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--models", default="", help="comma list (default: every zoo model and synth-ezvsl)")
    ap.add_argument("--batch", type=int, default=8, help="samples in the timed batch")
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--n", type=int, default=16, help="samples of the metric runs")
    ap.add_argument("--seeds", type=int, default=2)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--no-metrics", action="store_true", help="speed and map drift only")
    ap.add_argument("--allow-emulated", action="store_true",
                    help="measure bf16 on a CPU without native bf16 (refused by the engine otherwise)")
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cpu = torch.device("cpu")
    native, why = device_mod.bf16_support(cpu)
    mode = "native" if native else "emulated"
    print(f"CPU bf16: {mode}{'' if native else ' (' + why + ')'}; torch {torch.__version__}, "
          f"{torch.get_num_threads()} thread(s), capability {torch.backends.cpu.get_cpu_capability()}")
    if not native:
        if not args.allow_emulated:
            sys.exit("bf16 is refused on this CPU; pass --allow-emulated to measure the emulated path")
        device_mod.bf16_support = lambda device, flags=None: (True, "")  # this measurement only
    names = [m for m in args.models.split(",") if m] or [m for m in list_models() if m not in NOT_ZOO]
    data_dir = default_synthetic_dir("vggss")
    keys = [k for k, _ in PROTOCOLS["vssleval"].headline]
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            model = build_model(name) if name == EMBEDDED else rule_model(name)
            model = model.to(memory_format=torch.channels_last)
            preset = "juanola2025" if "juanola2025" in (model.config.get("presets") or {}) else "native"
            images, sound = batch_inputs(model, data_dir, args.batch, preset)
            timed_maps(model, images, sound, None, 1)  # warm-up of both paths
            timed_maps(model, images, sound, "bf16", 1)
            t32, m32 = timed_maps(model, images, sound, None, args.repeats)
            t16, m16 = timed_maps(model, images, sound, "bf16", args.repeats)
            drift = float(np.abs(m16 - m32).max() / max(np.abs(m32).max(), 1e-12))
            changes = {} if args.no_metrics else headline_changes(model, data_dir, args.n, args.seeds, Path(tmp))
            rows.append((name, t32, t16, drift, changes))
            print(f"{name:12s} fp32 {t32 * 1e3:8.1f} ms  bf16 {t16 * 1e3:8.1f} ms  speed x{t32 / t16:5.2f}  "
                  f"map drift {drift:.2e}", flush=True)
    print(f"\nfp32 -> bf16 ({mode}), batch {args.batch}; metric changes on the embedded benchmark "
          f"(first {args.n} samples, {args.seeds} seeds, protocol vssleval):")
    print("| model | speed fp32/bf16 | max rel. map diff | " + " | ".join(keys) + " |")
    print("|---|---|---|" + "---|" * len(keys))
    for name, t32, t16, drift, changes in rows:
        cells = [f"{changes[k]:+.4f}" if k in changes else "-" for k in keys]
        print(f"| {name} | {t32 / t16:.2f} | {drift:.2e} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
