"""The per-sample browser's data and images (vssleval/report/gallery.py), from hand-made arrays."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from vssleval.report.gallery import FRAME_PX, SIDE, TILE_PX, Gallery, lut
from vssleval.report.runs import RunRecord


def _run(tmp_path: Path) -> RunRecord:
    columns = {"seed_index": np.array([0.0, 0.0, 1.0, 1.0]), "sample_id": np.array(["a", "b", "a", "b"]),
               "label": np.array(["dog", "cat", "dog", "cat"]), "iou_med": np.array([0.5, 0.25, 0.5, 0.25]),
               "max_positive": np.array([2.0, 1.0, 2.0, 1.0]), "max_silence": np.array([1.0, 1.0, 1.0, 1.0])}
    run = {"model_name": "m", "dataset": "d", "preset": "p", "protocol": "vssleval"}
    return RunRecord(tmp_path, {"run": run}, columns, label="m")


def test_tiles_share_one_scale_and_rows_follow_the_first_seed(tmp_path):
    run, gallery = _run(tmp_path), Gallery(tmp_path)
    positive = np.zeros((2, 7, 7), np.float32)
    positive[0, 2:5, 2:5] = 2.0  # sample a: a plateau of 2 under positive audio, silence flat at 1
    silence = np.ones((2, 7, 7), np.float32)
    gallery.maps(run, ["a", "b"], {"positive": positive, "silence": silence}, "bilinear")
    data = gallery.payload([gallery.rows(run)])
    gallery.finish()
    assert not list(tmp_path.glob(f".{SIDE}-*"))
    rows = data["runs"][0]["rows"]
    assert [(r["id"], r["cls"], r["iou"], r["ok"], r["max"]) for r in rows] == [
        ("a", "dog", 0.5, True, [2.0, 1.0]), ("b", "cat", 0.25, False, [1.0, 1.0])]
    assert [r["scale"] for r in rows] == [[0.0, 2.0], [0.0, 1.0]] and [r["tile"] for r in rows] == [0, 1]
    tile = np.asarray(Image.open(tmp_path / SIDE / "maps" / "m" / "0.png").convert("RGB"))
    assert tile.shape == (TILE_PX, 2 * TILE_PX, 3)
    colours = lut()
    pos, sil = tile[:, :TILE_PX].reshape(-1, 3), tile[:, TILE_PX:].reshape(-1, 3)
    # one scale 0..2: the peak is the top colour, zero the bottom one, silence (1) the middle level
    assert (pos == colours[-1]).all(1).any() and (pos == colours[0]).all(1).any()
    assert (sil == colours[round((len(colours) - 1) / 2)]).all()


def test_a_mask_without_boxes_is_outlined_and_boxes_are_kept(tmp_path):
    run, gallery = _run(tmp_path), Gallery(tmp_path)
    image = np.full((224, 224, 3), 128, np.uint8)
    gt = np.zeros((224, 224), np.float32)
    gt[56:168, 56:168] = 1.0
    nan_box = np.full((1, 4), np.nan)
    assert gallery.frame(run, "a", ("d", "a"), lambda: image, nan_box, gt) == 0
    assert gallery.frame(run, "b", ("d", "b"), lambda: None, np.array([[0.1, 0.2, 0.5, 0.6]])) == 1
    assert gallery.frame(run, "a", ("d", "a"), lambda: 1 / 0, None) == 0  # written once, not read again
    data = gallery.payload([gallery.rows(run)])
    gallery.finish()
    assert data["boxes"] == [[], [[0.1, 0.2, 0.5, 0.6]]] and data["images"] == [True, False]
    assert [r["frame"] for r in data["runs"][0]["rows"]] == [0, 1]
    thumb = np.asarray(Image.open(tmp_path / SIDE / "frames" / "0.jpg")).astype(int)
    assert thumb.shape == (FRAME_PX, FRAME_PX, 3)
    green = thumb[..., 1] - thumb[..., 0] > 80
    edge = FRAME_PX // 4  # the mask's border in the thumbnail (56 of 224 px)
    assert green[edge + 5:-edge - 5, edge].mean() > 0.9 and green[edge, edge + 5:-edge - 5].mean() > 0.9
    assert not green[edge + 5:-edge - 5, edge + 5:-edge - 5].any() and not green[:edge - 3].any()
    assert not (tmp_path / SIDE / "frames" / "1.jpg").exists()
