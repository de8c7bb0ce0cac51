"""``prepare vggss``: VGG-Sound video clips -> the VGG-SS layout (``frames/<id>.jpg``, ``audio/<id>.wav``).

For each record of the annotation file, the clip is looked up under ``--videos`` (any depth; names
in :func:`vssleval.data.prepare.clips.clip_names`), its middle frame is written as a JPEG and its
first 10 s of audio as a 16-kHz mono 16-bit wav (docs/datasets.md §10.1).
"""

from __future__ import annotations

import functools
import os
from pathlib import Path

from vssleval.data.encode import jpeg_bytes, pcm16_wav_bytes
from vssleval.data.prepare.clips import (VIDEO_EXTS, ClipError, clip_names, find_clip, index_files,
                                          read_clip, require_av)
from vssleval.data.prepare.common import (BAD, MISSING, PREPARED, PRESENT, Outcome, PlaceError, Summary, failed,
                                          place_extra, place_metadata, prepare_out, refuse_overlap, rerun_advice,
                                          run_items, trusted_output, write_output)
from vssleval.data.prepare.place import Claims, check_source, not_a_file_text
from vssleval.data.readers.common import find_metadata, load_json_list
from vssleval.data.readers.vggss import DEFAULTS
from vssleval.errors import VsslevalError

#: The audio window written (s) and its rate (Hz): what every published pipeline reads (§10.1).
WINDOW_S, SAMPLE_RATE = 10.0, 16000
#: JPEG quality of the written frames (Pillow scale); the readers resize to 224 px anyway.
JPEG_QUALITY = 95


def _prepare_one(job: tuple[str, str, str, str], window_s: float, sample_rate: int) -> Outcome:
    """Decode one clip and write its frame and wav; a bad clip is an :class:`Outcome`, not an error."""
    clip_id, clip, frame_path, wav_path = job
    try:
        check_source(clip)  # before FFmpeg opens it by name: a FIFO would block, a dangling link is named
        media = read_clip(clip, window_s=window_s, sample_rate=sample_rate)
        # Audio first, frame last: the frame's presence is what marks the record finished.
        write_output(wav_path, pcm16_wav_bytes(media.audio, media.sample_rate, scale=32768.0))
        write_output(frame_path, jpeg_bytes(media.frame, JPEG_QUALITY))
    except ClipError as exc:
        return Outcome(clip_id, BAD, exc.kind, clip, exc.reason)
    except PlaceError as exc:
        return failed(clip_id, exc)
    return Outcome(clip_id, PREPARED)


def _annotation(annotation: str | os.PathLike | None, out: Path, videos: Path) -> Path:
    if annotation is not None:
        path = Path(annotation)
        if not path.is_file():  # also refuses a FIFO, a folder, a dangling link
            raise VsslevalError(f"--annotation {path} {not_a_file_text(path)}; give the VGG-SS annotation file "
                                "(vggss.json)")
        return path
    found = find_metadata(out, DEFAULTS["annotation"], "VGG-SS annotation file", required=False)
    found = found or find_metadata(videos, DEFAULTS["annotation"], "VGG-SS annotation file", required=False)
    if found is None:
        raise VsslevalError(f"no VGG-SS annotation file in {out} or {videos} (looked for "
                            f"{', '.join(DEFAULTS['annotation'])}); run `vssleval fetch-metadata vggss --dest {out}` "
                            "or pass --annotation FILE")
    return found


@rerun_advice
def prepare_vggss(videos: str | os.PathLike, out: str | os.PathLike, *, annotation: str | os.PathLike | None = None,
                  workers: int = 0, progress: bool = True) -> Summary:
    """Build the VGG-SS folder ``out`` from the clips under ``videos``.

    Args:
        videos: folder searched (recursively) for ``<id>.mp4|.mkv|.webm`` and the other spellings of
            :func:`~vssleval.data.prepare.clips.clip_names`.
        out: the dataset root to fill (created; an existing one is resumed).
        annotation: the VGG-SS annotation file; default: the first of the reader's names found in
            ``out``, then in ``videos``. It is copied into ``out`` when it is not there.
        workers: decoding processes (0 or 1: this process).

    Returns:
        The :class:`Summary`; ``missing.csv`` and ``bad.csv`` are written into ``out``.
    """
    require_av()
    videos = Path(videos)
    if not videos.is_dir():
        raise VsslevalError(f"--videos {videos} is not a folder; give the folder that holds the VGG-Sound clips")
    folders = (DEFAULTS["image_dir"], DEFAULTS["audio_dir"])
    refuse_overlap(videos, "--videos", Path(out), folders, same_ok=True)  # clips are never .jpg/.wav
    out_root = prepare_out(out, folders)
    source = _annotation(annotation, out_root, videos)
    records = load_json_list(source, "VGG-SS annotation file", keys=("file", "bbox"))
    notes = [place_metadata(source, out_root, source.name if source.name in DEFAULTS["annotation"] else "vggss.json",
                            DEFAULTS["annotation"])]
    class_dict = find_metadata(source.parent, DEFAULTS["class_files"], "class-files dict", required=False)
    if class_dict is not None and not any(trusted_output(out_root / n) for n in DEFAULTS["class_files"]):
        place_extra(class_dict, out_root / class_dict.name, "class-files dict")
        notes.append(f"class-files dict copied from {class_dict}")

    index = index_files(videos, VIDEO_EXTS, exclude=[out_root / f for f in folders])
    outcomes: dict[str, Outcome] = {}
    jobs = []
    claims = Claims()
    ids = [r["file"] for r in records if isinstance(r, dict) and isinstance(r.get("file"), str) and r["file"]]
    for clip_id in dict.fromkeys(ids):
        try:
            frame, wav = claims.targets(out_root, clip_id, (DEFAULTS["image_dir"], clip_id + DEFAULTS["image_ext"]),
                                        (DEFAULTS["audio_dir"], clip_id + DEFAULTS["audio_ext"]))
        except PlaceError as exc:
            outcomes[clip_id] = failed(clip_id, exc)
            continue
        if trusted_output(frame) and trusted_output(wav):
            outcomes[clip_id] = Outcome(clip_id, PRESENT)
        elif (clip := find_clip(index, clip_id)) is None:
            looked = ", ".join(n + "." + "|".join(e[1:] for e in VIDEO_EXTS) for n in clip_names(clip_id))
            outcomes[clip_id] = Outcome(clip_id, MISSING, "missing_clip", str(videos), f"no clip found (looked for {looked})")
        else:
            jobs.append((clip_id, str(clip), str(frame), str(wav)))
    work = functools.partial(_prepare_one, window_s=WINDOW_S, sample_rate=SAMPLE_RATE)
    for outcome in run_items(jobs, work, workers, "prepare vggss", progress):
        outcomes[outcome.id] = outcome
    skipped = len(records) - len(ids)
    if skipped:
        notes.append(f"{skipped} record(s) without a 'file' id ignored (`vssleval datasets` names them)")
    summary = Summary("vggss", out_root, [outcomes[i] for i in dict.fromkeys(ids)], notes)
    summary.write_lists()
    return summary
