"""VGG-SS layout: ``audio/<id>.wav``, ``frames/<id>.jpg``, a JSON list of ``{file, class, bbox}``.

Boxes are normalised ``[xmin, ymin, xmax, ymax]`` relative to the frame; the ground truth is the
union of ``int(clip(c, 0, 1) * 224)`` boxes (docs/datasets.md §2.3). Samples come in annotation-file
order, with no filtering: every record is evaluated.
"""

from __future__ import annotations

from typing import Any, Mapping

from vssleval.data.boxes import BoxError, frame_fractions, normalized_to_grid
from vssleval.data.readers.common import (LayoutResult, ReaderContext, admit, box_failure, class_files_from_samples,
                                          load_class_files, load_json_list, unique_ids)
from vssleval.data.types import Sample
from vssleval.errors import BadSampleError

DEFAULTS: dict[str, Any] = {
    "annotation": ["vggss_annotations.json", "vggss.json", "annotations.json"],
    "class_files": ["vggss_class_files_dict.json", "class_files_dict.json"],
    "image_dir": "frames",
    "audio_dir": "audio",
    "image_ext": ".jpg",
    "audio_ext": ".wav",
}


def vggss_sample(record: Mapping[str, Any], ctx: ReaderContext, cfg: Mapping[str, Any], source) -> Sample:
    """One VGG-SS record → :class:`Sample` (raises BadSampleError for a malformed record)."""
    sid = record.get("file") if isinstance(record, Mapping) else None
    if not isinstance(sid, str) or not sid:
        raise BadSampleError(str(sid), source, f"record has no 'file' id: {record!r}",
                             "Every record needs {file, class, bbox}", kind="bad_record")
    if "bbox" not in record:  # only an explicit empty list says "no box" (docs/datasets.md §2.2)
        raise BadSampleError(sid, source, f"record has no 'bbox': {record!r}",
                             "Every record needs {file, class, bbox}; write \"bbox\": [] for a clip with no box",
                             kind="bad_record")
    try:
        boxes = normalized_to_grid(record["bbox"])
    except BoxError as exc:
        raise box_failure(sid, source, exc) from exc
    label = str(record.get("class", ""))
    return Sample(
        id=sid,
        image_path=ctx.root / cfg["image_dir"] / f"{sid}{cfg['image_ext']}",
        audio_path=ctx.root / cfg["audio_dir"] / f"{sid}{cfg['audio_ext']}",
        boxes=boxes,
        boxes_frac=frame_fractions(record["bbox"]),
        gt_rule="union",
        label=label,
        visible_labels=(label,) if label else (),
    )


def read_vggss(ctx: ReaderContext, cfg: Mapping[str, Any]) -> LayoutResult:
    """Read a VGG-SS-layout dataset rooted at ``ctx.root``.

    Args:
        ctx: root, file checking and skip log.
        cfg: layout options (see ``DEFAULTS``): annotation file name(s) — the first that exists is
            used —, class-files dict name, media folders and extensions.
    """
    cfg = {**DEFAULTS, **{k: v for k, v in cfg.items() if v is not None}}
    source = ctx.find_metadata(cfg["annotation"], "VGG-SS annotation file")
    samples: list[Sample] = []
    for record in load_json_list(source, "VGG-SS annotation file", keys=("file", "bbox")):
        try:
            sample = vggss_sample(record, ctx, cfg, source)
        except BadSampleError as exc:
            ctx.log.bad(exc)
            continue
        admit(ctx, sample, samples)
    unique_ids(samples, source)
    notes = [f"annotation: {source}"]
    dict_path = ctx.find_metadata(cfg["class_files"], "class-files dict", required=False)
    if dict_path is not None:
        class_files = load_class_files(dict_path)
    else:
        class_files = class_files_from_samples(samples)
        notes.append("class-files dict absent: offscreen pool built from the annotation classes")
    return LayoutResult(samples, class_files, notes)
