"""Dump the raw heatmaps of a model (the resumable store) and overlay figures for a few samples."""

from __future__ import annotations

import argparse

import numpy as np

from vssleval.commands._common import add_run_arguments, default_out, spec_from_args
from vssleval.commands.report import write_overlay_figure
from vssleval.engine.runner import run_inference
from vssleval.metrics import calibrate_threshold
from vssleval.report.figures import separates

HELP = "compute and store every raw heatmap (no metrics); optional overlay PNGs"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_run_arguments(p)
    p.add_argument("--overlays", type=int, default=4, metavar="K",
                   help="overlay figures for the first K samples (default 4; 0: none)")
    p.add_argument("--threshold", type=float,
                   help="raw-scale threshold for the thresholded row (default: calibrated on this run's "
                        "positive vs negative maxima)")


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
    """Overlays of the first ``k`` samples; the thresholded row uses ``threshold`` or, by default,
    the universal threshold calibrated on this run's positive vs negative raw maxima (none when
    the maxima do not separate, as for audio-agnostic models)."""
    if threshold is None:
        pos, neg = [], []
        for shard in store.iter_shards():
            pos.append(shard["positive"].reshape(len(shard["positive"]), -1).max(1))
            neg += [shard[v].reshape(-1, shard[v].shape[-2] * shard[v].shape[-1]).max(1)
                    for v in ("silence", "noise", "offscreen") if v in shard]
        cal = calibrate_threshold(np.concatenate(pos), np.concatenate(neg)) if neg else None
        threshold = float(cal["threshold"]) if separates(cal) else None
    notes: list[str] = []
    path = out / "overlays.png"
    if write_overlay_figure(store, k, threshold, path, notes):
        shown = f"threshold {threshold:.4f}" if threshold is not None else "no threshold separates the audio variants"
        print(f"overlays: {path} (and .pdf), {shown}")
    for note in notes:
        print(f"overlays: {note}")
