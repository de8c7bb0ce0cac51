"""``vssleval prepare vggss`` on clips made here: synthetic videos -> folder -> evaluate, each bad
clip, the clip spellings, and resume after a kill. Needs PyAV (the ``video`` extra)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from fractions import Fraction
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from PIL import Image

av = pytest.importorskip("av", reason="PyAV is not installed: pip install -e '.[video]' (or pip install av)")

import shared  # noqa: E402
from vssleval import cli  # noqa: E402
from vssleval.data import load_dataset  # noqa: E402
from vssleval.data.prepare import prepare_vggss  # noqa: E402
from vssleval.data.prepare.clips import clip_names, find_clip, index_files, read_clip  # noqa: E402
from vssleval.data.synthetic import synth  # noqa: E402
from vssleval.data.synthetic.video import SHIFT_PX  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
N = 4


@pytest.fixture(scope="module")
def originals(tmp_path_factory) -> Path:
    """The synthetic VGG-SS folder the videos are made from (same n and seed)."""
    return synth("vggss", N, 0, tmp_path_factory.mktemp("orig") / "d")


@pytest.fixture(scope="module")
def folders(tmp_path_factory):
    """``folders(container)`` -> (prepared folder, summary) from synthetic clips in that container
    (made once per module; the clips are in the prepared folder's sibling ``videos``)."""
    made = {}

    def get(container: str):
        if container not in made:
            base = tmp_path_factory.mktemp(container)
            videos = synth("vggss", N, 0, base / "videos", as_videos=True, container=container)
            made[container] = base / "data", prepare_vggss(videos, base / "data", progress=False)
        return made[container]

    return get


CONTAINERS = pytest.mark.parametrize("container", ["mkv", "mp4"])


def _rgb(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB")).astype(np.int64)


@CONTAINERS
def test_prepared_frames_are_the_middle_frame_within_codec_tolerance(originals, folders, container):
    data, summary = folders(container)
    assert summary.counts == {"prepared": N, "present": 0, "missing": 0, "bad": 0} and summary.exit_code == 0
    for jpg in sorted((originals / "frames").glob("*.jpg")):
        want, got = _rgb(jpg), _rgb(data / "frames" / jpg.name)
        assert got.shape == want.shape
        err = np.abs(got - want).mean()
        # measured (docs/datasets.md §10.6): mean 1.9-4.8, max <= 49 after H.264 (crf 10, 4:2:0) + JPEG q95
        assert err < 6.0, (jpg.stem, err)
        for step in (-1, 1):  # the neighbouring frames are the picture shifted by SHIFT_PX: much further away
            neighbour = np.roll(want, step * SHIFT_PX, axis=1)
            assert np.abs(got - neighbour).mean() > 2 * err, (jpg.stem, step)


@CONTAINERS
def test_prepared_audio_equals_the_original_within_codec_tolerance(originals, folders, container):
    data, _ = folders(container)
    for wav in sorted((originals / "audio").glob("*.wav")):
        want, sr_want = sf.read(wav, dtype="int16")
        got, sr = sf.read(data / "audio" / wav.name, dtype="int16")
        assert sr == sr_want == 16000 and len(got) == len(want) == 160000
        diff = np.abs(got.astype(np.float64) - want) / 32768
        if container == "mkv":  # FLAC is lossless and the 16-bit samples come back unchanged
            assert diff.max() == 0.0
        else:  # AAC, docs/datasets.md §10.6: RMS error at most 0.022 over 20 records (0.003-0.004 here)
            assert np.sqrt(np.mean(diff**2)) < 0.03, wav.stem


def test_prepared_folder_reads_and_evaluates(folders, tmp_path, capsys):
    data, _ = folders("mp4")
    assert cli.main(["datasets", "vggss", "--data-dir", str(data)]) == 0
    assert f"coverage: {N} of {N} records have media ({N} usable)" in capsys.readouterr().out
    out = tmp_path / "run"
    assert cli.main(["evaluate", "--model", "synth-ezvsl", "--dataset", "vggss", "--data-dir", str(data),
                     "--limit", "3", "--seeds", "1", "--bootstrap", "0", "--out", str(out)]) == 0
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["n_samples"] == 3 and 0.0 <= metrics["ciou"] <= 1.0


def test_coverage_counts_records_without_media(folders, tmp_path, capsys):
    data, _ = folders("mp4")
    partial = tmp_path / "partial"
    partial.mkdir()
    for name in ("vggss_annotations.json", "vggss_class_files_dict.json"):
        (partial / name).write_bytes((data / name).read_bytes())
    records = json.loads((data / "vggss_annotations.json").read_text())
    for folder, ext in (("frames", ".jpg"), ("audio", ".wav")):
        (partial / folder).mkdir()
        for r in records[:3]:
            (partial / folder / f"{r['file']}{ext}").write_bytes((data / folder / f"{r['file']}{ext}").read_bytes())
    ds = load_dataset("vggss", partial, skip_bad=True)
    assert ds.coverage() == {"records": N, "with_media": 3, "usable": 3}
    assert cli.main(["datasets", "vggss", "--data-dir", str(partial)]) == 1
    assert f"coverage: 3 of {N} records have media (3 usable)" in capsys.readouterr().out


# -- clips made here, one problem each ---------------------------------------------------------------
SR = 16000


def _write_clip(path: Path, seconds: float = 10.0, fps: int = 25, channels: int = 1, audio: bool = True,
                vfr: bool = False, container: str = "matroska") -> Path:
    """A small test clip: grey frames whose brightness is the frame index, a 440-Hz tone (FLAC, or AAC
    in mp4) on every channel."""
    with av.open(str(path), "w", format=container) as out:
        vs = out.add_stream("libx264", rate=fps)
        vs.width = vs.height = 64
        vs.pix_fmt = "yuv420p"
        layout = {1: "mono", 2: "stereo", 6: "5.1"}[channels]
        acodec = "aac" if container == "mp4" else "flac"
        astream = out.add_stream(acodec, rate=SR, layout=layout) if audio else None
        t = 0
        for i in range(int(seconds * fps)):
            frame = av.VideoFrame.from_ndarray(np.full((64, 64, 3), i % 250, np.uint8), format="rgb24")
            if vfr:  # 20 ms and 60 ms frames alternating: 25 fps on average, never constant
                frame.pts, frame.time_base = t, Fraction(1, 1000)
                t += 20 if i % 2 else 60
            out.mux(vs.encode(frame))
        out.mux(vs.encode(None))
        if astream is not None:
            n = int(seconds * SR)
            tone = (0.3 * np.sin(2 * np.pi * 440 * np.arange(n) / SR) * 32767).astype(np.int16)
            resampler = av.AudioResampler(format=astream.codec_context.format.name, layout=layout, rate=SR)
            step = 1024
            for start in range(0, n, step):
                chunk = np.repeat(tone[None, start:start + step], channels, axis=0).T.reshape(1, -1)
                frame = av.AudioFrame.from_ndarray(np.ascontiguousarray(chunk), format="s16", layout=layout)
                frame.sample_rate, frame.pts = SR, start
                for f in resampler.resample(frame):
                    out.mux(astream.encode(f))
            out.mux(astream.encode(None))
    return path


def test_a_good_test_clip_reads(tmp_path):
    media = read_clip(_write_clip(tmp_path / "ok.mkv", channels=2))
    assert media.frame_time == 5.0 and media.frame.shape == (64, 64, 3)
    assert abs(int(media.frame.mean()) - 125) <= 2  # frame 125 of 25 fps is shown at 5 s
    assert media.audio.shape == (160000,) and media.channels == 2
    assert np.abs(media.audio - 0.3 * np.sin(2 * np.pi * 440 * np.arange(160000) / SR)).max() < 1e-3


def _truncated(path: Path) -> Path:
    data = path.read_bytes()
    path.write_bytes(data[: int(len(data) * 0.6)])
    return path


BAD_CLIPS = {
    "garbage": (lambda p: (p.write_bytes(b"not a video at all" * 100), p)[1], "unreadable_clip"),
    "empty": (lambda p: (p.write_bytes(b""), p)[1], "unreadable_clip"),
    "truncated_mkv": (lambda p: _truncated(_write_clip(p)), "truncated_clip"),
    "truncated_mp4": (lambda p: _truncated(_write_clip(p.with_suffix(".mp4"), container="mp4")), "unreadable_clip"),
    "no_audio": (lambda p: _write_clip(p, audio=False), "no_audio"),
    "short": (lambda p: _write_clip(p, seconds=4.0), "short_clip"),
    "vfr": (lambda p: _write_clip(p, vfr=True), "variable_frame_rate"),
    "surround": (lambda p: _write_clip(p, channels=6), "multichannel_audio"),
}


@pytest.mark.parametrize("case", sorted(BAD_CLIPS))
def test_each_bad_clip_is_a_named_entry_never_a_crash(case, tmp_path, capsys):
    """One good clip, one bad clip, one id with no clip: 1 prepared, 1 in bad.csv, 1 in missing.csv,
    exit 1; the bad record gets no frame and no wav."""
    make, kind = BAD_CLIPS[case]
    videos = tmp_path / "videos"
    videos.mkdir()
    good, bad, absent = "goodclipAAA_000010", "badclipBBBB_000020", "noclipCCCCC_000030"
    _write_clip(videos / f"{good}.mkv")
    made = make(videos / f"{bad}.mkv")
    records = [{"file": i, "class": "x", "bbox": [[0.1, 0.1, 0.5, 0.5]]} for i in (good, bad, absent)]
    (videos / "vggss.json").write_text(json.dumps(records))
    out = tmp_path / "data"
    code = cli.main(["prepare", "vggss", "--videos", str(videos), "--out", str(out), "--no-progress"])
    text = capsys.readouterr().out
    assert code == 1
    assert "prepared                1" in text and f"({kind} 1)" in text and "(missing_clip 1)" in text
    bad_rows = (out / "bad.csv").read_text().splitlines()
    assert bad_rows[0] == "id,kind,path,reason" and bad_rows[1].startswith(f"{bad},{kind},{made}")
    missing_rows = (out / "missing.csv").read_text().splitlines()
    assert len(missing_rows) == 2 and missing_rows[1].startswith(f"{absent},missing_clip,")
    assert sorted(p.name for p in (out / "frames").iterdir()) == [f"{good}.jpg"]
    assert sorted(p.name for p in (out / "audio").iterdir()) == [f"{good}.wav"]


def test_missing_clips_alone_exit_0(tmp_path, capsys):
    videos = tmp_path / "videos"
    videos.mkdir()
    _write_clip(videos / "goodclipAAA_10.mkv")  # the unpadded spelling of goodclipAAA_000010
    records = [{"file": i, "class": "x", "bbox": []} for i in ("goodclipAAA_000010", "noclipCCCCC_000030")]
    (tmp_path / "vggss.json").write_text(json.dumps(records))
    out = tmp_path / "data"
    assert cli.main(["prepare", "vggss", "--videos", str(videos), "--annotation", str(tmp_path / "vggss.json"),
                     "--out", str(out), "--no-progress"]) == 0
    assert (out / "frames" / "goodclipAAA_000010.jpg").is_file() and (out / "vggss.json").is_file()
    assert "missing input           1" in capsys.readouterr().out


def test_clip_spellings_and_preference(tmp_path):
    assert clip_names("zpWuikVorYg_000032") == ["zpWuikVorYg_000032", "zpWuikVorYg_32", "zpWuikVorYg_32000_42000"]
    assert clip_names("a_b-c_d_000000") == ["a_b-c_d_000000", "a_b-c_d_0", "a_b-c_d_0_10000"]
    for rel in ("cls1/zpWuikVorYg_32.webm", "cls2/zpWuikVorYg_32.mp4", "x/gEvCUcZ6w88_30000_40000.mkv",
                "x/gEvCUcZ6w88_000030.txt"):
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_bytes(b"")
    index = index_files(tmp_path, (".mp4", ".mkv", ".webm"))
    assert find_clip(index, "zpWuikVorYg_000032") == tmp_path / "cls2/zpWuikVorYg_32.mp4"  # mp4 before webm
    assert find_clip(index, "gEvCUcZ6w88_000030") == tmp_path / "x/gEvCUcZ6w88_30000_40000.mkv"
    assert find_clip(index, "MKC9LvRivTM_000030") is None


def _eight_clips(folders, videos: Path) -> Path:
    """A clip folder of 8 records, each of the module's N = 4 mkv clips under its own id and under a
    second id (the number + 500), with its ``vggss.json``: eight records to prepare without encoding
    eight more videos (0.7 CPU-second a clip)."""
    source = folders("mkv")[0].parent / "videos"
    records = json.loads((source / "vggss.json").read_text())
    videos.mkdir()
    out = []
    for r in records:
        twin = f"{r['file'][:-6]}{int(r['file'][-6:]) + 500:06d}"
        for clip_id in (r["file"], twin):
            (videos / f"{clip_id}.mkv").symlink_to(source / f"{r['file']}.mkv")
            out.append({**r, "file": clip_id})
    (videos / "vggss.json").write_text(json.dumps(out))
    assert len({r["file"] for r in out}) == 8
    return videos


@pytest.mark.slow  # a subprocess
def test_resume_after_kill_skips_finished_ids_without_rewriting(tmp_path, folders):
    videos = _eight_clips(folders, tmp_path / "videos")
    out = tmp_path / "data"
    cmd = [sys.executable, "-m", "vssleval", "prepare", "vggss", "--videos", str(videos), "--out", str(out),
           "--no-progress"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + shared.HANG_S  # a hang guard: the first record's time is no verdict
    while time.monotonic() < deadline and proc.poll() is None and not list((out / "frames").glob("*.jpg")):
        time.sleep(0.02)
    if proc.poll() is None:
        proc.send_signal(signal.SIGKILL)
    proc.wait()
    before = {p: (p.stat().st_ino, p.stat().st_mtime_ns) for d in ("frames", "audio") for p in (out / d).glob("*")}
    finished = {p.stem for p in (out / "frames").glob("*.jpg")}
    assert finished, "the first run was killed before it finished a record"
    summary = prepare_vggss(videos, out, progress=False)
    assert summary.counts["present"] == len(finished) and summary.counts["prepared"] == 8 - len(finished)
    for p, stamp in before.items():
        if p.name.startswith("."):
            assert not p.exists()  # a temporary file of the killed run is removed
        elif p.stem in finished:
            assert (p.stat().st_ino, p.stat().st_mtime_ns) == stamp  # not rewritten
    assert len(list((out / "frames").iterdir())) == len(list((out / "audio").iterdir())) == 8
    assert load_dataset("vggss", out).coverage() == {"records": 8, "with_media": 8, "usable": 8}


@pytest.mark.slow  # worker processes
def test_parallel_workers_give_the_same_files(tmp_path, folders):
    one, summary = folders("mkv")  # prepared by one worker, from the module's mkv clips
    two = prepare_vggss(one.parent / "videos", tmp_path / "two", workers=2, progress=False)
    assert [o.id for o in summary.outcomes] == [o.id for o in two.outcomes]
    for folder in ("frames", "audio"):
        names = sorted(p.name for p in (one / folder).iterdir())
        assert len(names) == N and names == sorted(p.name for p in (tmp_path / "two" / folder).iterdir())
        for name in names:
            assert (one / folder / name).read_bytes() == (tmp_path / "two" / folder / name).read_bytes()
