"""File checks for dataset samples, and the record of skipped samples.

A reader never substitutes another sample for a bad one (one reference implementation silently
returns a random other sample on any error). A bad sample is either a :class:`BadSampleError` that
stops the run, or — with ``skip_bad=True`` — a :class:`Skip` in :class:`SkipLog` that the caller
writes to the run's outputs (``skipped.csv``; counts by reason in ``metrics.json``,
docs/datasets.md §8).
"""

from __future__ import annotations

import csv
import functools
import hashlib
import io
import os
import struct
import tempfile
import unicodedata
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import soundfile as sf
from PIL import Image

from vssleval import limits
from vssleval.errors import BadSampleError, VsslevalError

#: Shortest audio file accepted, in seconds (docs/datasets.md §8): a clip shorter than this holds
#: too little sound to localise and would be tiled into a buzz, or scored like silence.
MIN_AUDIO_SECONDS = 0.1
#: Prefix of the skip kinds of offscreen-pool clips (not samples: they do not count in the fraction).
OFFSCREEN_KIND = "offscreen_"
#: Default of ``--max-skip-fraction`` (declared beside its bounds, where the CLI's parser reads it).
DEFAULT_MAX_SKIP_FRACTION = limits.DEFAULT_MAX_SKIP_FRACTION
SKIP_COLUMNS = ("id", "kind", "path", "reason")


@dataclass(frozen=True)
class Skip:
    """One skipped sample: its id, the offending file, why, and the reason's category (``kind``)."""

    id: str
    path: str
    reason: str
    kind: str = "bad_sample"

    def as_dict(self) -> dict[str, str]:
        return asdict(self)

    @property
    def is_sample(self) -> bool:
        """False for an offscreen-pool clip left out of the pool (it is not an evaluated record)."""
        return not self.kind.startswith(OFFSCREEN_KIND)


@dataclass
class SkipLog:
    """Collects bad samples: raises them unless ``skip_bad``, in which case it records them."""

    skip_bad: bool = False
    skips: list[Skip] = field(default_factory=list)

    def bad(self, error: BadSampleError) -> None:
        """Handle one bad sample: raise ``error``, or record it when skipping is allowed."""
        if not self.skip_bad:
            raise error
        self.skips.append(Skip(error.sample_id, error.path, error.reason, getattr(error, "kind", "bad_sample")))


def skips_csv(skips: Iterable[Skip]) -> str:
    """The text of ``skipped.csv``: one row per skip, columns ``id,kind,path,reason``."""
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(SKIP_COLUMNS)
    for s in skips:
        writer.writerow([s.id, s.kind, s.path, s.reason])
    return buf.getvalue()


def skip_summary(skips: Sequence[Skip], kept: int) -> dict:
    """Counts of a dataset's skips, as recorded in the run configuration and ``metrics.json``.

    Args:
        skips: every skip of the load (samples and offscreen-pool clips).
        kept: samples that were loaded.

    Returns:
        ``{"samples": skipped records, "records": kept + skipped records, "offscreen_clips": clips
        left out of the offscreen pool, "by_reason": {kind: count}, "sha256": of skipped.csv}``.
    """
    n = sum(s.is_sample for s in skips)
    by_reason = Counter(s.kind for s in skips)
    return {"samples": n, "records": kept + n, "offscreen_clips": len(skips) - n,
            "by_reason": dict(sorted(by_reason.items(), key=lambda kv: (-kv[1], kv[0]))),
            "sha256": hashlib.sha256(skips_csv(skips).encode("utf-8")).hexdigest()}


def format_skip_counts(summary: dict) -> str:
    """One line: ``3 of 51 records skipped (missing_audio 2, nonfinite_audio 1)`` (+ offscreen clips)."""
    reasons = ", ".join(f"{k} {v}" for k, v in (summary.get("by_reason") or {}).items())
    text = f"{summary['samples']} of {summary['records']} records skipped"
    if summary.get("offscreen_clips"):
        text += f" and {summary['offscreen_clips']} offscreen clip(s) left out of the pool"
    return text + (f" ({reasons})" if reasons else "")


