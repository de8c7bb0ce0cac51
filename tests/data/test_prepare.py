"""``vssleval prepare flickr`` and ``prepare is3`` on layouts written here, and ``prepare vggss``
without PyAV. (The video path is in test_prepare_vggss.py, which needs PyAV.)"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from data_helpers import write_jpg, write_json, write_wav
from vssleval import cli
from vssleval.data import load_dataset
from vssleval.data.prepare import prepare_flickr, prepare_is3, prepare_vggss
from vssleval.data.prepare.flickr import EXTRA_ID
from vssleval.errors import VsslevalError

# -- Flickr-SoundNet --------------------------------------------------------------------------------
FLICKR_IDS = ["2432219254", EXTRA_ID, "10000130166", "9992787425"]


def _xml(path: Path, boxes_per_annotator) -> Path:
    """An annotation in the archive's form: one child per annotator, each ``bbox`` with a leading
    meta field and four 256-px coordinates."""
    parts = []
    for boxes in boxes_per_annotator:
        inner = "".join(f"<bbox><name>x</name><xmin>{b[0]}</xmin><ymin>{b[1]}</ymin><xmax>{b[2]}</xmax>"
                        f"<ymax>{b[3]}</ymax></bbox>" for b in boxes)
        parts.append(f"<object>{inner}</object>")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(f"<annotation>{''.join(parts)}</annotation>")
    return path


@pytest.fixture
def flickr_archive(tmp_path: Path) -> Path:
    """The archive layout: Annotations/<id>.xml, Data/<digit>/<id>.jpg|.wav, test_list.txt of <id>.png.
    The last id is split differently: a per-item folder with a PNG picture."""
    root = tmp_path / "archive"
    for k, sid in enumerate(FLICKR_IDS):
        _xml(root / "Annotations" / f"{sid}.xml", [[[0, 0, 128, 128]], [[64, 64, 192, 192]], [[0, 0, 256, 256]]])
        if k < 3:
            write_jpg(root / "Data" / str(k) / f"{sid}.jpg", 256, 256)
            write_wav(root / "Data" / str(k) / f"{sid}.wav", seconds=1.0, sr=22050)
        else:
            item = root / "Data" / "9" / f"{sid}.mp4"
            item.mkdir(parents=True)
            Image.fromarray(np.full((256, 256, 3), 77, np.uint8)).save(item / "frame1.png")
            write_wav(item / "sound.wav", seconds=1.0)
    _xml(root / "Annotations" / "1111111111.xml", [[[0, 0, 10, 10]]])  # not a test id: not copied
    (root / "test_list.txt").write_text("".join(f"{i}.png\n" for i in FLICKR_IDS))
    return root


def test_flickr_archive_becomes_the_flickr_layout(flickr_archive, tmp_path):
    out = tmp_path / "flickr"
    summary = prepare_flickr(flickr_archive, out, progress=False)
    assert summary.counts == {"prepared": 4, "present": 0, "missing": 0, "bad": 0} and summary.exit_code == 0
    assert [o.kind for o in summary.outcomes] == ["", "", "", "converted_image"]
    assert (out / "flickr_test.csv").read_text().split() == FLICKR_IDS
    assert (out / "flickr_test_249.csv").read_text().split() == [i for i in FLICKR_IDS if i != EXTRA_ID]
    assert sorted(p.stem for p in (out / "Annotations").iterdir()) == sorted(FLICKR_IDS)
    # the wav and XML bytes are unchanged (linked or copied)
    assert (out / "audio" / "2432219254.wav").read_bytes() == (flickr_archive / "Data/0/2432219254.wav").read_bytes()
    ds = load_dataset("flickr", out)
    assert [s.id for s in ds] == FLICKR_IDS
    assert len(ds[0].boxes) == 3 and ds[0].boxes[0].tolist() == [0, 0, 112, 112]  # trunc(224 * 128 / 256)
    assert len(load_dataset("flickr249", out)) == 3
    with Image.open(out / "frames" / "9992787425.jpg") as im:
        assert im.format == "JPEG" and abs(float(np.asarray(im).mean()) - 77) < 1


def test_flickr_missing_and_bad_items_are_listed(flickr_archive, tmp_path, capsys):
    (flickr_archive / "Data/1" / f"{EXTRA_ID}.wav").unlink()
    (flickr_archive / "Annotations" / "10000130166.xml").write_text("<annotation><object>")  # cut short
    out = tmp_path / "flickr"
    code = cli.main(["prepare", "flickr", "--archive", str(flickr_archive), "--out", str(out), "--no-progress"])
    text = capsys.readouterr().out
    assert code == 1 and "prepared                2" in text
    assert (out / "missing.csv").read_text().splitlines()[1].startswith(f"{EXTRA_ID},missing_audio,")
    bad = (out / "bad.csv").read_text().splitlines()
    assert len(bad) == 2 and bad[1].startswith("10000130166,bad_record,") and "10000130166: annotation XML" in text
    assert not (out / "frames" / "10000130166.jpg").exists() and not (out / "frames" / f"{EXTRA_ID}.jpg").exists()
    # the second run prepares nothing again and reports the finished ids as present
    again = prepare_flickr(flickr_archive, out, progress=False)
    assert again.counts == {"prepared": 0, "present": 2, "missing": 1, "bad": 1}


def test_flickr_249_list_alone_and_a_kept_list(flickr_archive, tmp_path):
    short = tmp_path / "ezvsl_list.csv"
    short.write_text("".join(f"{i},0\r\n" for i in FLICKR_IDS if i != EXTRA_ID))
    out = tmp_path / "flickr"
    summary = prepare_flickr(flickr_archive, out, test_list=short, progress=False)
    assert not (out / "flickr_test.csv").exists() and len(summary.outcomes) == 3
    assert (out / "flickr_test_249.csv").read_text().split() == [i for i in FLICKR_IDS if i != EXTRA_ID]
    assert any("lacks 3908875350" in n for n in summary.notes)


def test_flickr_without_a_test_list_says_how_to_get_one(tmp_path):
    (tmp_path / "archive").mkdir()
    with pytest.raises(VsslevalError, match="fetch-metadata flickr"):
        prepare_flickr(tmp_path / "archive", tmp_path / "out", progress=False)


# -- IS3 ------------------------------------------------------------------------------------------
IS3 = [("accordion_female_10438_accordion", "accordion", [47.0, 99.0, 154.0, 185.0]),
       ("accordion_female_10438_female", "female", [150.0, 20.0, 220.0, 200.0]),
       ("cat_banjo_banjo", "banjo", [0.0, 0.0, 100.0, 100.0]),
       ("cat_banjo_cat", "cat", [120.0, 10.0, 224.0, 224.0])]


@pytest.fixture
def is3_release(tmp_path: Path) -> Path:
    """The release as unpacked: visual_frames/, audio_wav/, IS3_annotation.json with the authors'
    absolute paths, and vssl_eval's class_files_dict.json name."""
    root = tmp_path / "IS3"
    ann = []
    for name, cls, box in IS3:
        write_jpg(root / "visual_frames" / f"{name}.jpg", 224, 224)
        write_wav(root / "audio_wav" / f"{name}.wav")
        ann.append({"image": f"/mnt/lynx2/users/arda/synthetic3241/visual_frames/{name}.jpg",
                    "audio": f"/mnt/lynx2/users/arda/synthetic3241/audio_wav/{name}.wav", "gt_box": box, "class": cls})
    write_json(root / "IS3_annotation.json", ann)
    write_json(root / "class_files_dict.json", {"instrument": [IS3[0][0], IS3[2][0]], "living": [IS3[1][0], IS3[3][0]]})
    return root


