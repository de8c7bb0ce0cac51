#!/usr/bin/env bash
# GPU smoke test (docs/performance.md §4): every zoo model with the test fixtures' rule weights on
# the embedded synthetic benchmark, fp32 and bf16 on the GPU, maps compared with the CPU's fp32
# maps. Under 5 minutes on one GPU. Without a GPU it runs the CPU part only (fp32, and bf16 where
# the CPU computes bf16 natively) so the script itself stays tested.
#
#   bash scripts/gpu_smoke.sh            # N=16 samples, 1 seed, every zoo model
#   N=8 MODELS=ezvsl,lvs bash scripts/gpu_smoke.sh
set -euo pipefail
cd "$(dirname "$0")/.."
PY="${PYTHON:-python}"
[ -x .venv/bin/python ] && [ -z "${PYTHON:-}" ] && PY=.venv/bin/python
export N="${N:-16}" MODELS="${MODELS:-}" PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
exec "$PY" - <<'PY'
import os, sys, tempfile, time
from pathlib import Path

import numpy as np
import torch

sys.path.insert(0, "scripts")
from bench_amp import EMBEDDED, NOT_ZOO, rule_model  # noqa: E402
from vssleval.api import evaluate  # noqa: E402
from vssleval.data.synthetic import default_synthetic_dir  # noqa: E402
from vssleval.engine.device import bf16_support, resolve_device  # noqa: E402
from vssleval.engine.store import HeatmapStore  # noqa: E402
from vssleval.models import build_model, list_models  # noqa: E402

VARIANTS = ("positive", "silence", "noise", "offscreen")
# fp32 on the GPU must match the CPU's maps to this relative difference (cuDNN picks other
# algorithms; TF32 is off); bf16 keeps ~3 significant digits
TOL = {"fp32": 1e-4, "bf16": 5e-2}
torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False

n = int(os.environ["N"])
names = [m for m in os.environ["MODELS"].split(",") if m] or [m for m in list_models() if m not in NOT_ZOO]
gpu = resolve_device("auto")
if gpu.type != "cuda":
    print(f"no CUDA device (auto -> {gpu}): CPU part only")
data = default_synthetic_dir("vggss")
t_start = time.perf_counter()
failures = []


def maps(out: Path) -> dict:
    shards = list(HeatmapStore.open(out).iter_shards())
    return {v: np.concatenate([s[v] for s in shards], axis=1 if v in ("noise", "offscreen") else 0) for v in VARIANTS}


def rel(a: dict, b: dict) -> float:
    return max(float(np.abs(a[v] - b[v]).max() / max(np.abs(b[v]).max(), 1e-12)) for v in VARIANTS)


with tempfile.TemporaryDirectory() as tmp:
    for name in names:
        model = build_model(EMBEDDED) if name == EMBEDDED else rule_model(name)
        kw = dict(data_dir=data, seeds=1, limit=n, bootstrap=0, verbose=False, protocol="vssleval", overwrite=True)
        t0 = time.perf_counter()
        cpu = maps(evaluate(model, device="cpu", out=Path(tmp) / f"{name}-cpu", **kw).out)
        runs = []
        if gpu.type == "cuda":
            runs.append(("fp32", "cuda", None))
        target = gpu if gpu.type == "cuda" else torch.device("cpu")
        if bf16_support(target)[0]:
            runs.append(("bf16", target.type, "bf16"))
        cells = []
        for label, dev, amp in runs:
            got = maps(evaluate(model, device=dev, amp=amp, out=Path(tmp) / f"{name}-{dev}-{label}", **kw).out)
            d = rel(got, cpu)
            cells.append(f"{dev} {label} vs cpu fp32: {d:.2e}")
            if d > TOL[label]:
                failures.append(f"{name} {dev} {label}: {d:.2e} > {TOL[label]}")
        print(f"{name:12s} {time.perf_counter() - t0:6.1f} s  " + ("; ".join(cells) or "cpu fp32 only"), flush=True)
print(f"total {time.perf_counter() - t_start:.1f} s")
if failures:
    sys.exit("FAILED: " + "; ".join(failures))
print("ok")
PY
