#!/usr/bin/env python
"""The main job (README command (a), via eval_models.sh / infer_models.sh).

Evaluates, on every configured dataset, the embedded model (``synth-ezvsl``, shipped in
``checkpoints/``), the audio-agnostic baselines (``center``, ``full``, ``random``) and every zoo
model whose official checkpoint file is present in ``checkpoints/``, with all negatives, then
writes one comparative report per dataset. With nothing configured it runs on the embedded synthetic
benchmark (VGG-SS and IS3 layouts, generated on first use), so a fresh machine needs no download.

Real datasets: set ``VSSLEVAL_DATA_<NAME>`` to a dataset root, e.g. ``VSSLEVAL_DATA_VGGSS=/data/vggss``
or ``VSSLEVAL_DATA_IS3=/data/is3`` (names as in ``vssleval datasets``); each one found is added.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
EMBEDDED = ["synth-ezvsl"]
BASELINES = ["center", "full", "random"]
SYNTHETIC = ["synthetic-vggss", "synthetic-is3"]


def available_models(checkpoints: Path | None = None) -> list[tuple[str, str | None]]:
    """(model, checkpoint) pairs: embedded and baselines, plus zoo models whose files are present
    in ``checkpoints`` (default: the user lookup, ``$VSSLEVAL_CHECKPOINTS`` then ``./checkpoints``)."""
    from vssleval.models import list_models, load_model_config
    from vssleval.resources import find_checkpoint

    chosen: list[tuple[str, str | None]] = [(m, None) for m in EMBEDDED + BASELINES if m in list_models()]
    for name in list_models():
        if name in EMBEDDED + BASELINES or name == "ogl":
            continue
        ck = load_model_config(name).get("checkpoint") or {}
        lookup = find_checkpoint(ck, dirs=[checkpoints] if checkpoints is not None else None)
        if lookup.found:
            chosen.append((name, lookup.checkpoint))
    return chosen


def configured_datasets() -> list[tuple[str, str | None]]:
    from vssleval.data import list_datasets

    found = [(name, os.environ[f"VSSLEVAL_DATA_{name.upper().replace('-', '_')}"]) for name in list_datasets()
             if f"VSSLEVAL_DATA_{name.upper().replace('-', '_')}" in os.environ]
    return found or [(name, None) for name in SYNTHETIC]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=str(ROOT / "runs" / "main"), help="where runs and the report go")
    parser.add_argument("--seeds", type=int, default=10)
    parser.add_argument("--checkpoints", help="folder of zoo checkpoints (default: $VSSLEVAL_CHECKPOINTS, "
                        "then ./checkpoints; eval_models.sh runs from the repository root)")
    parser.add_argument("--infer-only", action="store_true", help="dump heatmaps and overlays, no metrics")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args(argv)

    from vssleval.cli import main as vssleval

    out = Path(args.out)
    models = available_models(Path(args.checkpoints) if args.checkpoints else None)
    datasets = configured_datasets()
    print(f"[main] models: {', '.join(m for m, _ in models)}")
    print(f"[main] datasets: {', '.join(d + (f' ({p})' if p else ' (embedded)') for d, p in datasets)}")
    runs: dict[str, list[Path]] = {}
    failed: list[str] = []
    t0 = time.perf_counter()
    for dataset, data_dir in datasets:
        for model, checkpoint in models:
            run_dir = out / f"{model}-{dataset}"
            cmd = ["infer" if args.infer_only else "evaluate", "--model", model, "--dataset", dataset,
                   "--seeds", str(args.seeds), "--neg", "all", "--out", str(run_dir), "--device", args.device,
                   "--resume", "--overwrite"]  # reuse a finished identical run, replace a stale one
            cmd += ["--data-dir", data_dir] if data_dir else []
            cmd += ["--checkpoint", checkpoint] if checkpoint else []
            print(f"\n[main] vssleval {' '.join(cmd)}")
            rc = vssleval(cmd)
            if rc != 0:
                print(f"[main] {model} on {dataset} failed (exit {rc}); continuing with the others", file=sys.stderr)
                failed.append(f"{model} on {dataset}")
                continue
            runs.setdefault(dataset, []).append(run_dir)
    if not args.infer_only:
        for dataset, dirs in runs.items():  # one models x metrics table per dataset
            print(f"\n[main] report for {dataset}")
            rc = vssleval(["report", *map(str, dirs), "--out", str(out / f"report-{dataset}")])
            if rc != 0:
                return rc
    n = sum(len(d) for d in runs.values())
    print(f"\n[main] done in {time.perf_counter() - t0:.0f} s: {n} runs in {out}")
    if failed:  # the reports hold the runs that worked; the exit status says the job is incomplete
        print(f"[main] {len(failed)} run(s) failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0 if n else 1


if __name__ == "__main__":
    sys.exit(main())
