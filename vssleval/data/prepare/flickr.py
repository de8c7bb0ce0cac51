"""``prepare flickr``: the Flickr-SoundNet test archive -> the layout ``--dataset flickr`` reads.

The archive of Senocak et al. unpacks to ``Annotations/<id>.xml`` (5 000 files, three annotators
each) and ``Data/<0-9>/<id>.jpg`` + ``<id>.wav`` (docs/datasets.md §10.3). Every file is found by its
id at any depth, so per-item folders (``<id>/`` or ``<id>.mp4/`` holding one picture and one sound)
work too. Files are copied unchanged as fresh files (the placement rule, docs/datasets.md §10); a
picture that is not a JPEG is re-encoded and a sound that is not a wav is decoded to 16-bit PCM at
its own rate (the readers expect ``.jpg`` and ``.wav``).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import soundfile as sf

from vssleval.data.checks import check_audio, check_image
from vssleval.data.encode import jpeg_bytes, pcm16_wav_bytes
from vssleval.data.image import load_rgb
from vssleval.data.prepare.clips import index_files
from vssleval.data.prepare.common import (BAD, MISSING, PREPARED, PRESENT, Outcome, PlaceError, Summary, copy_file,
                                          failed, place_extra, prepare_out, refuse_overlap, rerun_advice, run_items,
                                          trusted_output, write_output)
from vssleval.data.prepare.place import Claims, check_source, not_a_file_text, usable_source
from vssleval.data.readers.common import read_id_list
from vssleval.data.readers.flickr import DEFAULTS, parse_flickr_xml
from vssleval.errors import BadSampleError, VsslevalError
from vssleval.io_utils import write_text_atomic

IMAGE_EXTS = (".jpg", ".jpeg", ".png", ".bmp")
AUDIO_EXTS = (".wav", ".flac", ".mp3", ".ogg")
#: The id of the 250-id list (SLAVC, SSL-Align) that the 249-id list (LVS, EZ-VSL) lacks (§4.1).
EXTRA_ID = "3908875350"
LIST_250, LIST_249 = "flickr_test.csv", "flickr_test_249.csv"
LIST_NAMES = (LIST_250, LIST_249, "test_list.txt")
JPEG_QUALITY = 95


def _strip(name: str) -> str:
    """An id from a list entry: ``2432219254.png`` (the archive's ``test_list.txt``) -> ``2432219254``."""
    stem, dot, ext = name.rpartition(".")
    return stem if dot and "." + ext.lower() in IMAGE_EXTS + AUDIO_EXTS else name


def _find_list(test_list, out: Path, archive: Path) -> Path:
    if test_list is not None:
        if not Path(test_list).is_file():
            raise VsslevalError(f"--test-list {test_list} {not_a_file_text(Path(test_list))}; give the test id list "
                                "(flickr_test.csv or the archive's test_list.txt)")
        return Path(test_list)
    for folder in (out, archive):
        for name in LIST_NAMES:
            if (folder / name).is_file():
                return folder / name
    raise VsslevalError(f"no Flickr-SoundNet test list in {out} or {archive} (looked for {', '.join(LIST_NAMES)}); "
                        f"run `vssleval fetch-metadata flickr --dest {out}` or pass --test-list FILE")


def _write_lists(ids: list[str], source: Path, out: Path) -> list[str]:
    """The test lists ``--dataset flickr`` (250 ids) and ``flickr249`` (249) read; existing ones are kept."""
    lists = {LIST_250: ids, LIST_249: [i for i in ids if i != EXTRA_ID]} if EXTRA_ID in ids else {LIST_249: ids}
    notes = []
    for name, wanted in lists.items():
        path = out / name
        if trusted_output(path):
            notes.append(f"{path} already present: kept")
        elif source.name == name:
            place_extra(source, path, "test list")
            notes.append(f"{path} copied from {source}")
        else:
            write_text_atomic(path, "".join(f"{i}\n" for i in wanted))
            notes.append(f"{path} written ({len(wanted)} ids, from {source})")
    if EXTRA_ID not in ids:
        notes.append(f"the list lacks {EXTRA_ID}, so only the 249-id list ({LIST_249}, --dataset flickr249) "
                     "was written")
    return notes


def _index(archive: Path, exclude: list[Path]) -> dict[str, dict[str, Path]]:
    """``{kind: {id: path}}`` for kind ``image``, ``audio``, ``xml``: files named ``<id>.<ext>``, and
    files inside a per-item folder named ``<id>`` or ``<id>.<ext>``; for each id a readable file
    before an unreadable entry (a dangling link, a folder), else the first in walk order."""
    out: dict[str, dict[str, Path]] = {}
    for kind, exts in (("image", IMAGE_EXTS), ("audio", AUDIO_EXTS), ("xml", (".xml",))):
        candidates: dict[str, list[Path]] = {}
        for stem, paths in index_files(archive, exts, exclude).items():
            for path in paths:
                candidates.setdefault(stem, []).append(path)
                candidates.setdefault(path.parent.name.split(".")[0], []).append(path)  # per-item folder
        out[kind] = {key: next((p for p in paths if usable_source(p)), paths[0]) for key, paths in candidates.items()}
    return out


def _prepare_one(job: tuple[str, dict[str, str], dict[str, str]]) -> Outcome:
    """Check and place one record's picture, sound and XML."""
    sid, src, dst = job
    try:
        for kind in ("image", "audio", "xml"):  # before any decoder opens them by name (docs/datasets.md §10)
            check_source(src[kind])
        check_image(sid, Path(src["image"]))
        check_audio(sid, Path(src["audio"]))
        parse_flickr_xml(Path(src["xml"]), sid)
        return Outcome(sid, PREPARED, "+".join(_place(src, dst)))
    except BadSampleError as exc:
        return Outcome(sid, BAD, exc.kind, exc.path, exc.reason)
    except PlaceError as exc:
        return failed(sid, exc)


def _place(src: dict[str, str], dst: dict[str, str]) -> list[str]:
    """Write one checked record's wav, XML and frame (the frame last: it marks the record done);
    returns the remarks (``converted_audio``, ``converted_image``)."""
    remarks = []
    if Path(src["audio"]).suffix.lower() == ".wav":
        copy_file(src["audio"], dst["audio"])
    else:
        wave, sr = sf.read(src["audio"], dtype="float64", always_2d=True)
        write_output(dst["audio"], pcm16_wav_bytes(np.mean(wave, axis=1), sr, scale=32768.0))
        remarks.append("converted_audio")
    copy_file(src["xml"], dst["xml"])
    if Path(src["image"]).suffix.lower() in (".jpg", ".jpeg"):
        copy_file(src["image"], dst["image"])
    else:
        write_output(dst["image"], jpeg_bytes(np.asarray(load_rgb(src["image"])), JPEG_QUALITY))
        remarks.append("converted_image")
    return remarks


@rerun_advice
def prepare_flickr(archive: str | os.PathLike, out: str | os.PathLike, *, test_list: str | os.PathLike | None = None,
                   workers: int = 0, progress: bool = True) -> Summary:
    """Build the Flickr-SoundNet folder ``out`` from the unpacked test archive ``archive``.

    Args:
        archive: the archive folder (``Annotations/``, ``Data/``; any depth is searched).
        out: the dataset root to fill (created; an existing one is resumed).
        test_list: the ids to prepare (a CSV whose first column is the id, or the archive's
            ``test_list.txt``); default: ``flickr_test.csv`` in ``out``, then a list in ``archive``.
        workers: parallel processes (0 or 1: this process).

    Returns:
        The :class:`Summary`; ``missing.csv`` and ``bad.csv`` are written into ``out``.
    """
    archive = Path(archive)
    if not archive.is_dir():
        raise VsslevalError(f"--archive {archive} is not a folder; unpack the Flickr-SoundNet test archive first")
    dirs = {"image": DEFAULTS["image_dir"], "audio": DEFAULTS["audio_dir"], "xml": DEFAULTS["annotation_dir"]}
    exts = {"image": DEFAULTS["image_ext"], "audio": DEFAULTS["audio_ext"], "xml": ".xml"}
    refuse_overlap(archive, "--archive", Path(out), list(dirs.values()))
    out_root = prepare_out(out, dirs.values())
    source = _find_list(test_list, out_root, archive)
    ids = list(dict.fromkeys(_strip(i) for i in read_id_list(source)))
    if not ids:
        raise VsslevalError(f"the test list {source} holds no ids")
    notes = _write_lists(ids, source, out_root)
    index = _index(archive, [out_root / d for d in dirs.values()])
    outcomes: dict[str, Outcome] = {}
    jobs = []
    claims = Claims()
    for sid in ids:
        try:
            dst = dict(zip(dirs, claims.targets(out_root, sid, *((dirs[k], sid + exts[k]) for k in dirs))))
        except PlaceError as exc:
            outcomes[sid] = failed(sid, exc)
            continue
        if all(trusted_output(p) for p in dst.values()):
            outcomes[sid] = Outcome(sid, PRESENT)
            continue
        src = {k: index[k].get(sid) for k in dirs}
        absent = [k for k, p in src.items() if p is None]
        if absent:
            kinds = {"image": "missing_image", "audio": "missing_audio", "xml": "missing_annotation"}
            outcomes[sid] = Outcome(sid, MISSING, kinds[absent[0]], str(archive),
                                    f"not in the archive: {' and '.join(absent)} (looked for {sid}.* at any depth)")
            continue
        jobs.append((sid, {k: str(p) for k, p in src.items()}, {k: str(p) for k, p in dst.items()}))
    for outcome in run_items(jobs, _prepare_one, workers, "prepare flickr", progress):
        outcomes[outcome.id] = outcome
    summary = Summary("flickr", out_root, [outcomes[i] for i in ids], notes)
    summary.write_lists()
    return summary
