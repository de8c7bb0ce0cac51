"""Issue 19, S1 and its mechanism: ``prepare`` writes only fresh regular files inside ``--out``
(docs/datasets.md §10, placement). Sources hold symlinks of every kind — relative, absolute, to a
file beside the output tree, dangling, a loop, to a folder, a symlinked folder and a folder loop,
symlinked metadata — and a FIFO; nothing outside ``--out`` may change (mode, content, mtime, inode,
link count), every output is a regular file with one link, and each unusable source is a named
row of ``bad.csv``, never a traceback or a temporary file left behind."""

from __future__ import annotations

import csv
import json
import os
import shutil
import stat
from pathlib import Path

import pytest

import shared
from data_helpers import write_jpg, write_json, write_wav
from vssleval import cli
from vssleval.data import load_dataset

#: Files that exist twice: under deep/b (the real files the source's relative links reach) and under
#: deep/a, beside the output folder deep/a/OUT, where the same link text lands from inside --out.
CANARIES = ("canary.jpg", "canary.wav", "canary.json", "canary.xml", "canary_dict.json")


def _xml(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    boxes = "".join(f"<object><bbox><name>x</name><xmin>{a}</xmin><ymin>{a}</ymin><xmax>{a + 100}</xmax>"
                    f"<ymax>{a + 100}</ymax></bbox></object>" for a in (0, 20, 40))
    path.write_text(f"<annotation>{boxes}</annotation>")
    return path


def _canaries(tmp: Path, annotation: object, class_dict: object) -> None:
    """The same five files under deep/a and deep/b; deep/a's are mode 600 (the finding: a chmod to
    644 went through a hard-linked symlink)."""
    for side in ("a", "b"):
        d = tmp / "deep" / side
        write_jpg(d / "canary.jpg", 224, 224)
        write_wav(d / "canary.wav")
        write_json(d / "canary.json", annotation)
        _xml(d / "canary.xml")
        write_json(d / "canary_dict.json", class_dict)
        if side == "a":
            for name in CANARIES:
                os.chmod(d / name, 0o600)


def _hostile_links(folder: Path, ext: str, ids: dict[str, str], tmp: Path) -> None:
    """One bad source of each kind, named ``<id><ext>`` in ``folder``: ``dangling``, ``loop``,
    ``dirlink`` (a link to a folder), ``fifo``, ``device`` (a link to /dev/zero: endless bytes)."""
    folder.mkdir(parents=True, exist_ok=True)
    (tmp / "somefolder").mkdir(exist_ok=True)
    os.symlink(tmp / "nowhere" / "gone.bin", folder / f"{ids['dangling']}{ext}")
    os.symlink(f"{ids['loop']}{ext}", folder / f"{ids['loop']}{ext}")
    os.symlink(tmp / "somefolder", folder / f"{ids['dirlink']}{ext}")
    os.mkfifo(folder / f"{ids['fifo']}{ext}")
    os.symlink("/dev/zero", folder / f"{ids['device']}{ext}")


def _snapshot(root: Path, skip: Path) -> dict[str, tuple]:
    """Everything under ``root`` except ``skip``: type, mode, inode, link count, mtime and content
    (link text for links); folders by mode and inode (their mtime changes when --out is made)."""
    seen = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if Path(dirpath, d) != skip]
        for name in dirnames + filenames:
            p = Path(dirpath, name)
            st = os.lstat(p)
            entry: tuple = (stat.S_IFMT(st.st_mode), stat.S_IMODE(st.st_mode), st.st_ino)
            if stat.S_ISREG(st.st_mode):
                entry += (st.st_nlink, st.st_mtime_ns, p.read_bytes())
            elif stat.S_ISLNK(st.st_mode):
                entry += (os.readlink(p),)
            seen[str(p)] = entry
    return seen


def _assert_fresh_outputs(out: Path) -> None:
    """Every entry under ``out`` is a real folder or a regular file with one link; no temp file."""
    for p in out.rglob("*"):
        st = os.lstat(p)
        assert stat.S_ISDIR(st.st_mode) or (stat.S_ISREG(st.st_mode) and st.st_nlink == 1), (p, oct(st.st_mode))
        assert not p.name.endswith(".tmp"), p


