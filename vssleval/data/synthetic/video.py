"""The synthetic VGG-SS benchmark as video clips (``vssleval synth --layout vggss --as-videos``), so
``vssleval prepare vggss`` can be tested end to end on files made here.

Each record becomes ``<id>.<ext>``: ``FPS`` frames per second for the clip's 10 s, and its audio.
Frame ``i`` is the record's picture shifted sideways by ``SHIFT_PX · (i − m)`` pixels (wrapping
around), where ``m`` is the frame shown at 5 s; so only the middle frame equals the picture, and a
preparation that took any other frame would be off by at least ``SHIFT_PX`` pixels everywhere.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import soundfile as sf
from PIL import Image

from vssleval.data.prepare.clips import require_av

FPS = 25
SHIFT_PX = 8
#: container -> (format, video codec, audio codec): AAC in MP4 is what VGG-Sound users hold; FLAC in
#: Matroska keeps the audio lossless (tests compare samples exactly).
FORMATS = {"mp4": ("mp4", "libx264", "aac"), "mkv": ("matroska", "libx264", "flac")}
#: x264 constant-rate factor: near-transparent on the 224-px synthetic pictures (docs/datasets.md §10.6).
CRF = 10


def encode_clip(path: Path, picture: np.ndarray, audio: np.ndarray, sr: int, container: str = "mp4") -> None:
    """Write one clip: ``picture`` (uint8 ``[H, W, 3]``, even H and W) shifted per frame as in the
    module doc, for ``len(audio) / sr`` seconds, with ``audio`` (int16 ``[N]`` mono).

    The clip is exactly as long as the audio (a whole number of frames at ``FPS``).
    """
    av = require_av()
    fmt, vcodec, acodec = FORMATS[container]
    n_frames = int(round(len(audio) / sr * FPS))
    middle = int(round(len(audio) / sr / 2 * FPS))
    with av.open(str(path), "w", format=fmt) as out:
        vstream = out.add_stream(vcodec, rate=FPS)
        vstream.width, vstream.height = picture.shape[1], picture.shape[0]
        vstream.pix_fmt = "yuv420p"
        vstream.options = {"crf": str(CRF)}
        astream = out.add_stream(acodec, rate=sr, layout="mono")
        for i in range(n_frames):
            frame = av.VideoFrame.from_ndarray(np.roll(picture, SHIFT_PX * (i - middle), axis=1), format="rgb24")
            out.mux(vstream.encode(frame))
        out.mux(vstream.encode(None))
        resampler = av.AudioResampler(format=astream.codec_context.format.name, layout="mono", rate=sr)
        step = astream.codec_context.frame_size or 1024
        for start in range(0, len(audio), step):
            chunk = av.AudioFrame.from_ndarray(np.ascontiguousarray(audio[None, start:start + step]),
                                               format="s16", layout="mono")
            chunk.sample_rate, chunk.pts = sr, start
            for converted in resampler.resample(chunk):
                out.mux(astream.encode(converted))
        for converted in resampler.resample(None):
            out.mux(astream.encode(converted))
        out.mux(astream.encode(None))


def write_videos(src: Path, out: Path, container: str = "mp4") -> None:
    """Turn the VGG-SS-layout synthetic folder ``src`` into clips in the new folder ``out``: one
    ``<id>.<container>`` per record plus the annotation files and ``synthetic_info.json``, as a user's
    folder of downloaded clips with the annotation file beside them."""
    out.mkdir(parents=True)
    for name in ("vggss.json", "vggss_annotations.json", "vggss_class_files_dict.json", "synthetic_info.json"):
        shutil.copyfile(src / name, out / name)
    for wav in sorted((src / "audio").glob("*.wav")):
        audio, sr = sf.read(str(wav), dtype="int16")
        with Image.open(src / "frames" / f"{wav.stem}.jpg") as im:
            picture = np.asarray(im.convert("RGB"))
        encode_clip(out / f"{wav.stem}.{container}", picture, audio, sr, container)