def check_skip_fraction(skips: Sequence[Skip], kept: int, max_fraction: float, what: str) -> None:
    """Refuse a load whose skipped records exceed ``max_fraction`` of its records (``--max-skip-fraction``).

    Raises:
        VsslevalError: with the counts by reason and the first skipped files.
    """
    summary = skip_summary(skips, kept)
    n, total = summary["samples"], summary["records"]
    if total == 0 or n / total <= max_fraction:
        return
    first = [s for s in skips if s.is_sample][:3]
    examples = "; ".join(f"{s.id}: {s.reason} ({s.path})" for s in first) + (" ..." if n > len(first) else "")
    raise VsslevalError(
        f"{what}: --skip-bad would skip {n} of {total} records ({100 * n / total:.1f} %), more than "
        f"--max-skip-fraction {max_fraction:g} ({100 * max_fraction:g} %): {format_skip_counts(summary)}. "
        f"First: {examples}. Check --data-dir (is it the folder that holds the media?); `vssleval datasets "
        f"NAME --data-dir DIR --skips-out FILE` lists every bad record; raise --max-skip-fraction to run anyway.")


def validate_max_skip_fraction(value) -> float:
    """``--max-skip-fraction`` must be a number in [0, 1] (the bound lives in :mod:`vssleval.limits`)."""
    return limits.check("max_skip_fraction", value)


def inside_folder(path: Path, roots: Sequence[Path]) -> bool:
    """True when ``path``, with symlinks resolved, lies inside one of ``roots`` (already resolved)."""
    real = Path(os.path.realpath(path))
    return any(real == r or r in real.parents for r in roots)


def data_roots(root: Path) -> list[Path]:
    """Where the media of a dataset rooted at ``root`` may resolve to (docs/datasets.md §8): the data
    folder with its symlinks resolved, and the target of every folder directly inside it that is a
    symlink (``frames -> /mnt/disk2/frames``)."""
    real = Path(os.path.realpath(root))
    roots = [real]
    try:
        children = list(os.scandir(root))
    except OSError:
        return roots
    for entry in children:
        if entry.is_symlink() and entry.is_dir():
            roots.append(Path(os.path.realpath(entry.path)))
    return roots


#: Used when the file system does not say its limits (``os.pathconf`` unsupported): Linux's values.
FALLBACK_NAME_MAX, FALLBACK_PATH_MAX = 255, 4096


@functools.lru_cache(maxsize=256)
def fs_limits(folder: str) -> tuple[int, int]:
    """``(NAME_MAX, PATH_MAX)`` in bytes of the file system holding ``folder`` (an existing folder):
    ``os.pathconf``'s ``PC_NAME_MAX`` / ``PC_PATH_MAX``, else 255 / 4096."""
    limits_ = []
    for key, fallback in (("PC_NAME_MAX", FALLBACK_NAME_MAX), ("PC_PATH_MAX", FALLBACK_PATH_MAX)):
        try:
            value = os.pathconf(folder, key)
        except (OSError, ValueError, AttributeError):
            value = -1
        limits_.append(value if value and value > 0 else fallback)
    return limits_[0], limits_[1]


def _existing_folder(path: Path) -> str:
    """The nearest folder at or above ``path``'s parent that exists (where its limits are asked)."""
    for parent in (path.parent, *path.parent.parents):
        try:
            if parent.is_dir():
                return str(parent)
        except (OSError, ValueError):
            continue
    return "."