def _bad_kinds(out: Path) -> dict[str, str]:
    with open(out / "bad.csv", newline="") as fh:
        return {row["id"]: row["kind"] for row in csv.DictReader(fh)}


BAD_IDS = {"dangling": "dangling", "loop": "loop", "dirlink": "dirlink", "fifo": "fifo", "device": "device"}
BAD_KINDS = {"dangling": "dangling_link", "loop": "link_loop", "dirlink": "not_a_file", "fifo": "not_a_file",
             "device": "not_a_file"}


def _run(argv: list[str], capsys) -> tuple[int, str]:
    code = cli.main(argv + ["--no-progress"])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return code, captured.out


def _prepare_touching_nothing_outside(tmp_path: Path, out: Path, argv: list[str], capsys) -> None:
    """Run ``argv`` (a prepare over sources holding bad records: exit 1) and check that nothing
    outside ``out`` changed and that every output is a fresh regular file."""
    before = _snapshot(tmp_path, out)
    code, text = _run(argv, capsys)
    assert code == 1, text
    assert _snapshot(tmp_path, out) == before
    _assert_fresh_outputs(out)


# -- IS3 --------------------------------------------------------------------------------------------
def test_is3_symlinks_of_every_kind_touch_nothing_outside_out(tmp_path, capsys):
    names = ["rel", "abs", "canarylink", "viafolder", "hard", *BAD_IDS]
    ann = [{"image": f"/x/visual_frames/{n}.jpg", "audio": f"/x/audio_wav/{n}.wav", "gt_box": [1, 2, 100, 120],
            "class": "c"} for n in names]
    _canaries(tmp_path, ann, {"c": names})
    src = tmp_path / "deep" / "b" / "IS3"
    frames, sounds = src / "visual_frames", tmp_path / "store" / "audio"
    write_jpg(tmp_path / "store" / "abs.jpg", 224, 224)
    write_jpg(tmp_path / "store2" / "viafolder.jpg", 224, 224)
    frames.mkdir(parents=True)
    os.symlink("../../canary.jpg", frames / "rel.jpg")  # the finding: ../../outside.jpg
    os.symlink(tmp_path / "store" / "abs.jpg", frames / "abs.jpg")
    os.symlink(tmp_path / "deep" / "a" / "canary.jpg", frames / "canarylink.jpg")  # the canary itself
    os.link(tmp_path / "deep" / "a" / "canary.jpg", frames / "hard.jpg")  # a hard link: its count must stay 2
    os.symlink(tmp_path / "store2", src / "linked_folder")  # found through a symlinked folder
    os.symlink("..", src / "loop_folder")  # a folder loop: the search must end
    _hostile_links(frames, ".jpg", BAD_IDS, tmp_path)
    for n in names:
        write_wav(sounds / f"{n}.wav")
    os.symlink(sounds, src / "audio_wav")  # the sounds folder is a link
    os.symlink("../canary.json", src / "IS3_annotation.json")  # relative metadata links
    os.symlink("../canary_dict.json", src / "class_files_dict.json")
    os.symlink(tmp_path / "deep" / "b" / "canary.json", src / "synthetic3240_bbox.json")  # absolute
    out = tmp_path / "deep" / "a" / "OUT"
    (out / "images").mkdir(parents=True)
    os.symlink(tmp_path / "deep" / "a" / "canary.jpg", out / "images" / "abs.jpg")  # an output that is a link
    os.symlink(tmp_path / "deep" / "a" / "canary.json", out / "bad.csv")  # a list written at the root, too
    _prepare_touching_nothing_outside(tmp_path, out, ["prepare", "is3", "--src", str(src), "--out", str(out)], capsys)
    assert _bad_kinds(out) == {BAD_IDS[k]: BAD_KINDS[k] for k in BAD_IDS}
    assert (out / "images" / "rel.jpg").read_bytes() == (tmp_path / "deep" / "b" / "canary.jpg").read_bytes()
    assert (out / "images" / "abs.jpg").read_bytes() == (tmp_path / "store" / "abs.jpg").read_bytes()
    ds = load_dataset("is3", out, skip_bad=True)
    assert [s.id for s in ds] == ["rel", "abs", "canarylink", "viafolder", "hard"]
    assert ds.class_files == {"c": names[:5]}  # the dict was placed; clips without media leave the pool


