"""The data of ``report.html``'s per-sample browser, read from the runs' heatmap stores and dataset frames.

:func:`vssleval.api.report` makes a :class:`~vssleval.report.gallery.Gallery` when ``html`` is among
its formats, feeds it each run's maps here (:func:`add_run`, before ``report.md`` is written so that
what could not be shown lands in its Notes) and writes the page once ``report.md`` exists
(:func:`write_page`). The page itself is :mod:`vssleval.report.html_page`'s; this module is the part that
opens stores and images (docs/report.md, "report.html").
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Sequence

import numpy as np

from vssleval.engine.scoring import prepare_run
from vssleval.engine.store import HeatmapStore, unpack_gt
from vssleval.errors import VsslevalError
from vssleval.report import leaderboard
from vssleval.report.gallery import Gallery
from vssleval.report.html_page import write_html
from vssleval.report.runs import RunRecord


def add_run(gallery: Gallery, run: RunRecord, store: HeatmapStore, notes: list[str],
            frame_paths: dict[str, Path] | None) -> None:
    """Give ``gallery`` every sample of ``run``'s store: its frame, boxes and the maps of its first seed.

    ``frame_paths``: ``{sample id: image path}`` of the run's dataset, None when its images are not
    readable (the browser then shows the maps without the frame; a note says so). A report reading
    the store for other things too feeds the shards itself (:class:`RunFeed`), reading each once."""
    feed = RunFeed(gallery, run, store.config, frame_paths)
    for shard in store.iter_shards():
        feed(shard)
    notes.extend(feed.notes())


class RunFeed:
    """Hands one run's store shards, as they are read, to ``gallery`` (:func:`add_run` shard by shard).

    Call it with each shard in dataset order, then :meth:`notes` for what could not be shown."""

    def __init__(self, gallery: Gallery, run: RunRecord, config: dict[str, Any],
                 frame_paths: dict[str, Path] | None):
        self.gallery, self.run, self.frame_paths = gallery, run, frame_paths
        self.op = prepare_run(config, "vssleval").ops
        self.negatives = [v for v in ("silence", "noise", "offscreen") if v in (config.get("negatives") or [])]
        self.base = (str(config.get("dataset")), str(config.get("data_root")))
        self.missing: list[str] = []

    def _loader(self, sid: str):
        from vssleval.data.image import load_rgb

        def load() -> np.ndarray | None:
            try:
                return np.asarray(load_rgb(self.frame_paths[sid])) if self.frame_paths is not None else None
            except (VsslevalError, OSError, KeyError) as exc:
                self.missing.append(f"{sid} ({exc})")
                return None
        return load

    def __call__(self, shard: dict[str, np.ndarray]) -> None:
        boxes = shard.get("boxes")
        ids = [str(s) for s in shard["ids"]]
        for i, sid in enumerate(ids):
            mine = None if boxes is None else boxes[i]
            # a mask without boxes is outlined on the frame (unpacked only then: 200 KB a sample)
            gt = unpack_gt(shard["gt"][i:i + 1])[0] if mine is None or not np.isfinite(mine).any() else None
            self.gallery.frame(self.run, sid, self.base + (sid,), self._loader(sid), mine, gt)
        maps = {"positive": shard["positive"]}
        for v in self.negatives:
            maps[v] = shard[v] if v == "silence" else shard[v][0]
        self.gallery.maps(self.run, ids, maps, self.op)

    def notes(self) -> list[str]:
        """The note for the samples fed so far whose frame could not be read (none: ``[]``)."""
        if not self.missing:
            return []
        return [f"{self.run.label}: report.html shows {len(self.missing)} sample(s) without their frame, not "
                f"readable (first: {self.missing[0]})"]


def write_page(gallery: Gallery, runs: Sequence[RunRecord], out: Path, report: Path, ci_style: str) -> Path:
    """Put the gallery's images in place and write ``report.html`` beside ``report``."""
    board = leaderboard.texts(runs, ["md"], ci_style, out)["leaderboard.md"]
    payload: dict[str, Any] = gallery.payload([gallery.rows(r) for r in runs])
    gallery.finish()
    return write_html(out, report.read_text(encoding="utf-8"), board, runs, payload)
