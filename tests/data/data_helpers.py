"""Helpers for the data tests: write small real wav/jpg files and annotation files into a temp dir.

A uniquely named module (not conftest) so test files can import it unambiguously."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import soundfile as sf
from PIL import Image


def write_wav(path: Path, seconds: float = 0.5, sr: int = 16000) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * sr)) / sr
    sf.write(str(path), (0.3 * np.sin(2 * np.pi * 440 * t) * 32767).astype(np.int16), sr, subtype="PCM_16")
    return path


def write_jpg(path: Path, w: int = 64, h: int = 48) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = (np.arange(w * h * 3).reshape(h, w, 3) % 251).astype(np.uint8)
    Image.fromarray(arr).save(path, quality=90)
    return path


def write_json(path: Path, obj) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(obj), encoding="utf-8")
    return path


VGGSS_RECORDS = [
    {"file": "aaaaaaaaaaa_000001", "class": "dog barking", "bbox": [[0.1, 0.2, 0.5, 0.6]]},
    {"file": "bbbbbbbbbbb_000002", "class": "cat meowing", "bbox": [[0.0, 0.0, 1.0, 1.0], [0.25, 0.25, 0.3, 0.3]]},
    {"file": "ccccccccccc_000003", "class": "dog barking", "bbox": [[0.5, 0.5, 1.04, 0.75]]},
]


IS3_NAMES = [("cat_banjo_1_cat", "cat", [10, 20, 60, 90]), ("cat_banjo_1_banjo", "banjo", [100, 100, 224, 200]),
             ("cat_banjo2_5_banjo2", "banjo", [0, 0, 50, 50]), ("cat_banjo2_5_cat", "cat", [60, 60, 120, 120])]