# -- Flickr-SoundNet --------------------------------------------------------------------------------
def test_flickr_symlinks_of_every_kind_touch_nothing_outside_out(tmp_path, capsys):
    ids = ["1001", "1002", "1003", "1004", *BAD_IDS.values()]
    _canaries(tmp_path, [], {})
    archive = tmp_path / "deep" / "b" / "archive"
    data = archive / "Data" / "0"
    for sid in ids:
        _xml(archive / "Annotations" / f"{sid}.xml")
        write_wav(data / f"{sid}.wav")
    (archive / "Annotations" / "1001.xml").unlink()
    os.symlink("../../canary.xml", archive / "Annotations" / "1001.xml")  # -> deep/b/canary.xml
    os.symlink("../../../canary.jpg", data / "1001.jpg")  # -> deep/b/canary.jpg
    (data / "1002.wav").unlink()
    os.symlink("../../../canary.wav", data / "1002.wav")
    write_jpg(data / "1002.jpg", 256, 256)
    os.symlink(tmp_path / "deep" / "a" / "canary.jpg", data / "1003.jpg")  # the canary itself
    write_jpg(tmp_path / "store" / "1004.jpg", 256, 256)
    os.symlink(tmp_path / "store", archive / "Data" / "linked")  # a symlinked folder
    os.symlink("../..", archive / "Data" / "cycle")  # a folder loop (up to deep/b)
    _hostile_links(data, ".jpg", BAD_IDS, tmp_path)
    (tmp_path / "lists").mkdir()
    (tmp_path / "lists" / "test_list.txt").write_text("".join(f"{i}.png\n" for i in ids))
    os.symlink(tmp_path / "lists" / "test_list.txt", archive / "test_list.txt")
    out = tmp_path / "deep" / "a" / "OUT"
    (out / "audio").mkdir(parents=True)
    os.symlink(tmp_path / "deep" / "a" / "canary.wav", out / "audio" / "1001.wav")  # an output that is a link
    _prepare_touching_nothing_outside(tmp_path, out, ["prepare", "flickr", "--archive", str(archive), "--out", str(out)], capsys)
    assert _bad_kinds(out) == {BAD_IDS[k]: BAD_KINDS[k] for k in BAD_IDS}
    assert (out / "Annotations" / "1001.xml").read_bytes() == (tmp_path / "deep" / "b" / "canary.xml").read_bytes()
    assert (out / "audio" / "1001.wav").read_bytes() == (data / "1001.wav").read_bytes()
    ds = load_dataset("flickr249", out, skip_bad=True)
    assert [s.id for s in ds] == ids[:4]


