"""Folders laid out as vssl_eval's README says: VGG-SS with ``annotations.json`` and
``class_files_dict.json``, IS3 with ``class_files_dict.json``. These names come after vssleval's
own in the search order, and a file of the wrong schema under them is an error naming it."""

from __future__ import annotations

from pathlib import Path

import pytest

from data_helpers import IS3_NAMES, VGGSS_RECORDS, write_jpg, write_json, write_wav
from vssleval.data import load_dataset
from vssleval.errors import VsslevalError

# A class-files dict that cannot be mistaken for the one built from the annotation classes
# ({"dog barking": [a, c], "cat meowing": [b]}): one made-up class holding all three clips.
VGGSS_DICT = {"anything": [r["file"] for r in VGGSS_RECORDS]}
IS3_DICT = {"instrument": [name for name, _, _ in IS3_NAMES]}


def _vggss_media(root: Path) -> Path:
    for r in VGGSS_RECORDS:
        write_wav(root / "audio" / f"{r['file']}.wav")
        write_jpg(root / "frames" / f"{r['file']}.jpg")
    return root


@pytest.fixture
def vssl_eval_vggss(tmp_path: Path) -> Path:
    """audio/, frames/, annotations.json, class_files_dict.json (vssl_eval README names)."""
    root = _vggss_media(tmp_path / "vggss")
    write_json(root / "annotations.json", VGGSS_RECORDS)
    write_json(root / "class_files_dict.json", VGGSS_DICT)
    return root


def _is3_folder(root: Path, annotation: str, class_dict: str | None) -> Path:
    ann, boxes = [], []
    for name, cls, box in IS3_NAMES:
        write_wav(root / "audio_wav" / f"{name}.wav")
        write_jpg(root / "images" / f"{name}.jpg", 224, 224)
        ann.append({"image": f"images/{name}.jpg", "audio": f"audio_wav/{name}.wav", "class": cls})
        boxes.append({"image": f"/x/{name}.jpg", "audio": f"/x/{name}.wav", "gt_box": [float(v) for v in box]})
    write_json(root / annotation, ann)
    write_json(root / "synthetic3240_bbox.json", boxes)
    if class_dict:
        write_json(root / class_dict, IS3_DICT)
    return root


def test_vggss_vssl_eval_names_are_read(vssl_eval_vggss):
    ds = load_dataset("vggss", vssl_eval_vggss)
    assert [s.id for s in ds] == [r["file"] for r in VGGSS_RECORDS]
    assert ds.class_files == VGGSS_DICT  # the dict file was read, not rebuilt from the classes
    assert f"annotation: {vssl_eval_vggss / 'annotations.json'}" in ds.notes
    # the boxes are the records' (first record: [0.1, 0.2, 0.5, 0.6] -> int(c * 224))
    assert ds[0].boxes.tolist() == [[22, 44, 112, 134]]


def test_vggss_own_names_come_first(vssl_eval_vggss):
    # vssleval's names win over vssl_eval's: a one-record vggss_annotations.json and another dict
    write_json(vssl_eval_vggss / "vggss_annotations.json", VGGSS_RECORDS[:1])
    own_dict = {"dog barking": [VGGSS_RECORDS[0]["file"]]}
    write_json(vssl_eval_vggss / "vggss_class_files_dict.json", own_dict)
    ds = load_dataset("vggss", vssl_eval_vggss)
    assert [s.id for s in ds] == [VGGSS_RECORDS[0]["file"]]
    assert ds.class_files == own_dict


def test_vggss_extended_inherits_the_names(vssl_eval_vggss):
    (vssl_eval_vggss / "vggss_test_plus_silent.csv").write_text(
        f"video,audio,label\n{VGGSS_RECORDS[0]['file']},{VGGSS_RECORDS[1]['file']},non-sounding\n")
    ds = load_dataset("vggss_extended", vssl_eval_vggss)
    assert len(ds) == 4 and ds[3].is_negative
    assert ds.class_files == VGGSS_DICT


def test_vggss_annotations_json_of_another_schema_is_named(tmp_path):
    root = _vggss_media(tmp_path / "vggss")
    # an IS3 annotation list dropped under the generic name
    write_json(root / "annotations.json", [{"image": "images/a.jpg", "audio": "audio_wav/a.wav", "class": "cat"}])
    with pytest.raises(VsslevalError, match="wrong schema") as info:
        load_dataset("vggss", root)
    msg = str(info.value)
    assert str(root / "annotations.json") in msg and "'file', 'bbox'" in msg


def test_vggss_annotations_json_that_is_not_a_list_is_named(tmp_path):
    root = _vggss_media(tmp_path / "vggss")
    write_json(root / "annotations.json", {"aaaaaaaaaaa_000001": [[0.1, 0.2, 0.5, 0.6]]})
    with pytest.raises(VsslevalError, match="must be a JSON list") as info:
        load_dataset("vggss", root)
    assert str(root / "annotations.json") in str(info.value)


def test_a_bad_record_among_good_ones_is_still_a_per_sample_skip(tmp_path):
    root = _vggss_media(tmp_path / "vggss")
    write_json(root / "annotations.json", VGGSS_RECORDS + [{"class": "x"}])
    ds = load_dataset("vggss", root, skip_bad=True)
    assert len(ds) == 3 and len(ds.skips) == 1


@pytest.mark.parametrize("bad", [["a", "b"], {"dog": "aaaaaaaaaaa_000001"}])
def test_class_files_dict_of_another_schema_is_named(vssl_eval_vggss, bad):
    write_json(vssl_eval_vggss / "class_files_dict.json", bad)
    with pytest.raises(VsslevalError, match="wrong schema") as info:
        load_dataset("vggss", vssl_eval_vggss)
    assert str(vssl_eval_vggss / "class_files_dict.json") in str(info.value)


def test_is3_vssl_eval_names_are_read(tmp_path):
    root = _is3_folder(tmp_path / "is3", "IS3_annotation.json", "class_files_dict.json")
    ds = load_dataset("is3", root)
    assert [s.id for s in ds] == [name for name, _, _ in IS3_NAMES]
    assert ds.class_files == IS3_DICT
    assert ds[0].boxes.tolist() == [[10, 20, 60, 90]]


def test_is3_own_class_dict_comes_first(tmp_path):
    root = _is3_folder(tmp_path / "is3", "IS3_annotation.json", "class_files_dict.json")
    own = {"cat": ["cat_banjo_1_cat"]}
    write_json(root / "IS3_class_files_dict.json", own)
    assert load_dataset("is3", root).class_files == own


def test_is3_class_files_dict_of_another_schema_is_named(tmp_path):
    root = _is3_folder(tmp_path / "is3", "IS3_annotation.json", None)
    write_json(root / "class_files_dict.json", [{"image": "x.jpg"}])
    with pytest.raises(VsslevalError, match="wrong schema") as info:
        load_dataset("is3", root)
    assert str(root / "class_files_dict.json") in str(info.value)


def test_is3_annotation_of_another_schema_is_named(tmp_path):
    root = _is3_folder(tmp_path / "is3", "IS3_annotation.json", "class_files_dict.json")
    write_json(root / "IS3_annotation.json", VGGSS_RECORDS)  # VGG-SS records: no 'image'
    with pytest.raises(VsslevalError, match="wrong schema") as info:
        load_dataset("is3", root)
    assert str(root / "IS3_annotation.json") in str(info.value)