def path_limit_problem(path: Path) -> tuple[str, str] | None:
    """``(kind, reason)`` when ``path`` cannot name a file on this system, else None: a NUL byte or a
    character the file-system encoding cannot hold (``bad_name``), a component longer than the
    folder's ``NAME_MAX`` bytes (``name_too_long``), or the whole path, made absolute, reaching
    ``PATH_MAX`` bytes (``path_too_long``; docs/datasets.md §8). Nothing on disk is touched except
    the ``pathconf`` of an existing ancestor folder."""
    text = str(path)
    if "\x00" in text:
        return "bad_name", "the name holds a NUL byte, which no file name can hold"
    try:
        raw = os.fsencode(text)
    except UnicodeEncodeError as exc:
        return "bad_name", f"the name holds a character the file system cannot store ({exc.reason})"
    name_max, path_max = fs_limits(_existing_folder(Path(text)))
    for part in Path(text).parts:
        size = len(os.fsencode(part))
        if size > name_max:
            return "name_too_long", (f"the file name {part[:40]}... is {size} bytes long; this file system "
                                     f"allows at most {name_max} bytes per name (NAME_MAX)")
    full = len(os.fsencode(os.path.abspath(text))) if not os.path.isabs(text) else len(raw)
    if full >= path_max:
        return "path_too_long", (f"the path is {full} bytes long; this file system allows paths of at most "
                                 f"{path_max - 1} bytes (PATH_MAX)")
    return None


_PROBE = ".vssleval-probe-Ab\u00e9-"


@functools.lru_cache(maxsize=64)
def fs_folding(folder: str) -> tuple[bool, bool]:
    """``(ignores_case, ignores_normalisation)`` of the file system holding the existing, writable
    ``folder`` (macOS and Windows volumes usually ignore letter case; APFS and HFS+ also treat the
    NFC and NFD spellings of a name as one). Probed once with a temporary file, removed at once;
    ``(False, False)`` when the folder cannot be written (nothing is written there either)."""
    try:
        fd, probe = tempfile.mkstemp(prefix=_PROBE, dir=folder)
    except (OSError, ValueError):  # not writable, or a file-system encoding without "é"
        return False, False
    os.close(fd)
    try:
        head, tail = os.path.split(probe)
        rest = tail[len(_PROBE):]
        case = os.path.lexists(os.path.join(head, _PROBE.lower() + rest))
        nfd = unicodedata.normalize("NFD", _PROBE)
        norm = os.path.lexists(os.path.join(head, nfd + rest))
    finally:
        os.unlink(probe)
    return case, norm


def name_key(name: str, case: bool = True, norm: bool = True) -> str:
    """``name`` as a file system that ignores letter case (``case``) and Unicode normalisation
    (``norm``) compares it: two names with the same key may be one file there."""
    key = unicodedata.normalize("NFC", name) if norm else name
    return key.lower() if case else key


def check_path_limits(sample_id: str, path: Path, what: str) -> None:
    """Raise :class:`BadSampleError` when ``path`` (built from a record's id or file name) exceeds the
    file system's limits (:func:`path_limit_problem`), so the record is refused by name instead of an
    ``OSError: File name too long`` at the first access."""
    problem = path_limit_problem(path)
    if problem is not None:
        kind, reason = problem
        raise BadSampleError(sample_id, path, f"{what} path: {reason}",
                             "Shorten or fix this id / file name in the annotation, or remove the record "
                             "(or use --skip-bad)", kind=kind)