# -- VGG-SS -----------------------------------------------------------------------------------------
def test_vggss_symlinks_of_every_kind_touch_nothing_outside_out(tmp_path, capsys):
    pytest.importorskip("av", reason="PyAV is not installed: pip install -e '.[video]'")
    from vssleval.data.synthetic import synth

    made = synth("vggss", 2, 0, tmp_path / "made", as_videos=True, container="mkv")
    records = json.loads((made / "vggss.json").read_text())
    clips = sorted(made.glob("*.mkv"))
    ids = {"rel": "relclipAAAA_000001", "abs": "absclipBBBB_000002", "folder": "fldclipCCCC_000003",
           "canary": "canaryDDDDD_000004", **{k: f"{k}XXXXXXXXXX_0000{i}" for i, k in enumerate(BAD_IDS, 5)}}
    ann = [{**records[0], "file": i} for i in ids.values()]
    _canaries(tmp_path, ann, {"x": list(ids.values())})
    videos = tmp_path / "deep" / "b" / "videos"
    store = tmp_path / "store"
    store.mkdir()
    shutil.copy(clips[0], tmp_path / "deep" / "b" / "clip.mkv")
    shutil.copy(clips[1], store / f"{ids['abs']}.mkv")
    (tmp_path / "store2").mkdir()
    shutil.copy(clips[0], tmp_path / "store2" / f"{ids['folder']}.mkv")
    (videos / "class1").mkdir(parents=True)
    os.symlink("../../clip.mkv", videos / "class1" / f"{ids['rel']}.mkv")  # relative, from a class folder
    os.symlink(store / f"{ids['abs']}.mkv", videos / f"{ids['abs']}.mkv")  # absolute
    os.symlink(tmp_path / "store2", videos / "class2")  # a symlinked class folder
    os.symlink("..", videos / "class1" / "loop")  # a folder loop
    os.symlink(tmp_path / "deep" / "a" / "canary.jpg", videos / f"{ids['canary']}.mkv")  # not a video
    _hostile_links(videos, ".mkv", {k: ids[k] for k in BAD_IDS}, tmp_path)
    os.symlink("../canary.json", videos / "vggss.json")  # the finding: a relative annotation link
    os.symlink("../canary_dict.json", videos / "vggss_class_files_dict.json")
    out = tmp_path / "deep" / "a" / "OUT"
    _prepare_touching_nothing_outside(tmp_path, out, ["prepare", "vggss", "--videos", str(videos), "--out", str(out)], capsys)
    # FFmpeg opens the JPEG behind the canary link as a one-frame video without sound
    want = {ids[k]: BAD_KINDS[k] for k in BAD_IDS} | {ids["canary"]: "no_audio"}
    assert _bad_kinds(out) == want
    assert (out / "vggss.json").read_bytes() == (tmp_path / "deep" / "b" / "canary.json").read_bytes()
    ds = load_dataset("vggss", out, skip_bad=True)
    assert [s.id for s in ds] == [ids["rel"], ids["abs"], ids["folder"]]


# -- what is trusted in --out, and what is refused ---------------------------------------------------
def _is3_release(root: Path, names: list[str]) -> Path:
    """A small IS3 release: visual_frames/, audio_wav/, IS3_annotation.json with gt_box values."""
    for n in names:
        write_jpg(root / "visual_frames" / f"{n}.jpg", 224, 224)
        write_wav(root / "audio_wav" / f"{n}.wav")
    write_json(root / "IS3_annotation.json", [{"image": f"/x/{n}.jpg", "audio": f"/x/{n}.wav",
                                               "gt_box": [1, 2, 100, 120], "class": "c"} for n in names])
    return root


def test_empty_or_linked_existing_outputs_are_prepared_again(tmp_path):
    """The finding: an existing 0-byte frame counted as already present. Only a non-empty regular
    file is trusted; a 0-byte file, a link or a folder-free dangling link is written afresh."""
    from vssleval.data.prepare import prepare_is3

    names = ["s_a", "s_b", "s_c", "s_d"]
    src = _is3_release(tmp_path / "IS3", names)
    out = tmp_path / "OUT"
    assert prepare_is3(src, out, progress=False).counts["prepared"] == 4
    (out / "images" / "s_a.jpg").write_bytes(b"")  # an empty frame (a disk that filled up, a crash)
    canary = write_wav(tmp_path / "canary.wav")
    os.chmod(canary, 0o600)
    (out / "audio_wav" / "s_b.wav").unlink()
    os.symlink(canary, out / "audio_wav" / "s_b.wav")  # a link where an output goes
    (out / "images" / "s_c.jpg").unlink()
    os.symlink(tmp_path / "nowhere.jpg", out / "images" / "s_c.jpg")  # a dangling one
    stamp = os.stat(canary)
    again = prepare_is3(src, out, progress=False)
    assert again.counts == {"prepared": 3, "present": 1, "missing": 0, "bad": 0}
    _assert_fresh_outputs(out)
    for n in names:
        assert (out / "images" / f"{n}.jpg").read_bytes() == (src / "visual_frames" / f"{n}.jpg").read_bytes()
        assert (out / "audio_wav" / f"{n}.wav").read_bytes() == (src / "audio_wav" / f"{n}.wav").read_bytes()
    after = os.stat(canary)
    assert (after.st_mode, after.st_mtime_ns, after.st_nlink) == (stamp.st_mode, stamp.st_mtime_ns, stamp.st_nlink)


