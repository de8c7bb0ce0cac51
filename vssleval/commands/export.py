"""Export a run's heatmaps as one plain NumPy archive (format in the README)."""

from __future__ import annotations

import argparse

from vssleval.engine.store import HeatmapStore

HELP = "write a run's maps to one .npz (ids, positive, silence, noise, offscreen, offscreen_ids, seeds, config)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", help="the run's output directory or its store/")
    p.add_argument("out", help="the .npz file to write")


def run(args: argparse.Namespace) -> int:
    path = HeatmapStore.open(args.run).export_npz(args.out)
    print(f"wrote {path}")
    return 0
