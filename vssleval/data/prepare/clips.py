"""Finding a VGG-Sound clip on disk and reading its annotated frame and audio window (PyAV).

What is read, and why (docs/datasets.md §10.1):

* the **frame shown at the middle of the window** — at ``window_s / 2`` = 5 s after the first video
  frame for the 10-s window: the frame whose display interval ``[pts_i, pts_{i+1})`` contains that
  time. VGG-SS boxes annotate the middle frame of each 10-s clip;
* the **first ``window_s`` seconds of audio**, channels averaged to mono and resampled to
  ``sample_rate`` (16 kHz): the published pipelines read the whole 10-s clip and each model crops
  its own window from it.

A clip that cannot give exactly this is refused with a :class:`ClipError` whose ``kind`` names the
problem; nothing is ever padded, looped or taken from another frame to fill the gap.
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Iterable, Iterator

import numpy as np

from vssleval.data.audio import resample
from vssleval.data.prepare.place import usable_source
from vssleval.errors import VsslevalError

#: Container extensions searched for a clip, in order of preference when several exist.
VIDEO_EXTS = (".mp4", ".mkv", ".webm")
#: How much a stream may fall short of the window (s): an AAC track loses up to a frame of
#: samples (1024 at 44.1 kHz = 23 ms) to encoder priming; more than this is a short clip.
SHORT_TOLERANCE_S = 0.05
#: Frame durations may jitter by this many time-base ticks (a 30-fps clip in a 1/1000 time base
#: alternates 33 and 34 ms) or by this fraction of the median duration before a clip counts as
#: variable-frame-rate.
VFR_TICKS, VFR_FRACTION = 2, 0.05
#: Most audio channels accepted: mono and stereo are averaged; a surround track has no mono mix
#: the published pipelines agree on (LVS takes channel 0, the EZ-VSL family averages all).
MAX_CHANNELS = 2
_VGGSOUND_ID = re.compile(r"^(?P<yt>.+)_(?P<start>\d+)$")


class ClipError(Exception):
    """A clip that cannot be prepared: ``kind`` (``unreadable_clip``, ``no_video``, ``no_audio``,
    ``short_clip``, ``truncated_clip``, ``variable_frame_rate``, ``multichannel_audio``) and a
    sentence ``reason``."""

    def __init__(self, kind: str, reason: str):
        super().__init__(reason)
        self.kind = kind
        self.reason = reason


def require_av():
    """The ``av`` module (PyAV), or a :class:`VsslevalError` that says how to install it."""
    try:
        import av
    except ImportError as exc:
        raise VsslevalError("reading video clips needs PyAV, which is not installed: run "
                            "`pip install av` (in the repository checkout: `pip install -e '.[video]'`) and try "
                            "again") from exc
    return av


def clip_names(clip_id: str) -> list[str]:
    """File stems that may hold VGG-Sound clip ``clip_id`` (``<ytid>_<start:06d>``), most exact first:
    the id itself, the unpadded ``<ytid>_<start>``, and the ``<ytid>_<start ms>_<end ms>`` form
    (VGG-Sound's own clip list; SSL-Align's ``ours_vggss.txt``)."""
    names = [clip_id]
    m = _VGGSOUND_ID.match(clip_id)
    if m:
        yt, start = m["yt"], int(m["start"])
        names += [f"{yt}_{start}", f"{yt}_{start * 1000}_{(start + 10) * 1000}"]
    return list(dict.fromkeys(names))


def walk_files(root: Path, exclude: Iterable[Path] = ()) -> Iterator[Path]:
    """Every entry under ``root`` that is not a followable folder — regular files, symlinks to files,
    dangling links, link loops, FIFOs — in sorted order, descending into symlinked folders too
    (users' downloads are often symlink farms) but never twice into the same folder (a link loop
    ends) and never into an ``exclude`` folder (prepare's own outputs, when ``--out`` lies inside
    the download). Folders whose names look like files are yielded as well as searched, so that a
    folder where a file is expected is reported, not silently passed over. Unreadable folders are
    skipped."""
    skip = {os.path.realpath(p) for p in exclude}
    seen: set[tuple[int, int]] = set()
    stack = [Path(root)]
    while stack:
        folder = stack.pop()
        try:
            st = os.stat(folder)
        except OSError:
            continue
        if (st.st_dev, st.st_ino) in seen or os.path.realpath(folder) in skip:
            continue
        seen.add((st.st_dev, st.st_ino))
        try:
            with os.scandir(folder) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError:
            continue
        subfolders = []
        for entry in entries:
            try:
                is_dir = entry.is_dir()  # follows links; False for a dangling link or a loop
            except OSError:
                is_dir = False
            path = folder / entry.name
            if is_dir:
                subfolders.append(path)
                if "." in entry.name:
                    yield path
            else:
                yield path
        stack.extend(reversed(subfolders))


def index_files(root: Path, exts: Iterable[str], exclude: Iterable[Path] = ()) -> dict[str, list[Path]]:
    """``{stem: [paths]}`` of every entry under ``root`` (:func:`walk_files`; users keep clips in class
    folders) whose extension, lower-cased, is in ``exts``. Within a stem, entries that can be read
    as files come first (a dangling link or a folder of the same name is kept, last, so a record
    that has only such an entry is reported as unreadable rather than missing); ties break by path,
    the same way on every run."""
    exts = {e.lower() for e in exts}
    out: dict[str, list[Path]] = {}
    for path in walk_files(root, exclude):
        if path.suffix.lower() in exts:
            out.setdefault(path.stem, []).append(path)
    return {stem: sorted(paths, key=lambda p: (not usable_source(p), str(p))) for stem, paths in out.items()}


def find_clip(index: dict[str, list[Path]], clip_id: str) -> Path | None:
    """The clip of ``clip_id`` in an :func:`index_files` index: the first name of :func:`clip_names`
    that exists, and within a name a readable file before an unreadable entry, then the first
    extension of :data:`VIDEO_EXTS`."""
    rank = {e: i for i, e in enumerate(VIDEO_EXTS)}
    for name in clip_names(clip_id):
        paths = index.get(name)
        if paths:
            return min(paths, key=lambda p: (not usable_source(p), rank.get(p.suffix.lower(), len(rank)), str(p)))
    return None


@dataclass
class ClipMedia:
    """What :func:`read_clip` takes from one clip.

    Attributes:
        frame: uint8 ``[H, W, 3]`` RGB, the frame shown at ``frame_time``.
        frame_time: seconds after the first video frame at which ``frame`` is shown (its pts).
        audio: float64 ``[N]`` mono waveform at ``sample_rate``, ``N = window_s * sample_rate``
            (fewer only within :data:`SHORT_TOLERANCE_S`).
        sample_rate: Hz of ``audio``; ``source_rate``/``channels``: the clip's audio track.
    """

    frame: np.ndarray
    frame_time: float
    audio: np.ndarray
    sample_rate: int
    source_rate: int
    channels: int


def _text(exc: Exception) -> str:
    """An FFmpeg error without the file name (the summary names the file already)."""
    return str(getattr(exc, "strerror", None) or exc)


def _seconds(pts, time_base) -> Fraction:
    return Fraction(int(pts)) * Fraction(time_base)


def _check_cfr(times: list[Fraction], time_base) -> None:
    """Refuse a clip whose frame durations vary beyond timestamp rounding (docs/datasets.md §10.2)."""
    if len(times) < 3:
        return
    d = np.diff(np.asarray([float(t) for t in times]))
    med = float(np.median(d))
    spread = float(d.max() - d.min())
    if d.min() <= 0 or spread > max(VFR_TICKS * float(time_base), VFR_FRACTION * med):
        raise ClipError("variable_frame_rate",
                        f"variable frame rate: frame durations range from {d.min() * 1000:.1f} to "
                        f"{d.max() * 1000:.1f} ms, so the frame at the middle of the clip is not well defined")


def _mono(frame, resampler) -> np.ndarray:
    """One decoded audio frame as float64 mono ``[n]``: FFmpeg's exact sample-format conversion to
    planar float (PCM16 / 32768), then the mean of the channels."""
    planes = [f.to_ndarray() for f in resampler.resample(frame)]
    if not planes:
        return np.zeros(0)
    x = np.concatenate(planes, axis=1).astype(np.float64)
    return x.mean(axis=0)


def read_clip(path: str | Path, window_s: float = 10.0, sample_rate: int = 16000) -> ClipMedia:
    """Decode clip ``path`` and return its middle frame and first ``window_s`` s of audio.

    Every frame is decoded (not seeked to), so the frame times, the frame-rate check and a
    truncated stream are all seen.

    Raises:
        ClipError: the clip cannot give the frame or the window (see the class doc for the kinds).
    """
    av = require_av()
    av.logging.set_level(None)  # FFmpeg's own log lines would interleave with the progress bar
    mid = Fraction(window_s) / 2
    try:
        container = av.open(str(path))
    except Exception as exc:  # PyAV raises many types for a file FFmpeg cannot open
        raise ClipError("unreadable_clip", f"cannot open the clip ({_text(exc)})") from exc
    with container:
        if not container.streams.video:
            raise ClipError("no_video", "the clip has no video stream")
        if not container.streams.audio:
            raise ClipError("no_audio", "the clip has no audio stream")
        vstream, astream = container.streams.video[0], container.streams.audio[0]
        channels = astream.codec_context.channels
        if channels > MAX_CHANNELS:
            raise ClipError("multichannel_audio",
                            f"the audio track has {channels} channels ({astream.codec_context.layout.name}); "
                            f"only mono or stereo is averaged to mono")
        declared = Fraction(container.duration, 1_000_000) if container.duration else None
        rate = astream.codec_context.sample_rate
        resampler = av.AudioResampler(format="fltp", layout=astream.codec_context.layout, rate=rate)
        times: list[Fraction] = []
        chosen = None
        audio: list[np.ndarray] = []
        need = int(round(window_s * rate))
        have = 0
        try:
            for packet in container.demux(vstream, astream):
                for frame in packet.decode():
                    if isinstance(frame, av.VideoFrame):
                        if frame.pts is None:
                            continue
                        t = _seconds(frame.pts, frame.time_base)
                        times.append(t)
                        if t - times[0] <= mid:
                            chosen = frame
                    elif have < need:
                        x = _mono(frame, resampler)
                        audio.append(x)
                        have += len(x)
        except Exception as exc:  # a corrupt packet: FFmpegError, or worse from a broken container
            raise ClipError("unreadable_clip", f"decoding failed after {len(times)} video frames ({_text(exc)})") from exc
        if not times or chosen is None:
            raise ClipError("unreadable_clip", "no video frame could be decoded")
        frame_dur = (times[-1] - times[0]) / (len(times) - 1) if len(times) > 1 else Fraction(0)
        video_s = float(times[-1] - times[0] + frame_dur)
        audio_s = have / rate if rate else 0.0
        short = min(video_s, audio_s)
        if short < window_s - SHORT_TOLERANCE_S:
            which = "video" if video_s <= audio_s else "audio"
            if declared is not None and float(declared) >= window_s - SHORT_TOLERANCE_S:
                raise ClipError("truncated_clip",
                                f"the {which} stream ends at {short:.2f} s although the file declares "
                                f"{float(declared):.2f} s: the file is truncated or damaged")
            raise ClipError("short_clip", f"the clip is {short:.2f} s long ({which}); the {window_s:g}-s "
                            f"window is needed (the frame at {float(mid):g} s and {window_s:g} s of audio)")
        _check_cfr(times, vstream.time_base)  # after the length check: a truncated stream also leaves gaps
        rgb = chosen.to_ndarray(format="rgb24")
        wave = np.concatenate(audio)[:need]
        if rate != sample_rate:
            wave = resample(wave, rate, sample_rate)
        return ClipMedia(frame=rgb, frame_time=float(_seconds(chosen.pts, chosen.time_base) - times[0]),
                         audio=np.clip(wave, -1.0, 1.0), sample_rate=sample_rate, source_rate=rate,
                         channels=channels)
