"""The fingerprint helpers on their own (vssleval/fingerprint.py): content, not paths or times."""

from __future__ import annotations

import os
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pytest

from vssleval import fingerprint
from vssleval.errors import VsslevalError


@dataclass
class Rec:
    id: str
    image_path: Path
    audio_path: Path
    boxes: np.ndarray = field(default_factory=lambda: np.array([[1, 2, 30, 40]]))
    label: str = "dog"


def folder(root: Path) -> tuple[Path, list[Rec]]:
    (root / "img").mkdir(parents=True)
    (root / "aud").mkdir()
    (root / "ann.json").write_text("[1, 2]")
    recs = []
    for i in range(3):
        (root / "img" / f"{i}.jpg").write_bytes(bytes([i]) * 100)
        (root / "aud" / f"{i}.wav").write_bytes(bytes([i + 7]) * 200)
        recs.append(Rec(str(i), root / "img" / f"{i}.jpg", root / "aud" / f"{i}.wav"))
    return root, recs


def fingerprint_of(root: Path, recs: list[Rec]):
    return fingerprint.compute(root, [(root / "ann.json", "annotation file")], recs, [r.id for r in recs],
                               [recs[0].audio_path], protocol="vssleval")


def test_content_decides_not_place_or_time(tmp_path):
    a, recs = folder(tmp_path / "a")
    first, detail = fingerprint_of(a, recs)
    assert fingerprint.is_valid(first) and detail["files"]["aud/0.wav"]["bytes"] == 200
    b = Path(shutil.copytree(a, tmp_path / "b"))
    for p in b.rglob("*"):
        os.utime(p, ns=(7, 7))
    copy, _ = fingerprint_of(b, [Rec(r.id, b / r.image_path.relative_to(a), b / r.audio_path.relative_to(a)) for r in recs])
    assert copy == first  # another folder, other times, same bytes
    recs[1].audio_path.write_bytes(b"\x00" * 200)  # same size, other bytes
    changed, changed_detail = fingerprint_of(a, recs)
    assert changed["data"] != first["data"] and changed["parts"]["metadata"] == first["parts"]["metadata"]
    line = fingerprint.describe_change(first, changed, detail, changed_detail)
    assert line.startswith("1 record's media changed since this run started, first: id 1 audio")
    assert "media digest" in fingerprint.describe_change(first, changed, None, changed_detail)  # no detail: part level


def test_a_changed_box_is_a_changed_record(tmp_path):
    a, recs = folder(tmp_path / "a")
    first, detail = fingerprint_of(a, recs)
    recs[2].boxes = np.array([[1, 2, 30, 41]])
    changed, changed_detail = fingerprint_of(a, recs)
    assert "1 record's annotation differs (boxes, label, ...), first: id 2" in fingerprint.describe_change(
        first, changed, detail, changed_detail)


def test_a_fifo_is_refused_without_blocking(tmp_path):
    fifo = tmp_path / "x.wav"
    os.mkfifo(fifo)
    with pytest.raises(VsslevalError, match="not a regular file"):
        fingerprint.file_identity(fifo)


@pytest.mark.parametrize("summary", [None, "x", {}, {"format": 1, "digest": "d", "parts": {}}])
def test_unreadable_summaries_have_no_data_key(summary):
    assert fingerprint.data_key(summary) is None and not fingerprint.is_valid(summary)
