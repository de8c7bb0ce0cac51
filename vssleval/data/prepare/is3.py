"""``prepare is3``: the IS3 release -> the layout ``--dataset is3`` reads (docs/datasets.md §10.4).

The release keeps its pictures in ``visual_frames/`` (vssl_eval and vssleval read ``images/``), its
sounds in ``audio_wav/``, and its annotation list with the authors' absolute paths; vssl_eval's
README calls the class-files dict ``class_files_dict.json``. This converter finds every file by its
basename at any depth, copies it unchanged (a fresh file, docs/datasets.md §10) into ``images/`` and
``audio_wav/``, and writes the annotation list with paths relative to the new root, the box file,
and the class-files dict under the name vssleval looks for first.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any, Mapping

from vssleval.data.checks import check_audio, check_image
from vssleval.data.prepare.clips import index_files, walk_files
from vssleval.data.prepare.common import (BAD, MISSING, PREPARED, PRESENT, Outcome, PlaceError, Summary, copy_file,
                                          failed, place_extra, prepare_out, refuse_overlap, rerun_advice, run_items,
                                          trusted_output)
from vssleval.data.prepare.place import Claims, check_source
from vssleval.data.prepare.flickr import IMAGE_EXTS
from vssleval.data.readers.common import as_list, load_class_files, load_json_list
from vssleval.data.readers.is3 import DEFAULTS, _basename, _stem
from vssleval.errors import BadSampleError, VsslevalError
from vssleval.io_utils import write_text_atomic


def _find(src: Path, names, exclude: list[Path]) -> Path | None:
    """The first of ``names`` at the root of ``src``, else the shallowest match below it (symlinked
    folders searched too, :func:`~vssleval.data.prepare.clips.walk_files`); only files that can be
    read (a dangling link of that name is passed over)."""
    for name in as_list(names):
        if (src / name).is_file():
            return src / name
    wanted = set(as_list(names))
    found = [p for p in walk_files(src, exclude) if p.name in wanted and p.is_file()]
    return min(found, key=lambda p: (len(p.parts), str(p))) if found else None


def _prepare_one(job: tuple[str, str, str, str, str]) -> Outcome:
    """Check and copy one record's picture and sound (the picture last: it marks the record done)."""
    name, image, audio, image_dst, audio_dst = job
    try:
        check_source(image)  # before a decoder opens them by name (docs/datasets.md §10)
        check_source(audio)
        check_image(name, Path(image))
        check_audio(name, Path(audio))
        copy_file(audio, audio_dst)
        copy_file(image, image_dst)
    except BadSampleError as exc:
        return Outcome(name, BAD, exc.kind, exc.path, exc.reason)
    except PlaceError as exc:
        return failed(name, exc)
    return Outcome(name, PREPARED)


def _box_file(src: Path, out: Path, records: list, exclude: list[Path]) -> str:
    """Place ``synthetic3240_bbox.json``: kept in ``out``, copied from ``src``, or written from the
    annotation's own ``gt_box`` values."""
    name = DEFAULTS["box_file"]
    if trusted_output(out / name):
        return f"{out / name} already present: kept"
    found = _find(src, name, exclude)
    if found is not None:
        place_extra(found, out / name, "box file")
        return f"box file copied from {found}"
    if records and all(isinstance(r, Mapping) and "gt_box" in r and "image" in r for r in records):
        boxes = [{"image": r["image"], "audio": r.get("audio", ""), "gt_box": r["gt_box"]} for r in records]
        write_text_atomic(out / name, json.dumps(boxes) + "\n")
        return f"{out / name} written from the annotation list's gt_box values"
    raise VsslevalError(f"no {name} in {src} or {out}, and the annotation list does not hold a gt_box for every "
                        f"record; run `vssleval fetch-metadata is3 --dest {out}` to download the box file")


def _class_dict(src: Path, out: Path, exclude: list[Path]) -> str | None:
    dst = out / as_list(DEFAULTS["class_files"])[0]
    if trusted_output(dst):
        return f"{dst} already present: kept"
    found = _find(src, DEFAULTS["class_files"], exclude)
    if found is None:
        return None
    load_class_files(found)  # the schema is checked before the file is placed
    place_extra(found, dst, "class-files dict")
    return f"class-files dict copied from {found} to {dst}"


