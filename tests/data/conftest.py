"""Fixtures of the data tests (helpers live in data_helpers.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

from data_helpers import IS3_NAMES, VGGSS_RECORDS, write_jpg, write_json, write_wav


@pytest.fixture
def vggss_dir(tmp_path: Path) -> Path:
    """A 3-sample VGG-SS-layout folder with real media files."""
    root = tmp_path / "vggss"
    for r in VGGSS_RECORDS:
        write_wav(root / "audio" / f"{r['file']}.wav")
        write_jpg(root / "frames" / f"{r['file']}.jpg")
    write_json(root / "vggss_annotations.json", VGGSS_RECORDS)
    return root


@pytest.fixture
def is3_dir(tmp_path: Path) -> Path:
    """A 2-scene IS3-layout folder; 'cat_banjo' and 'cat_banjo2' are the prefix-glob trap."""
    root = tmp_path / "is3"
    ann, boxes = [], []
    for name, cls, box in IS3_NAMES:
        write_wav(root / "audio_wav" / f"{name}.wav")
        write_jpg(root / "images" / f"{name}.jpg", 224, 224)
        ann.append({"image": f"images/{name}.jpg", "audio": f"audio_wav/{name}.wav", "class": cls})
        boxes.append({"image": f"/x/visual_frames/{name}.jpg", "audio": f"/x/audio_wav/{name}.wav",
                      "gt_box": [float(v) for v in box]})
    write_json(root / "IS3_annotation.json", ann)
    write_json(root / "synthetic3240_bbox.json", boxes)
    return root