def check_inside(sample_id: str, path: Path, root: Path, roots: Sequence[Path], what: str) -> None:
    """Raise :class:`BadSampleError` when ``path`` cannot name a file here (:func:`check_path_limits`)
    or resolves outside the data folder ``root``: the one check every path built from a record
    goes through before any file is opened."""
    check_path_limits(sample_id, path, what)
    if not inside_folder(path, roots):
        raise BadSampleError(sample_id, path,
                             f"{what} path leaves the data folder {root} (it resolves to {os.path.realpath(path)})",
                             "Ids and file names in the annotation must name files inside --data-dir; fix or remove "
                             "this record", kind="path_escape")


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
    """Raise :class:`BadSampleError` unless ``path`` is a readable, complete audio file of at least
    :data:`MIN_AUDIO_SECONDS` whose samples are all finite (docs/datasets.md §8)."""
    if not path.is_file():
        raise BadSampleError(sample_id, path, "audio file is missing",
                             "Put the wav there, or remove the record from the annotation file (or use --skip-bad)",
                             kind="missing_audio")
    try:
        info = sf.info(str(path))
    except Exception as exc:  # libsndfile raises several types for unreadable headers
        raise BadSampleError(sample_id, path, f"audio file is unreadable ({exc})",
                             "Re-extract or re-download this wav (16-bit PCM wav is expected)",
                             kind="unreadable_audio") from exc
    if info.frames <= 0:
        raise BadSampleError(sample_id, path, "audio file has zero length",
                             "Re-extract this clip; an empty wav cannot be evaluated", kind="empty_audio")
    riff = _wav_declared_data_bytes(path)
    if riff is not None and riff[0] > riff[1] and riff[0] != 0xFFFFFFFF:  # 0xFFFFFFFF: streamed, size unknown
        raise BadSampleError(sample_id, path,
                             f"audio file is truncated (header promises {riff[0]} data bytes, {riff[1]} present)",
                             "Re-extract or re-download this wav", kind="truncated_audio")
    if info.frames < MIN_AUDIO_SECONDS * info.samplerate:
        raise BadSampleError(sample_id, path,
                             f"audio file is too short ({info.frames} samples at {info.samplerate} Hz = "
                             f"{info.frames / info.samplerate:.4g} s; the minimum is {MIN_AUDIO_SECONDS} s)",
                             "Re-extract this clip; a clip this short cannot be localised", kind="short_audio")
    if info.subtype in ("FLOAT", "DOUBLE"):  # only float files can hold NaN or inf
        bad = count_nonfinite(path)
        if bad:
            raise BadSampleError(sample_id, path, f"audio file holds {bad} NaN or infinite sample(s)",
                                 "Re-export this clip; non-finite audio cannot be scored", kind="nonfinite_audio")


def count_nonfinite(path: Path, block: int = 1 << 18) -> int:
    """Number of NaN / inf values in a float audio file, read in blocks."""
    n = 0
    for chunk in sf.blocks(str(path), blocksize=block, dtype="float64", always_2d=True):
        n += int(chunk.size - np.isfinite(chunk).sum())
    return n


def check_image(sample_id: str, path: Path) -> None:
    """Raise :class:`BadSampleError` unless ``path`` is an image that decodes completely into a mode
    that converts to 8-bit RGB (docs/datasets.md §8)."""
    from vssleval.data.image import unsupported_mode

    if not path.is_file():
        raise BadSampleError(sample_id, path, "image file is missing",
                             "Put the frame there, or remove the record from the annotation file (or use --skip-bad)",
                             kind="missing_image")
    try:
        with Image.open(path) as im:
            im.load()  # a full decode: verify() does not notice a truncated JPEG
            mode = im.mode
    except Exception as exc:
        raise BadSampleError(sample_id, path, f"image file is unreadable or truncated ({exc})",
                             "Re-extract or re-download this frame", kind="unreadable_image") from exc
    problem = unsupported_mode(mode)
    if problem:
        raise BadSampleError(sample_id, path, problem, "Convert the frame to an 8-bit RGB jpg or png",
                             kind="unsupported_image")


#: Files this process found sound, keyed by path and the stat that identifies their content (device,
#: inode, size, modification time in ns): the runs of one process (the main job evaluates four
#: models on one dataset) decode each frame once. A file that changes gets a new key.
_SOUND_FILES: set[tuple] = set()
_SOUND_FILES_MAX = 1 << 20


def _file_key(path: Path) -> tuple | None:
    try:
        st = os.stat(path)
    except OSError:
        return None
    return (os.fspath(path), st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns)


def check_sample_files(sample_id: str, image_path: Path, audio_path: Path) -> None:
    """Both checks above; the image first (so a missing frame is reported before its audio). A file
    that passed its check in this process and has not changed since is not read again."""
    for path, check in ((image_path, check_image), (audio_path, check_audio)):
        key = _file_key(path)
        if key is not None and key in _SOUND_FILES:
            continue
        check(sample_id, path)
        if key is not None:
            if len(_SOUND_FILES) >= _SOUND_FILES_MAX:
                _SOUND_FILES.clear()
            _SOUND_FILES.add(key)
