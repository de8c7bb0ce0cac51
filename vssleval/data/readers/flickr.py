"""Flickr-SoundNet layout: ``frames/<id>.jpg``, ``audio/<id>.wav``, ``Annotations/<id>.xml`` and a test
list ``flickr_test.csv`` (``<id>,<int>`` rows; 250 ids in SLAVC/SSL-Align, 249 in LVS/EZ-VSL).

XML rule (docs/datasets.md §4.2): every grandchild of the root whose tag is ``bbox`` is one box; its first
sub-element is skipped (annotator/meta) and the next four are integers ``xmin, ymin, xmax, ymax`` in a
256-px frame. Non-``bbox`` grandchildren are ignored. The box's parent (the root's child) is taken as
its annotator. Ground truth is the consensus map: covering-box count / 2, clipped at 1.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any, Mapping

import numpy as np

from vssleval.data.boxes import BoxError, frame_fractions, frame_to_grid
from vssleval.data.readers.common import (LayoutResult, ReaderContext, admit, box_failure,
                                          read_id_list, unique_ids)
from vssleval.data.types import Sample
from vssleval.errors import BadSampleError

DEFAULTS: dict[str, Any] = {
    "test_list": ["flickr_test.csv"],
    "annotation_dir": "Annotations",
    "image_dir": "frames",
    "audio_dir": "audio",
    "image_ext": ".jpg",
    "audio_ext": ".wav",
    "frame_size": 256,
}


def parse_flickr_xml(path: Path, sample_id: str = "") -> tuple[np.ndarray, np.ndarray]:
    """Boxes of one Flickr annotation file.

    Returns:
        (raw int ``[K, 4]`` boxes in the 256-px frame, int ``[K]`` annotator index per box).
    """
    sid = sample_id or path.stem
    if not path.is_file():
        raise BadSampleError(sid, path, "annotation XML is missing",
                             "Put the Flickr-SoundNet annotation there (from the Senocak et al. dataset)",
                             kind="missing_annotation")
    try:
        root = ET.parse(path).getroot()
    except ET.ParseError as exc:
        raise BadSampleError(sid, path, f"annotation XML is unreadable ({exc})", "Re-extract the annotation",
                             kind="bad_record") from exc
    boxes, annotators = [], []
    for a, child in enumerate(root):
        for node in child:
            if node.tag != "bbox":
                continue
            fields = list(node)[1:5]
            try:
                boxes.append([int(float((f.text or "").strip())) for f in fields])
            except ValueError as exc:
                raise BadSampleError(sid, path, f"bbox value is not a number ({exc})", "Fix the annotation",
                                     kind="bad_record") from exc
            if len(fields) != 4:
                raise BadSampleError(sid, path, "bbox has fewer than 5 sub-elements", "Fix the annotation",
                                     kind="bad_record")
            annotators.append(a)
    return np.asarray(boxes, dtype=np.int64).reshape(-1, 4), np.asarray(annotators, dtype=np.int64)


def read_flickr(ctx: ReaderContext, cfg: Mapping[str, Any]) -> LayoutResult:
    """Read a Flickr-SoundNet-layout dataset rooted at ``ctx.root`` (options in ``DEFAULTS``)."""
    cfg = {**DEFAULTS, **{k: v for k, v in cfg.items() if v is not None}}
    source = ctx.find_metadata(cfg["test_list"], "Flickr-SoundNet test list")
    ann_dir = ctx.root / cfg["annotation_dir"]
    samples: list[Sample] = []
    for sid in read_id_list(source):
        xml_path = ann_dir / f"{sid}.xml"
        try:
            ctx.check_inside(sid, xml_path, "annotation")
            raw, annotators = parse_flickr_xml(xml_path, sid)
            try:
                boxes = frame_to_grid(raw, frame=int(cfg["frame_size"]))
            except BoxError as exc:
                raise box_failure(sid, xml_path, exc) from exc
        except BadSampleError as exc:
            ctx.log.bad(exc)
            continue
        sample = Sample(
            id=sid,
            image_path=ctx.root / cfg["image_dir"] / f"{sid}{cfg['image_ext']}",
            audio_path=ctx.root / cfg["audio_dir"] / f"{sid}{cfg['audio_ext']}",
            boxes=boxes,
            boxes_frac=frame_fractions(raw, int(cfg["frame_size"])),
            gt_rule="consensus",
            annotators=annotators,
        )
        admit(ctx, sample, samples)
    unique_ids(samples, source)
    return LayoutResult(samples, {}, [f"test list: {source}"])
