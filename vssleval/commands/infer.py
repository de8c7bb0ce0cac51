"""Dump the raw heatmaps of a model (the resumable store) and overlay figures for a few samples."""

from __future__ import annotations

import argparse

import numpy as np
from PIL import Image

from vssleval.commands._common import add_run_arguments, default_out, spec_from_args
from vssleval.data import load_dataset
from vssleval.engine.runner import run_inference
from vssleval.report.overlays import overlay_grid

HELP = "compute and store every raw heatmap (no metrics); optional overlay PNGs"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_run_arguments(p)
    p.add_argument("--overlays", type=int, default=4, metavar="K", help="overlay figures for the first K samples")
    p.add_argument("--threshold", type=float,
                   help="raw-scale threshold for the thresholded row (default: the model's maxq3 constant "
                        "if it has one, else the median of the positive maps' maxima)")


def run(args: argparse.Namespace) -> int:
    spec = spec_from_args(args)
    out = default_out(args)
    outcome = run_inference(spec, out, resume=args.resume, overwrite=args.overwrite)
    if not outcome.is_main:
        return 0
    print(f"heatmap store: {outcome.store.root} ({outcome.n_samples} samples, {len(spec.seeds)} seeds; "
          f"{outcome.computed_batches} batches computed, {outcome.skipped_batches} reused) in {outcome.seconds:.1f} s")
    if args.overlays > 0:
        write_overlays(outcome.store, out, args.overlays, args.threshold)
    return 0


def write_overlays(store, out, k: int, threshold: float | None) -> None:
    config = store.config
    shard = store.read_shard(0)
    k = min(k, len(shard["ids"]))
    dataset = load_dataset(config["dataset"], config["data_root"], check_files=False)
    by_id = {s.id: s for s in dataset.samples}
    images = [np.asarray(Image.open(by_id[str(i)].image_path).convert("RGB").resize((224, 224), Image.BICUBIC))
              for i in shard["ids"][:k]]
    maps = {"positive": shard["positive"][:k]}
    for v in ("silence",):
        if v in shard:
            maps[v] = shard[v][:k]
    for v in ("noise", "offscreen"):
        if v in shard:
            maps[v] = shard[v][0, :k]  # first seed
    if threshold is None:
        th = (config["model_config"].get("thresholds") or {}).get("maxq3")
        threshold = float(th) if th is not None else float(np.median(shard["positive"].reshape(len(shard["ids"]), -1).max(1)))
    path = overlay_grid(images, maps, threshold, out / "overlays.png", titles=[str(i) for i in shard["ids"][:k]])
    print(f"overlays: {path} (and .pdf), threshold {threshold:.4f}")
