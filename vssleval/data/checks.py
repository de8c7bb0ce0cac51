"""File checks for dataset samples, and the record of skipped samples.

A reader never substitutes another sample for a bad one (one reference implementation silently
returns a random other sample on any error). A bad sample is either a :class:`BadSampleError` that
stops the run, or — with ``skip_bad=True`` — a :class:`Skip` in :class:`SkipLog` that the caller
writes to the run's outputs.
"""

from __future__ import annotations

import struct
from dataclasses import asdict, dataclass, field
from pathlib import Path

import soundfile as sf
from PIL import Image

from vssleval.errors import BadSampleError


@dataclass(frozen=True)
class Skip:
    """One skipped sample: its id, the offending file and why."""

    id: str
    path: str
    reason: str

    def as_dict(self) -> dict[str, str]:
        return asdict(self)


@dataclass
class SkipLog:
    """Collects bad samples: raises them unless ``skip_bad``, in which case it records them."""

    skip_bad: bool = False
    skips: list[Skip] = field(default_factory=list)

    def bad(self, error: BadSampleError) -> None:
        """Handle one bad sample: raise ``error``, or record it when skipping is allowed."""
        if not self.skip_bad:
            raise error
        self.skips.append(Skip(error.sample_id, error.path, error.reason))


def _wav_declared_data_bytes(path: Path) -> tuple[int, int] | None:
    """For a RIFF/WAVE file: (declared size of the ``data`` chunk, bytes actually present after it).

    libsndfile quietly shortens a truncated file to what is there, so truncation is detected here by
    comparing the header's promise with the file size. Returns None for non-RIFF files.
    """
    size = path.stat().st_size
    with open(path, "rb") as fh:
        head = fh.read(12)
        if len(head) < 12 or head[:4] != b"RIFF" or head[8:12] != b"WAVE":
            return None
        pos = 12
        while pos + 8 <= size:
            fh.seek(pos)
            chunk = fh.read(8)
            if len(chunk) < 8:
                return None
            cid, clen = chunk[:4], struct.unpack("<I", chunk[4:])[0]
            if cid == b"data":
                return clen, size - (pos + 8)
            pos += 8 + clen + (clen & 1)  # chunks are word-aligned
    return None


def check_audio(sample_id: str, path: Path) -> None:
    """Raise :class:`BadSampleError` unless ``path`` is a readable, non-empty, complete audio file."""
    if not path.is_file():
        raise BadSampleError(sample_id, path, "audio file is missing",
                             "Put the wav there, or remove the record from the annotation file (or use --skip-bad)")
    try:
        info = sf.info(str(path))
    except Exception as exc:  # libsndfile raises several types for unreadable headers
        raise BadSampleError(sample_id, path, f"audio file is unreadable ({exc})",
                             "Re-extract or re-download this wav (16-bit PCM wav is expected)") from exc
    if info.frames <= 0:
        raise BadSampleError(sample_id, path, "audio file has zero length",
                             "Re-extract this clip; an empty wav cannot be evaluated")
    riff = _wav_declared_data_bytes(path)
    if riff is not None and riff[0] > riff[1] and riff[0] != 0xFFFFFFFF:  # 0xFFFFFFFF: streamed, size unknown
        raise BadSampleError(sample_id, path,
                             f"audio file is truncated (header promises {riff[0]} data bytes, {riff[1]} present)",
                             "Re-extract or re-download this wav")


def check_image(sample_id: str, path: Path) -> None:
    """Raise :class:`BadSampleError` unless ``path`` is an image that decodes completely."""
    if not path.is_file():
        raise BadSampleError(sample_id, path, "image file is missing",
                             "Put the frame there, or remove the record from the annotation file (or use --skip-bad)")
    try:
        with Image.open(path) as im:
            im.load()  # a full decode: verify() does not notice a truncated JPEG
    except Exception as exc:
        raise BadSampleError(sample_id, path, f"image file is unreadable or truncated ({exc})",
                             "Re-extract or re-download this frame") from exc


def check_sample_files(sample_id: str, image_path: Path, audio_path: Path) -> None:
    """Both checks above; the image first (so a missing frame is reported before its audio)."""
    check_image(sample_id, image_path)
    check_audio(sample_id, audio_path)
