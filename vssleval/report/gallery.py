"""The per-sample browser of ``report.html``: its rows and the small images it loads (docs/report.md,
"report.html").

A :class:`Gallery` collects, for every run, one row per sample (class, size bin, IoU, success, the
raw-map maximum of each audio variant: the run's first seed, as ``per_sample.csv`` holds it) and
writes beside the page, in ``report_files/``:

* ``frames/<k>.jpg``: each dataset frame once (shared by the runs that read it), :data:`FRAME_PX`
  square, the ground-truth outline drawn in where the sample has a mask but no boxes (boxes are drawn
  by the page, from the rows);
* ``maps/<run>/<j>.png``: the maps of sample ``j`` of a run, one :data:`TILE_PX` tile per audio
  variant side by side, upsampled by the run's own op and coloured on one scale per sample (the
  lowest and highest value of its maps), which the page shows as the row's colour bar.

The page loads only the images of the page of samples it shows, so a 5,158-sample run stays usable.
The files are written into a temporary folder that replaces ``report_files/`` when :meth:`Gallery.finish`
is called, so a failed report never leaves a half-written folder in place. This module reads no
store and no dataset: the command layer hands it arrays (:mod:`vssleval.api.html_report`).
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path
from typing import Any, Callable, Mapping, Sequence

import numpy as np

from vssleval.io_utils import FILE_MODE
from vssleval.metrics import upsample
from vssleval.metrics.protocols import get_protocol
from vssleval.report.overlays import VARIANT_ORDER
from vssleval.report.runs import RunRecord

#: The folder beside ``report.html`` that holds its images.
SIDE = "report_files"
#: Side in pixels of a frame thumbnail and of one map tile.
FRAME_PX = 128
TILE_PX = 64
#: JPEG quality of the frame thumbnails (about 4 KB each at 128 px).
JPEG_QUALITY = 80
#: The IoU a sample needs to count as a success (cIoU@0.5's rule, docs/metrics.md); NaN fails.
SUCCESS_IOU = 0.5
#: Colour map of the tiles (the overlays' ``jet``), sampled at this many levels: 64 levels make a
#: smooth map's PNG less than half as large as 256 (about 2.6 KB for four 64-px tiles).
CMAP, LEVELS = "jet", 64


def lut() -> np.ndarray:
    """uint8 ``[LEVELS, 3]``: the colours of :data:`CMAP` from the low end to the high end."""
    from matplotlib import colormaps

    return (colormaps[CMAP](np.linspace(0.0, 1.0, LEVELS))[:, :3] * 255).round().astype(np.uint8)


class Gallery:
    """Rows and images of the per-sample browser, for the runs of one report.

    Args:
        out: the report folder; the images go to ``out / SIDE`` when :meth:`finish` is called.
    """

    def __init__(self, out: str | Path):
        self.out = Path(out)
        self._tmp = Path(tempfile.mkdtemp(prefix=f".{SIDE}-", dir=self.out))
        # mkdtemp's 0700 would hide the images from the other users who can read the report
        self._tmp.chmod(FILE_MODE | (FILE_MODE & 0o444) >> 2)
        (self._tmp / "frames").mkdir()
        self._frames: dict[tuple[Any, ...], int] = {}
        self._boxes: list[list[list[float]]] = []
        self._images: list[bool] = []
        self._frame_of: dict[str, dict[str, int]] = {}
        self._maps: dict[str, dict[str, tuple[int, float, float]]] = {}
        self._lut = lut()

    def frame(self, run: RunRecord, sample_id: str, key: tuple[Any, ...], image: Callable[[], np.ndarray | None],
              boxes: np.ndarray | None, gt: np.ndarray | None = None) -> int:
        """The number of the frame ``key`` (e.g. ``(dataset, data folder, sample id)``) that sample
        ``sample_id`` of ``run`` shows, its thumbnail written the first time. ``image``: gives uint8
        RGB ``[H, W, 3]`` or None (not readable: the page shows an empty square), called once per
        frame; ``boxes``: ``[K, 4]`` fractions ``x0, y0, x1, y1`` (NaN rows ignored); ``gt``:
        ``[224, 224]`` ground-truth map, outlined on the thumbnail when there are no boxes."""
        k = self._frames.get(key)
        if k is None:
            k = self._frames[key] = self._write_frame(image(), boxes, gt)
        self._frame_of.setdefault(run.label, {})[sample_id] = k
        return k

    def _write_frame(self, image: np.ndarray | None, boxes: np.ndarray | None, gt: np.ndarray | None) -> int:
        k = len(self._boxes)
        shown = [] if boxes is None else [[round(float(v), 4) for v in b] for b in np.asarray(boxes, float)
                                          if np.all(np.isfinite(b))]
        self._boxes.append(shown)
        if image is not None:
            from PIL import Image

            thumb = np.asarray(Image.fromarray(np.asarray(image, np.uint8)).convert("RGB").resize(
                (FRAME_PX, FRAME_PX), Image.BILINEAR)).copy()
            if not shown and gt is not None:
                _outline(thumb, np.asarray(gt) > 0)
            Image.fromarray(thumb).save(self._tmp / "frames" / f"{k}.jpg", quality=JPEG_QUALITY)
        self._images.append(image is not None)
        return k

    def maps(self, run: RunRecord, ids: Sequence[str], maps: Mapping[str, np.ndarray], op: str) -> None:
        """Write the map tiles of samples ``ids`` of ``run``: ``maps`` variant -> raw maps ``[n, h, w]``
        (the first seed's draws), upsampled to :data:`TILE_PX` by ``op`` (the run's upsampling), a
        batch at a time (one call per variant: the per-call cost dominates for small maps)."""
        from PIL import Image

        variants = [v for v in VARIANT_ORDER if v in maps]
        done = self._maps.setdefault(run.label, {})
        folder = self._tmp / "maps" / run.slug
        folder.mkdir(parents=True, exist_ok=True)
        arrays = [np.asarray(maps[v], np.float32) for v in variants]
        # an audio-agnostic model's variants are one map: upsampled once, its values read once
        same = [next(j for j in range(k + 1) if arrays[j].shape == a.shape and np.array_equal(arrays[j], a))
                for k, a in enumerate(arrays)]
        distinct = sorted(set(same))
        raw = np.stack([arrays[j] for j in distinct], axis=1)  # [n, distinct V, h, w]: each sample's scale
        # (a copy: the store's maps are read-only, which torch.from_numpy warns about)
        up = {j: np.asarray(upsample(np.array(arrays[j]), op, TILE_PX)) for j in distinct}
        tiles = np.stack([up[j] for j in same], axis=1)  # [n, V, T, T]
        for i, sid in enumerate(ids):
            finite = raw[i][np.isfinite(raw[i])]
            lo, hi = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
            # one colour scale per sample across its variants, so a weaker negative map looks weaker
            t = np.nan_to_num(tiles[i], nan=lo)
            scaled = (t - lo) / (hi - lo) if hi > lo else np.full(t.shape, 0.5)
            levels = np.clip(scaled * (LEVELS - 1), 0, LEVELS - 1).round().astype(np.uint8)  # [V, T, T]
            # a palette PNG (one byte a pixel, the colour map as its palette): a fraction of RGB's size
            tile = Image.fromarray(np.concatenate(list(levels), axis=1), mode="L").convert("P")
            tile.putpalette(self._lut.reshape(-1).tolist())
            j = len(done)
            tile.save(folder / f"{j}.png")
            done[str(sid)] = (j, lo, hi)

    def rows(self, run: RunRecord) -> dict[str, Any]:
        """The browser's data of ``run``: its variants and one row per sample (first seed's
        ``per_sample.csv`` rows), with the frame and map tile written for it (-1 where none)."""
        cols = run.columns
        seeds = cols["seed_index"]
        first = seeds == np.nanmin(seeds) if len(seeds) else np.zeros(0, bool)
        variants = [v for v in VARIANT_ORDER if f"max_{v}" in cols]
        iou_key = (get_protocol(run.protocol).breakdown_fields or {}).get("iou")
        iou = cols.get(iou_key) if iou_key else None
        maps = self._maps.get(run.label, {})
        frame_of = self._frame_of.get(run.label, {})
        rows = []
        for i in np.flatnonzero(first):
            sid = str(cols["sample_id"][i])
            value = None if iou is None or not np.isfinite(iou[i]) else round(float(iou[i]), 4)
            tile = maps.get(sid)
            rows.append({
                "id": sid, "cls": str(cols["label"][i]) if "label" in cols else "",
                "size": str(cols["size_bin"][i]) if "size_bin" in cols else "",
                "iou": value, "ok": None if iou is None else bool(iou[i] >= SUCCESS_IOU),
                "max": [_num(cols[f"max_{v}"][i]) for v in variants],
                "frame": frame_of.get(sid, -1), "tile": -1 if tile is None else tile[0],
                "scale": None if tile is None else [_num(tile[1]), _num(tile[2])],
            })
        return {"label": run.label, "model": run.model, "dataset": str(run.run.get("dataset")), "slug": run.slug,
                "variants": variants, "iou_key": iou_key, "rows": rows}

    def payload(self, runs: Sequence[dict[str, Any]]) -> dict[str, Any]:
        """Everything the page's script reads: the runs' rows, the frames' boxes, the image sizes."""
        return {"runs": list(runs), "boxes": self._boxes, "images": self._images, "side": SIDE,
                "frame_px": FRAME_PX, "tile_px": TILE_PX, "success_iou": SUCCESS_IOU,
                "colours": ["#%02x%02x%02x" % tuple(c) for c in self._lut[np.linspace(0, LEVELS - 1, 16).astype(int)]]}

    def finish(self) -> Path:
        """Put the images in place: ``out / SIDE`` replaced by what this gallery wrote."""
        target = self.out / SIDE
        old = self.out / f".{SIDE}-old"
        if old.exists():
            shutil.rmtree(old)
        if target.exists():
            target.rename(old)
        self._tmp.rename(target)
        if old.exists():
            shutil.rmtree(old)
        return target

    def discard(self) -> None:
        """Remove the temporary folder (the report failed)."""
        shutil.rmtree(self._tmp, ignore_errors=True)


def _num(v: Any) -> float | None:
    """A finite float rounded for the page (4 significant digits), None otherwise."""
    f = float(v)
    return float(f"{f:.4g}") if np.isfinite(f) else None


def _outline(rgb: np.ndarray, mask: np.ndarray) -> None:
    """Draw the edge of ``mask`` (any size, resized to ``rgb``'s) on ``rgb`` in green, 2 px wide (a
    1-px line would be smeared away by the JPEG's colour subsampling), in place."""
    from PIL import Image

    m = np.asarray(Image.fromarray(mask.astype(np.uint8) * 255).resize(rgb.shape[1::-1], Image.NEAREST)) > 127
    inner = m.copy()
    for _ in range(2):  # erode twice by the 4-neighbourhood
        was = inner.copy()
        inner[1:, :] &= was[:-1, :]
        inner[:-1, :] &= was[1:, :]
        inner[:, 1:] &= was[:, :-1]
        inner[:, :-1] &= was[:, 1:]
    rgb[m & ~inner] = (0, 255, 0)
