"""Dump the raw heatmaps of a model (the resumable store) and overlay figures for a few samples."""

from __future__ import annotations

import argparse

from vssleval.api import infer
from vssleval.commands._common import add_run_arguments, run_kwargs

HELP = "compute and store every raw heatmap (no metrics); optional overlay PNGs"


def add_arguments(p: argparse.ArgumentParser) -> None:
    add_run_arguments(p)
    p.add_argument("--overlays", type=int, default=4, metavar="K",
                   help="overlay figures for the first K samples (default 4; 0: none)")
    p.add_argument("--threshold", type=float,
                   help="raw-scale threshold for the thresholded row (default: calibrated on this run's "
                        "positive vs negative maxima)")


def run(args: argparse.Namespace) -> int:
    infer(**run_kwargs(args), overlays=args.overlays, threshold=args.threshold)
    return 0