def _relative(rec: Mapping[str, Any], image: str, audio: str) -> dict[str, Any]:
    return {**rec, "image": f"{DEFAULTS['image_dir']}/{image}", "audio": f"{DEFAULTS['audio_dir']}/{audio}"}


@rerun_advice
def prepare_is3(src: str | os.PathLike, out: str | os.PathLike, *, workers: int = 0, progress: bool = True) -> Summary:
    """Build the IS3 folder ``out`` from the unpacked release ``src``.

    Args:
        src: the release folder (any depth is searched for the annotation list, the box file, the
            class-files dict, the pictures and the sounds).
        out: the dataset root to fill (created; an existing one is resumed).
        workers: parallel processes (0 or 1: this process).

    Returns:
        The :class:`Summary`; ``missing.csv`` and ``bad.csv`` are written into ``out``.
    """
    src = Path(src)
    if not src.is_dir():
        raise VsslevalError(f"--src {src} is not a folder; unpack the IS3 archive first")
    folders = (DEFAULTS["image_dir"], DEFAULTS["audio_dir"])
    refuse_overlap(src, "--src", Path(out), folders)
    out_root = prepare_out(out, folders)
    exclude = [out_root / f for f in folders]
    source = _find(src, DEFAULTS["annotation"], exclude)
    if source is None:
        raise VsslevalError(f"no {' or '.join(DEFAULTS['annotation'])} under {src}; it ships inside the IS3 archive "
                            "(Google Drive link in the kaistmm/SSLalignment README)")
    records = load_json_list(source, "IS3 annotation file", keys=("image",))
    notes = [_box_file(src, out_root, records, exclude)]
    note = _class_dict(src, out_root, exclude)
    notes += [note] if note else ["no class-files dict in the release: the offscreen pool is built from the classes"]
    images = index_files(src, IMAGE_EXTS, exclude)
    sounds = index_files(src, (".wav",), exclude)
    outcomes: dict[str, Outcome] = {}
    jobs, normalised, names = [], [], []
    claims = Claims()
    for rec in records:
        if not isinstance(rec, Mapping) or "image" not in rec:
            normalised.append(rec)  # left for the reader to name as a bad record
            continue
        name = _stem(str(rec["image"]))
        image, audio = _basename(str(rec["image"])), _basename(str(rec.get("audio", f"{name}.wav")))
        normalised.append(_relative(rec, image, audio))
        names.append(name)
        try:
            image_dst, audio_dst = claims.targets(out_root, name, (DEFAULTS["image_dir"], image),
                                                  (DEFAULTS["audio_dir"], audio))
        except PlaceError as exc:
            outcomes[name] = failed(name, exc)
            continue
        if trusted_output(image_dst) and trusted_output(audio_dst):
            outcomes[name] = Outcome(name, PRESENT)
        else:
            image_src = next((p for p in images.get(Path(image).stem, []) if p.name == image), None)
            audio_src = next((p for p in sounds.get(Path(audio).stem, []) if p.name == audio), None)
            if image_src is None or audio_src is None:
                what = "picture" if image_src is None else "sound"
                outcomes[name] = Outcome(name, MISSING, "missing_image" if image_src is None else "missing_audio",
                                         str(src), f"{what} {image if image_src is None else audio} not in the release")
            else:
                jobs.append((name, str(image_src), str(audio_src), str(image_dst), str(audio_dst)))
    for outcome in run_items(jobs, _prepare_one, workers, "prepare is3", progress):
        outcomes[outcome.id] = outcome
    ann_out = out_root / as_list(DEFAULTS["annotation"])[0]
    write_text_atomic(ann_out, json.dumps(normalised, indent=1) + "\n")
    notes.append(f"annotation list {source} written to {ann_out} with paths relative to {out_root}")
    summary = Summary("is3", out_root, [outcomes[n] for n in dict.fromkeys(names)], notes)
    summary.write_lists()
    return summary
