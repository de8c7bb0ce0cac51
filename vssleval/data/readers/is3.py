"""IS3 layout: ``images/<name>.jpg``, ``audio_wav/<name>.wav``, ``IS3_annotation.json`` (sample list
and order) and ``synthetic3240_bbox.json`` (one 224-px ``gt_box`` per record, keyed by image stem).

Names are ``<objA>_<objB>_<id>_<target>`` (sometimes without ``<id>``). Each picture appears twice,
once per sounding object. The scene (group id) is the record's ``scene`` field if present, otherwise
the name without its last ``_token`` — compared *exactly*, so ``cat_banjo`` and ``cat_banjo2_…`` are
different scenes (the official ``prefix*`` glob confuses them: docs/datasets.md §3.4). The classes
visible in a picture are the annotated classes of every record of its scene.
"""

from __future__ import annotations

from pathlib import PurePosixPath, PureWindowsPath
from typing import Any, Mapping

from vssleval.data.boxes import BoxError, frame_fractions, pixels_to_grid
from vssleval.data.readers.common import (LayoutResult, ReaderContext, admit, box_failure, class_files_from_samples,
                                          load_class_files, load_json_list, unique_ids)
from vssleval.data.types import GT_SIZE, Sample
from vssleval.errors import BadSampleError, VsslevalError

DEFAULTS: dict[str, Any] = {
    "annotation": ["IS3_annotation.json", "IS3_annotations.json"],
    "box_file": "synthetic3240_bbox.json",
    "class_files": ["IS3_class_files_dict.json", "class_files_dict.json"],
    "image_dir": "images",
    "audio_dir": "audio_wav",
}


def _stem(path_like: str) -> str:
    # Paths in the public files are absolute author paths (POSIX); be tolerant of Windows ones too.
    name = PureWindowsPath(path_like).name if "\\" in path_like else PurePosixPath(path_like).name
    return name.rsplit(".", 1)[0] if "." in name else name


def _basename(path_like: str) -> str:
    return PureWindowsPath(path_like).name if "\\" in path_like else PurePosixPath(path_like).name


def scene_of(name: str) -> str:
    """Scene id of an IS3 record name: the name without its last ``_token``."""
    return name.rsplit("_", 1)[0] if "_" in name else name


def _class_lookup(class_files: Mapping[str, list[str]]) -> dict[str, str]:
    return {root: cls for cls, roots in class_files.items() for root in roots}


def read_is3(ctx: ReaderContext, cfg: Mapping[str, Any]) -> LayoutResult:
    """Read an IS3-layout dataset rooted at ``ctx.root`` (see module doc; options in ``DEFAULTS``)."""
    cfg = {**DEFAULTS, **{k: v for k, v in cfg.items() if v is not None}}
    source = ctx.find_metadata(cfg["annotation"], "IS3 annotation file")
    records = load_json_list(source, "IS3 annotation file", keys=("image",))

    box_by_stem: dict[str, Any] | None = None
    if cfg.get("box_file"):
        box_path = ctx.find_metadata(cfg["box_file"], "IS3 box file")
        box_by_stem = {}
        for rec in load_json_list(box_path, "IS3 box file"):
            if not isinstance(rec, Mapping) or "image" not in rec or "gt_box" not in rec:
                raise VsslevalError(f"{box_path}: every record needs 'image' and 'gt_box', got {rec!r}")
            box_by_stem[_stem(str(rec["image"]))] = rec["gt_box"]

    dict_path = ctx.find_metadata(cfg["class_files"], "class-files dict", required=False)
    class_files = load_class_files(dict_path) if dict_path is not None else None
    lookup = _class_lookup(class_files or {})

    # First pass: parse every record (so the scene's classes are known before building samples).
    parsed: list[dict[str, Any]] = []
    for i, rec in enumerate(records):
        try:
            if not isinstance(rec, Mapping) or "image" not in rec:
                raise BadSampleError(f"row{i}", source, f"record has no 'image': {rec!r}",
                                     "Every record needs {image, audio, ...}", kind="bad_record")
            name = _stem(str(rec["image"]))
            audio_name = _basename(str(rec.get("audio", f"{name}.wav")))
            raw_box = rec.get("gt_box") if box_by_stem is None else box_by_stem.get(name)
            if raw_box is None:
                raise BadSampleError(name, source, "no gt_box for this image",
                                     f"Add a record for {name} to {cfg.get('box_file') or 'the annotation'}",
                                     kind="bad_record")
            try:
                boxes = pixels_to_grid(raw_box)
            except BoxError as exc:
                raise box_failure(name, source, exc) from exc
        except BadSampleError as exc:
            ctx.log.bad(exc)
            continue
        label = str(rec.get("class") or lookup.get(name) or name.rsplit("_", 1)[-1])
        scene = str(rec.get("scene") or scene_of(name))
        parsed.append({"name": name, "audio": audio_name, "image": _basename(str(rec["image"])),
                       "boxes": boxes, "boxes_frac": frame_fractions(raw_box, GT_SIZE), "label": label,
                       "scene": scene})

    scene_labels: dict[str, set[str]] = {}
    for p in parsed:
        scene_labels.setdefault(p["scene"], set()).add(p["label"])

    samples: list[Sample] = []
    for p in parsed:
        sample = Sample(
            id=p["name"],
            image_path=ctx.root / cfg["image_dir"] / p["image"],
            audio_path=ctx.root / cfg["audio_dir"] / p["audio"],
            boxes=p["boxes"],
            boxes_frac=p["boxes_frac"],
            gt_rule="union",
            label=p["label"],
            group=p["scene"],
            visible_labels=tuple(sorted(scene_labels[p["scene"]])),
        )
        admit(ctx, sample, samples)
    unique_ids(samples, source)

    notes = [f"annotation: {source}"]
    sizes = {}
    for p in parsed:
        sizes[p["scene"]] = sizes.get(p["scene"], 0) + 1
    odd = sorted(s for s, n in sizes.items() if n != 2)
    if odd:
        notes.append(f"{len(odd)} scene(s) without exactly 2 records, e.g. {odd[0]!r}")
    if class_files is None:
        class_files = class_files_from_samples(samples)
        notes.append("class-files dict absent: offscreen pool built from the annotation classes")
    return LayoutResult(samples, class_files, notes)
