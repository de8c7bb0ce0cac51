#!/usr/bin/env python
"""The size of ``report.html`` and its ``report_files/`` for a run of N samples, from a smaller run
(docs/report.md, "report.html": the sizes quoted there).

Evaluating 5,158 samples takes long on a CPU; what the page costs per sample does not depend on how
the maps were made. This script reads a finished run (with its heatmap store and dataset frames) and
feeds its samples to the report's writer again and again, each time under new sample ids, until N
samples are written: every frame thumbnail, map tile and JSON row is really encoded and written, with
the content of the real run's samples. It prints the page's size, the folder's size and file count,
and the writer's time.

    python scripts/measure_html_size.py RUN_DIR --n 5158 --out /tmp/html-size
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from vssleval.api import html_report  # noqa: E402
from vssleval.api.reporting import _frame_paths, _open_run_store  # noqa: E402
from vssleval.report.gallery import SIDE, Gallery  # noqa: E402
from vssleval.report.html_page import write_html  # noqa: E402
from vssleval.report.runs import load_run  # noqa: E402


class _Repeated:
    """A store's view that yields its shards ``times`` times, ids suffixed ``#k`` from the second pass."""

    def __init__(self, store, times: int, n: int):
        self.store, self.times, self.n = store, times, n
        self.config = store.config

    def iter_shards(self):
        left = self.n
        for k in range(self.times):
            for shard in self.store.iter_shards():
                take = min(left, len(shard["ids"]))
                if take <= 0:
                    return
                part = {key: (v[:, :take] if key in ("noise", "offscreen") else v[:take]) if hasattr(v, "shape")
                        and v.ndim else v for key, v in shard.items()}
                part["ids"] = np.array([f"{s}#{k}" if k else str(s) for s in shard["ids"][:take]])
                left -= take
                yield part


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("run", help="a finished run folder (with store/ and readable dataset frames)")
    ap.add_argument("--n", type=int, default=5158, help="samples to write (default 5158, VGG-SS's test list)")
    ap.add_argument("--out", required=True, help="a new folder for report.html and report_files/")
    args = ap.parse_args()
    run = load_run(args.run)
    store = _open_run_store(run)
    m = len(run.columns["sample_id"][run.columns["seed_index"] == run.columns["seed_index"].min()])
    times = -(-args.n // m)
    # the run's first-seed per-sample rows, repeated under the same new ids
    first = run.columns["seed_index"] == run.columns["seed_index"].min()
    run.columns = {k: np.tile(v[first], times)[:args.n] for k, v in run.columns.items()}
    run.columns["sample_id"] = np.array([f"{s}#{i // m}" if i >= m else str(s)
                                         for i, s in enumerate(run.columns["sample_id"])])
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=False)
    t0 = time.perf_counter()
    gallery = Gallery(out)
    notes: list[str] = []
    frames = _frame_paths(store.config, {})
    frames.update({f"{s}#{k}": path for k in range(1, times) for s, path in list(frames.items())})
    with store.read_only():  # as the report reads it (shared maps as views)
        html_report.add_run(gallery, run, _Repeated(store, times, args.n), notes, frames)
    payload = gallery.payload([gallery.rows(run)])
    gallery.finish()
    page = write_html(out, "# report\n", None, [run], payload)
    seconds = time.perf_counter() - t0
    files = [p for p in (out / SIDE).rglob("*") if p.is_file()]
    side = sum(p.stat().st_size for p in files)
    print(f"{args.n} samples: report.html {page.stat().st_size / 1e6:.2f} MB, {SIDE}/ {side / 1e6:.1f} MB in "
          f"{len(files)} files ({side / args.n / 1e3:.1f} kB a sample), written in {seconds:.1f} s"
          + (f"; notes: {notes}" if notes else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