def test_a_media_folder_that_links_outside_out_is_refused(tmp_path, capsys):
    src = _is3_release(tmp_path / "IS3", ["s_a", "s_b"])
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = tmp_path / "OUT"
    out.mkdir()
    os.symlink(elsewhere, out / "images")
    assert cli.main(["prepare", "is3", "--src", str(src), "--out", str(out), "--no-progress"]) == 2
    err = capsys.readouterr().err
    assert f"{out / 'images'} is a symlink" in err and "Traceback" not in err
    assert list(elsewhere.iterdir()) == []


def test_an_output_folder_in_the_place_of_a_file_is_a_bad_record(tmp_path):
    """A folder where an output file goes is the user's: never removed; that record is bad, the
    others are prepared."""
    from vssleval.data.prepare import prepare_is3

    src = _is3_release(tmp_path / "IS3", ["s_a", "s_b"])
    out = tmp_path / "OUT"
    (out / "images" / "s_a.jpg").mkdir(parents=True)
    (out / "images" / "s_a.jpg" / "keep.txt").write_text("mine")
    summary = prepare_is3(src, out, progress=False)
    assert [(o.id, o.status, o.kind) for o in summary.outcomes] == [("s_a", "bad", "unwritable_output"),
                                                                    ("s_b", "prepared", "")]
    assert (out / "images" / "s_a.jpg" / "keep.txt").read_text() == "mine"
    _assert_fresh_outputs(out)


@pytest.mark.parametrize("where", ["same", "inside"])
def test_a_source_that_is_or_lies_in_the_output_is_refused(tmp_path, capsys, where):
    """--src == --out would overwrite the release's own annotation list; a source inside a media
    folder of --out would have its files replaced by prepared ones."""
    src = _is3_release(tmp_path / "IS3", ["s_a", "s_b"])
    original = (src / "IS3_annotation.json").read_bytes()
    out = src if where == "same" else tmp_path
    if where == "inside":
        shutil.move(str(src), str(tmp_path / "images"))
        src = tmp_path / "images"
    assert cli.main(["prepare", "is3", "--src", str(src), "--out", str(out), "--no-progress"]) == 2
    assert "--src" in capsys.readouterr().err
    assert (src / "IS3_annotation.json").read_bytes() == original


def test_out_inside_the_source_does_not_read_its_own_outputs(tmp_path):
    """--out inside the download: the search of the download skips the output folders, so prepared
    frames are never taken for sources (the run is the same twice)."""
    from vssleval.data.prepare import prepare_is3

    src = _is3_release(tmp_path / "IS3", ["s_a", "s_b"])
    out = src / "prepared"
    first = prepare_is3(src, out, progress=False)
    (src / "visual_frames" / "s_a.jpg").unlink()  # now only the prepared copy holds this picture
    (out / "images" / "s_a.jpg").write_bytes(b"")  # and it is empty: it must not be its own source
    second = prepare_is3(src, out, progress=False)
    assert first.counts["prepared"] == 2
    assert [(o.id, o.status) for o in second.outcomes] == [("s_a", "missing"), ("s_b", "present")]


