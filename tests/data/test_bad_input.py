"""Bad input: a clear error naming the file and the fix, or with skip_bad a recorded skip — never a substitute."""

import json

import numpy as np
import pytest
import soundfile as sf

from data_helpers import VGGSS_RECORDS, write_json
from vssleval.data.registry import load_dataset
from vssleval.errors import BadSampleError, VsslevalError

FIRST = VGGSS_RECORDS[0]["file"]


def _expect(vggss_dir, path, reason):
    """Loading fails naming ``path``; with skip_bad the other samples load and the skip is recorded."""
    with pytest.raises(BadSampleError) as exc:
        load_dataset("vggss", vggss_dir)
    msg = str(exc.value)
    assert str(path) in msg and reason in msg and FIRST in msg
    ds = load_dataset("vggss", vggss_dir, skip_bad=True)
    assert [s.id for s in ds] == [r["file"] for r in VGGSS_RECORDS[1:]]  # no substitute sample
    assert [(k.id, k.path) for k in ds.skips] == [(FIRST, str(path))]
    assert reason in ds.skips[0].reason


def test_missing_wav(vggss_dir):
    p = vggss_dir / "audio" / f"{FIRST}.wav"
    p.unlink()
    _expect(vggss_dir, p, "audio file is missing")


def test_missing_jpg_annotation_names_absent_file(vggss_dir):
    p = vggss_dir / "frames" / f"{FIRST}.jpg"
    p.unlink()
    _expect(vggss_dir, p, "image file is missing")


def test_truncated_wav(vggss_dir):
    p = vggss_dir / "audio" / f"{FIRST}.wav"
    p.write_bytes(p.read_bytes()[:-4000])
    _expect(vggss_dir, p, "truncated")


def test_unreadable_wav(vggss_dir):
    p = vggss_dir / "audio" / f"{FIRST}.wav"
    p.write_bytes(b"this is not audio at all")
    _expect(vggss_dir, p, "unreadable")


def test_zero_length_wav(vggss_dir):
    p = vggss_dir / "audio" / f"{FIRST}.wav"
    sf.write(str(p), np.zeros(0, dtype=np.int16), 16000, subtype="PCM_16")
    _expect(vggss_dir, p, "zero length")