def test_is3_release_becomes_the_is3_layout(is3_release, tmp_path):
    out = tmp_path / "is3"
    summary = prepare_is3(is3_release, out, progress=False)
    assert summary.counts == {"prepared": 4, "present": 0, "missing": 0, "bad": 0}
    ann = json.loads((out / "IS3_annotation.json").read_text())
    assert [r["image"] for r in ann] == [f"images/{n}.jpg" for n, _, _ in IS3]
    assert [r["audio"] for r in ann] == [f"audio_wav/{n}.wav" for n, _, _ in IS3]
    assert json.loads((out / "IS3_class_files_dict.json").read_text())["instrument"] == [IS3[0][0], IS3[2][0]]
    boxes = json.loads((out / "synthetic3240_bbox.json").read_text())
    assert [b["gt_box"] for b in boxes] == [b for _, _, b in IS3]
    ds = load_dataset("is3", out)
    assert [s.id for s in ds] == [n for n, _, _ in IS3]
    assert ds[0].boxes.tolist() == [[47, 99, 154, 185]] and ds[0].visible_labels == ("accordion", "female")
    assert ds.class_files["instrument"] == [IS3[0][0], IS3[2][0]]  # the release's dict, not one built from classes


def test_is3_missing_and_bad_files_and_resume(is3_release, tmp_path):
    (is3_release / "audio_wav" / f"{IS3[1][0]}.wav").unlink()
    (is3_release / "visual_frames" / f"{IS3[2][0]}.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    out = tmp_path / "is3"
    summary = prepare_is3(is3_release, out, progress=False)
    assert summary.counts == {"prepared": 2, "present": 0, "missing": 1, "bad": 1} and summary.exit_code == 1
    assert (out / "missing.csv").read_text().splitlines()[1].startswith(f"{IS3[1][0]},missing_audio,")
    assert (out / "bad.csv").read_text().splitlines()[1].startswith(f"{IS3[2][0]},unreadable_image,")
    again = prepare_is3(is3_release, out, progress=False)
    assert again.counts == {"prepared": 0, "present": 2, "missing": 1, "bad": 1}


def test_is3_box_file_from_the_release_is_copied(is3_release, tmp_path):
    write_json(is3_release / "metadata" / "synthetic3240_bbox.json",
               [{"image": f"/x/visual_frames/{n}.jpg", "audio": "", "gt_box": [1.0, 2.0, 3.0, 4.0]} for n, _, _ in IS3])
    out = tmp_path / "is3"
    prepare_is3(is3_release, out, progress=False)
    assert load_dataset("is3", out)[0].boxes.tolist() == [[1, 2, 3, 4]]


# -- refused before any work ------------------------------------------------------------------------
def test_an_id_that_leaves_the_folder_is_refused(flickr_archive, tmp_path):
    (flickr_archive / "test_list.txt").write_text("../../escape.png\n2432219254.png\n")
    summary = prepare_flickr(flickr_archive, tmp_path / "out", progress=False)
    assert [(o.id, o.status, o.kind) for o in summary.outcomes] == [("../../escape", "bad", "path_escape"),
                                                                    ("2432219254", "prepared", "")]
    assert not (tmp_path / "escape.jpg").exists()


def test_vggss_without_pyav_says_what_to_install(monkeypatch, tmp_path, capsys):
    monkeypatch.setitem(sys.modules, "av", None)  # "import av" now raises ImportError
    with pytest.raises(VsslevalError,
                       match=r"`pip install av` \(in the repository checkout: `pip install -e '\.\[video\]'`\)"):
        prepare_vggss(tmp_path, tmp_path / "out", progress=False)
    assert cli.main(["prepare", "vggss", "--videos", str(tmp_path), "--out", str(tmp_path / "o")]) == 2
    assert "needs PyAV" in capsys.readouterr().err
