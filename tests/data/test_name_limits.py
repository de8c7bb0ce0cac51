"""Issue 19, mechanism 5: ids and the paths built from them are checked against the file system's
limits where a record is read (docs/datasets.md §8): a name over NAME_MAX bytes, a path over
PATH_MAX, a NUL byte or a character the file system cannot store is a per-record error naming the
id and the limit (a recorded skip under --skip-bad), never an ``OSError: File name too long``
traceback; ``prepare`` marks that record bad and prepares the others."""

from __future__ import annotations

import csv
import json

import pytest

from data_helpers import VGGSS_RECORDS, write_jpg, write_json, write_wav
from vssleval import cli
from vssleval.data.registry import load_dataset
from vssleval.errors import BadSampleError

LONG = "x" * 300  # the finding: a record id longer than 255 bytes
HOSTILE_IDS = {
    "name_too_long": LONG,
    "name_too_long_utf8": "é" * 200,  # 200 characters, 400 bytes: the limit is in bytes
    "path_too_long": "d/" * 2100 + "x",  # short names, a path over PATH_MAX
    "bad_name_nul": "has\x00nul",
    "bad_name_surrogate": "lone\ud800surrogate",  # valid JSON ("\\ud800"), no file name can hold it
}
KINDS = {"name_too_long": "name_too_long", "name_too_long_utf8": "name_too_long", "path_too_long": "path_too_long",
         "bad_name_nul": "bad_name", "bad_name_surrogate": "bad_name"}


def _with_record(vggss_dir, sid: str) -> None:
    """Add a record with id ``sid`` in front of the three good ones."""
    records = [{"file": sid, "class": "dog barking", "bbox": [[0.1, 0.1, 0.5, 0.5]]}, *VGGSS_RECORDS]
    (vggss_dir / "vggss_annotations.json").write_text(json.dumps(records), encoding="utf-8")


@pytest.mark.parametrize("case", sorted(HOSTILE_IDS))
def test_reader_refuses_an_impossible_file_name_by_record(vggss_dir, case):
    _with_record(vggss_dir, HOSTILE_IDS[case])
    with pytest.raises(BadSampleError) as exc:
        load_dataset("vggss", vggss_dir)
    assert exc.value.kind == KINDS[case]
    ds = load_dataset("vggss", vggss_dir, skip_bad=True)
    assert [s.id for s in ds] == [r["file"] for r in VGGSS_RECORDS]
    assert [(k.id, k.kind) for k in ds.skips] == [(HOSTILE_IDS[case], KINDS[case])]
    # also without file checks: the path check runs before anything is opened
    assert len(load_dataset("vggss", vggss_dir, check_files=False, skip_bad=True)) == 3


def test_the_message_names_the_id_and_the_limit(vggss_dir):
    from vssleval.data.checks import fs_limits

    _with_record(vggss_dir, LONG)
    with pytest.raises(BadSampleError) as exc:
        load_dataset("vggss", vggss_dir)
    name_max = fs_limits(str(vggss_dir / "frames"))[0]
    assert LONG in str(exc.value) and f"at most {name_max} bytes per name (NAME_MAX)" in str(exc.value)
    assert "304 bytes" in str(exc.value)  # LONG + ".jpg"


def test_limits_come_from_the_file_system_with_a_fallback(tmp_path, monkeypatch):
    import os

    from vssleval.data.checks import FALLBACK_NAME_MAX, fs_limits, path_limit_problem

    assert fs_limits(str(tmp_path))[0] == os.pathconf(tmp_path, "PC_NAME_MAX")

    def unsupported(path, name):
        raise OSError(22, "Invalid argument")

    monkeypatch.setattr(os, "pathconf", unsupported)
    fs_limits.cache_clear()
    try:
        assert fs_limits(str(tmp_path / "sub")) == (FALLBACK_NAME_MAX, 4096)
        assert path_limit_problem(tmp_path / ("y" * 256))[0] == "name_too_long"
        assert path_limit_problem(tmp_path / ("y" * 255)) is None
    finally:
        fs_limits.cache_clear()


def test_datasets_reports_an_overlong_id(vggss_dir, capsys):
    _with_record(vggss_dir, LONG)
    assert cli.main(["datasets", "vggss", "--data-dir", str(vggss_dir)]) == 1
    out = capsys.readouterr().out
    assert "bad samples: 1 (name_too_long 1)" in out and "NAME_MAX" in out


def test_evaluate_records_an_overlong_id_as_a_skip(vggss_dir, tmp_path, capsys):
    _with_record(vggss_dir, LONG)
    base = ["evaluate", "--model", "center", "--dataset", "vggss", "--data-dir", str(vggss_dir), "--seeds", "1",
            "--bootstrap", "0"]
    assert cli.main(base + ["--out", str(tmp_path / "plain")]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and LONG in err and "NAME_MAX" in err
    out = tmp_path / "run"
    assert cli.main(base + ["--out", str(out), "--skip-bad", "--max-skip-fraction", "0.5"]) == 0
    with open(out / "skipped.csv", newline="") as fh:
        assert [(r["id"], r["kind"]) for r in csv.DictReader(fh)] == [(LONG, "name_too_long")]
    assert json.loads((out / "metrics.json").read_text())["n_samples"] == 3


def test_prepare_marks_the_record_bad_and_prepares_the_others(tmp_path, capsys):
    """The finding: prepare prepared nothing at all. IS3 names come from the annotation's paths."""
    names = ["s_a", LONG, "s_b", "with\x00nul"]
    src = tmp_path / "IS3"
    for n in names:
        if "\x00" not in n and len(n) < 200:
            write_jpg(src / "visual_frames" / f"{n}.jpg", 224, 224)
            write_wav(src / "audio_wav" / f"{n}.wav")
    write_json(src / "IS3_annotation.json", [{"image": f"/x/{n}.jpg", "audio": f"/x/{n}.wav",
                                              "gt_box": [1, 2, 100, 120], "class": "c"} for n in names])
    out = tmp_path / "OUT"
    assert cli.main(["prepare", "is3", "--src", str(src), "--out", str(out), "--no-progress"]) == 1
    text = capsys.readouterr().out
    assert "prepared                2" in text and "name_too_long 1" in text and "bad_name 1" in text
    with open(out / "bad.csv", newline="") as fh:
        assert [(r["id"], r["kind"]) for r in csv.DictReader(fh)] == [(LONG, "name_too_long"),
                                                                      ("with\x00nul", "bad_name")]
    assert sorted(p.name for p in (out / "images").iterdir()) == ["s_a.jpg", "s_b.jpg"]


def test_prepare_flickr_with_an_overlong_id_in_the_test_list(tmp_path):
    from vssleval.data.prepare import prepare_flickr

    archive = tmp_path / "archive"
    for sid in ("1001", "1002"):
        write_jpg(archive / "Data" / f"{sid}.jpg", 256, 256)
        write_wav(archive / "Data" / f"{sid}.wav")
        (archive / "Annotations").mkdir(parents=True, exist_ok=True)
        (archive / "Annotations" / f"{sid}.xml").write_text(
            "<annotation><object><bbox><n>x</n><a>0</a><b>0</b><c>9</c><d>9</d></bbox></object></annotation>")
    (archive / "test_list.txt").write_text(f"1001.png\n{LONG}.png\n1002.png\n")
    summary = prepare_flickr(archive, tmp_path / "OUT", progress=False)
    assert [(o.id, o.status, o.kind) for o in summary.outcomes] == [
        ("1001", "prepared", ""), (LONG, "bad", "name_too_long"), ("1002", "prepared", "")]