@pytest.mark.slow  # a subprocess importing torch
def test_full_disk_advice_names_the_prepare_command_not_resume(tmp_path):
    """The finding: prepare's disk-full message advised --resume, which prepare lacks. A real
    process under ``ulimit -f``: one line, the right advice, no traceback, no temp file."""
    import resource
    import subprocess
    import sys

    src = _is3_release(tmp_path / "IS3", ["s_a", "s_b"])
    out = tmp_path / "OUT"
    limit = 4096  # below every wav and frame of the release

    def small_files():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    proc = subprocess.run([sys.executable, "-m", "vssleval", "prepare", "is3", "--src", str(src), "--out", str(out),
                           "--no-progress"], capture_output=True, text=True, preexec_fn=small_files, timeout=shared.HANG_S,
                          cwd=Path(__file__).resolve().parents[2],
                          env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr and "file size limit" in proc.stderr
    assert "run the same prepare command again; finished files are kept" in proc.stderr
    assert "--resume" not in proc.stderr
    assert not [p for p in out.rglob("*") if p.name.endswith(".tmp")]


def test_the_no_room_error_keeps_its_advice_across_processes():
    """``--workers N``: the error is pickled back from a worker with both of its parts."""
    import pickle

    from vssleval.data.prepare.common import PREPARE_AGAIN
    from vssleval.io_utils import NoRoomError

    err = NoRoomError("cannot write x: the disk is full.").advise(PREPARE_AGAIN)
    back = pickle.loads(pickle.dumps(err))
    assert isinstance(back, NoRoomError) and str(back) == str(err) and PREPARE_AGAIN in str(back)


# -- hostile cases beyond the findings -----------------------------------------------------------------
def test_names_one_file_system_would_merge_are_refused_there(tmp_path, monkeypatch):
    """On a file system that ignores case and Unicode normalisation (macOS, Windows), ``Ab_c`` and
    ``ab_c`` — or the NFC and NFD spellings of ``é`` — are one file: the second record is refused
    instead of overwriting the first's frame. (Simulated: this machine's probe is replaced.)"""
    import unicodedata

    from vssleval.data.prepare import place, prepare_is3

    nfc = unicodedata.normalize("NFC", "caf\u00e9_x")
    names = ["Ab_c", "ab_c", nfc, unicodedata.normalize("NFD", nfc)]
    src = _is3_release(tmp_path / "IS3", names)
    monkeypatch.setattr(place, "fs_folding", lambda folder: (True, True))
    summary = prepare_is3(src, tmp_path / "OUT", progress=False)
    assert [(o.status, o.kind) for o in summary.outcomes] == [("prepared", ""), ("bad", "name_collision"),
                                                              ("prepared", ""), ("bad", "name_collision")]
    assert "'Ab_c'" in summary.outcomes[1].reason


def test_the_folding_probe_tells_what_this_file_system_does_and_leaves_nothing(tmp_path):
    from vssleval.data.checks import fs_folding

    (tmp_path / "Probe").write_text("x")
    case, _ = fs_folding.__wrapped__(str(tmp_path))
    assert case == (tmp_path / "probe").exists()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Probe"]


def test_reader_refuses_two_ids_that_are_one_file(vggss_dir):
    """The reading side of the same trap: ids differing only in case that name one file (a hard
    link stands in for a case-insensitive volume) would score one record on the other's media."""
    from data_helpers import VGGSS_RECORDS

    from vssleval.errors import VsslevalError

    first = VGGSS_RECORDS[0]["file"]
    upper = first.upper()
    for folder, ext in (("frames", ".jpg"), ("audio", ".wav")):
        os.link(vggss_dir / folder / f"{first}{ext}", vggss_dir / folder / f"{upper}{ext}")
    write_json(vggss_dir / "vggss_annotations.json", VGGSS_RECORDS + [{**VGGSS_RECORDS[0], "file": upper}])
    with pytest.raises(VsslevalError, match=f"sample ids '{first}' and '{upper}' name the same file"):
        load_dataset("vggss", vggss_dir)


def test_a_source_that_vanishes_mid_run_is_a_bad_record(tmp_path, monkeypatch):
    """The picture is removed after its checks and before its copy: a bad row, no traceback, no
    half record (the wav alone does not make the record present: it is prepared on the next run)."""
    from vssleval.data.prepare import is3, prepare_is3

    src = _is3_release(tmp_path / "IS3", ["s_a", "s_b"])
    real, vanished = is3.check_audio, []

    def check_then_vanish(name, path):
        real(name, path)
        if name == "s_a" and not vanished:
            (src / "visual_frames" / "s_a.jpg").rename(tmp_path / "away.jpg")
            vanished.append(name)

    monkeypatch.setattr(is3, "check_audio", check_then_vanish)
    out = tmp_path / "OUT"
    summary = prepare_is3(src, out, progress=False)
    assert [(o.id, o.status, o.kind) for o in summary.outcomes] == [("s_a", "bad", "source_vanished"),
                                                                    ("s_b", "prepared", "")]
    _assert_fresh_outputs(out)
    (tmp_path / "away.jpg").rename(src / "visual_frames" / "s_a.jpg")
    assert prepare_is3(src, out, progress=False).counts == {"prepared": 1, "present": 1, "missing": 0, "bad": 0}


def test_a_source_that_cannot_be_opened_is_a_bad_record(tmp_path, monkeypatch):
    """Permission denied on a source wav (root reads anything, so there the refusal is simulated)."""
    from vssleval.data.prepare import place, prepare_is3

    src = _is3_release(tmp_path / "IS3", ["s_a", "s_b"])
    locked = src / "audio_wav" / "s_a.wav"
    os.chmod(locked, 0)
    if os.geteuid() == 0:
        real_open = os.open

        def denied(path, flags, *args, **kwargs):
            if Path(path) == locked:
                raise PermissionError(13, "Permission denied", str(path))
            return real_open(path, flags, *args, **kwargs)

        monkeypatch.setattr(place.os, "open", denied)
    summary = prepare_is3(src, tmp_path / "OUT", progress=False)
    assert [(o.id, o.status, o.kind) for o in summary.outcomes] == [("s_a", "bad", "unreadable_source"),
                                                                    ("s_b", "prepared", "")]


def test_a_folder_named_like_a_temp_file_is_not_removed(tmp_path):
    """Start-up cleanup removes an interrupted run's temporary files, never a folder of that name."""
    from vssleval.data.prepare import prepare_is3

    src = _is3_release(tmp_path / "IS3", ["s_a"])
    keep = tmp_path / "OUT" / "images" / ".mine.jpg.abcdefgh.tmp"
    keep.mkdir(parents=True)
    (tmp_path / "OUT" / "images" / ".s_a.jpg.abcdefgh.tmp").write_bytes(b"half")
    assert prepare_is3(src, tmp_path / "OUT", progress=False).counts["prepared"] == 1
    assert keep.is_dir() and not (tmp_path / "OUT" / "images" / ".s_a.jpg.abcdefgh.tmp").exists()


@pytest.mark.parametrize("what", ["folder", "fifo", "missing"])
def test_an_annotation_that_is_not_a_file_is_named(tmp_path, capsys, what):
    given = tmp_path / "vggss.json"
    {"folder": given.mkdir, "fifo": lambda: os.mkfifo(given), "missing": lambda: None}[what]()
    (tmp_path / "videos").mkdir()
    argv = ["prepare", "flickr", "--archive", str(tmp_path / "videos"), "--test-list", str(given),
            "--out", str(tmp_path / "OUT")]
    assert cli.main(argv) == 2
    err = capsys.readouterr().err
    want = {"folder": "a folder is where a file is expected", "fifo": "a FIFO (named pipe)",
            "missing": "does not exist"}
    assert f"--test-list {given}" in err and want[what] in err


def test_an_empty_image_name_is_a_bad_record_not_an_escape(tmp_path):
    from vssleval.data.prepare import prepare_is3

    src = _is3_release(tmp_path / "IS3", ["s_a"])
    records = json.loads((src / "IS3_annotation.json").read_text())
    write_json(src / "IS3_annotation.json", records + [{"image": "", "audio": "", "gt_box": [1, 2, 3, 4]}])
    summary = prepare_is3(src, tmp_path / "OUT", progress=False)
    assert [(o.status, o.kind) for o in summary.outcomes] == [("prepared", ""), ("bad", "bad_record")]


def test_lists_that_are_not_utf8_csv_are_one_line_errors(tmp_path, capsys):
    (tmp_path / "Annotations").mkdir()
    for content in (b"\xe9\xff,0\n", b"x" * 200_000 + b",0\n"):
        (tmp_path / "flickr_test.csv").write_bytes(content)
        assert cli.main(["datasets", "flickr", "--data-dir", str(tmp_path)]) == 2
        err = capsys.readouterr().err
        assert "flickr_test.csv" in err and "UTF-8 CSV" in err and "Traceback" not in err


def test_a_dangling_clip_beside_a_real_one_does_not_hide_it(tmp_path):
    """Same name in two class folders: the readable file is chosen, the dangling link is passed over."""
    from vssleval.data.prepare.clips import find_clip, index_files

    (tmp_path / "a").mkdir()
    (tmp_path / "b").mkdir()
    os.symlink(tmp_path / "gone.mp4", tmp_path / "a" / "abcdefghijk_000001.mp4")
    (tmp_path / "b" / "abcdefghijk_000001.mkv").write_bytes(b"x")
    assert find_clip(index_files(tmp_path, (".mp4", ".mkv")), "abcdefghijk_000001") == \
        tmp_path / "b" / "abcdefghijk_000001.mkv"
