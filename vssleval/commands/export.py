"""Export a run's heatmaps as one plain NumPy archive (format in the README)."""

from __future__ import annotations

import argparse
from pathlib import Path

from vssleval.errors import VsslevalError

HELP = "write a run's maps to one .npz (ids, positive, silence, noise, offscreen, offscreen_ids, seeds, config)"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run", help="the run's output directory or its store/")
    p.add_argument("out", help="the .npz file to write (a new file, unless --overwrite)")
    p.add_argument("--overwrite", action="store_true", help="replace OUT if it already exists")


def run(args: argparse.Namespace) -> int:
    from vssleval.engine.store import HeatmapStore
    from vssleval.shown_paths import for_console

    store = HeatmapStore.open(args.run)
    out = Path(args.out)
    store.check_export_target(out)  # not inside a store, not in another run's folder
    if out.is_file() and not args.overwrite:
        raise VsslevalError(f"{out} already exists; choose another file, or pass --overwrite to replace it")
    path = store.export_npz(out)
    print(f"wrote {for_console(path)}")
    return 0