def test_truncated_jpg(vggss_dir):
    p = vggss_dir / "frames" / f"{FIRST}.jpg"
    p.write_bytes(p.read_bytes()[: len(p.read_bytes()) // 2])
    _expect(vggss_dir, p, "unreadable or truncated")


def test_unreadable_jpg(vggss_dir):
    p = vggss_dir / "frames" / f"{FIRST}.jpg"
    p.write_bytes(b"")
    _expect(vggss_dir, p, "unreadable or truncated")


@pytest.mark.parametrize("box,reason", [([0.1, float("nan"), 0.5, 0.5], "NaN"),
                                        ([0.6, 0.1, 0.3, 0.5], "inverted")])
def test_nan_or_inverted_box(vggss_dir, box, reason):
    records = json.loads(json.dumps(VGGSS_RECORDS))
    records[0]["bbox"] = [box]
    ann = write_json(vggss_dir / "vggss_annotations.json", records)
    _expect(vggss_dir, ann, reason)


def test_record_without_id_is_bad(vggss_dir):
    records = [{"class": "x", "bbox": []}] + VGGSS_RECORDS[1:]
    write_json(vggss_dir / "vggss_annotations.json", records)
    with pytest.raises(BadSampleError, match="no 'file' id"):
        load_dataset("vggss", vggss_dir)
    assert len(load_dataset("vggss", vggss_dir, skip_bad=True).skips) == 1


def test_missing_annotation_file_says_how_to_get_it(vggss_dir):
    (vggss_dir / "vggss_annotations.json").unlink()
    with pytest.raises(VsslevalError, match="vggss_annotations.json.*vggss.json.*fetch-metadata"):
        load_dataset("vggss", vggss_dir)


def test_annotation_not_json(vggss_dir):
    (vggss_dir / "vggss_annotations.json").write_text("[{")
    with pytest.raises(VsslevalError, match="not valid JSON"):
        load_dataset("vggss", vggss_dir)


def test_missing_data_dir(tmp_path):
    with pytest.raises(VsslevalError, match="does not exist"):
        load_dataset("vggss", tmp_path / "nowhere")


def test_is3_record_without_box(is3_dir):
    boxes = json.loads((is3_dir / "synthetic3240_bbox.json").read_text())
    write_json(is3_dir / "synthetic3240_bbox.json", boxes[1:])
    with pytest.raises(BadSampleError, match="no gt_box"):
        load_dataset("is3", is3_dir)
    ds = load_dataset("is3", is3_dir, skip_bad=True)
    assert len(ds) == 3 and ds.skips[0].id == "cat_banjo_1_cat"


def test_is3_inverted_box(is3_dir):
    boxes = json.loads((is3_dir / "synthetic3240_bbox.json").read_text())
    boxes[0]["gt_box"] = [100.0, 10.0, 50.0, 60.0]
    write_json(is3_dir / "synthetic3240_bbox.json", boxes)
    with pytest.raises(BadSampleError, match="inverted"):
        load_dataset("is3", is3_dir)


def test_check_files_false_parses_without_media(vggss_dir):
    for p in (vggss_dir / "audio").iterdir():
        p.unlink()
    assert len(load_dataset("vggss", vggss_dir, check_files=False)) == 3


def test_offscreen_clip_without_audio_is_caught_at_load(vggss_dir):
    """A class-files dict clip whose wav is missing used to stop a run mid-way, when a seed drew it."""
    classes = {"dog barking": [FIRST, "ccccccccccc_000003"], "cat meowing": ["bbbbbbbbbbb_000002"],
               "siren": ["zzzzzzzzzzz_000009"]}
    write_json(vggss_dir / "vggss_class_files_dict.json", classes)
    missing = vggss_dir / "audio" / "zzzzzzzzzzz_000009.wav"
    with pytest.raises(BadSampleError, match="offscreen clip of the class-files dict: audio file is missing") as exc:
        load_dataset("vggss", vggss_dir)
    assert str(missing) in str(exc.value) and "remove the clip from the class-files dict" in str(exc.value)
    ds = load_dataset("vggss", vggss_dir, skip_bad=True)
    assert len(ds) == 3 and [(k.id, k.path) for k in ds.skips] == [("zzzzzzzzzzz_000009", str(missing))]
    assert "siren" not in ds.offscreen_pool().classes  # never drawn
    assert load_dataset("vggss", vggss_dir, check_files=False).class_files == classes


def test_skipped_sample_is_not_drawn_as_offscreen_audio(vggss_dir):
    write_json(vggss_dir / "vggss_class_files_dict.json",
               {"dog barking": [FIRST, "ccccccccccc_000003"], "cat meowing": ["bbbbbbbbbbb_000002"]})
    (vggss_dir / "audio" / f"{FIRST}.wav").write_bytes(b"")
    ds = load_dataset("vggss", vggss_dir, skip_bad=True)
    assert [k.id for k in ds.skips] == [FIRST]  # recorded once, as the sample
    pool = ds.offscreen_pool()
    assert FIRST not in {r for roots in pool.classes.values() for r in roots}
    assert ds.offscreen_pool().classes["dog barking"] == ["ccccccccccc_000003"]


def test_a_sound_file_is_checked_once_per_process_until_it_changes(vggss_dir, monkeypatch):
    """A second load in one process does not decode the frames again (the main job's four runs of
    one dataset), but a file spoiled since, even at the same size, is checked anew and refused."""
    from vssleval.data import checks

    decoded = []
    real = checks.check_image
    monkeypatch.setattr(checks, "check_image", lambda sid, path: (decoded.append(sid), real(sid, path)))
    load_dataset("vggss", vggss_dir)
    first = len(decoded)
    load_dataset("vggss", vggss_dir)
    assert first == len(VGGSS_RECORDS) and len(decoded) == first  # nothing decoded the second time
    p = vggss_dir / "frames" / f"{FIRST}.jpg"
    data = p.read_bytes()
    p.unlink()  # a new file (new inode) of the same size that is no image
    p.write_bytes(b"x" * len(data))
    _expect(vggss_dir, p, "unreadable or truncated")
