"""Extended (Mo & Morgado) test sets: the positives of a base layout (VGG-SS or Flickr) plus one
negative per ``non-sounding`` row of ``*_test_plus_silent.csv`` (header ``video,audio,label``): the
frame ``<image_dir>/<video><ext>`` with the audio ``<audio_dir>/<audio><ext>``, no boxes, an all-zero
ground truth (docs/datasets.md §5).

Differences from the reference loader, on purpose: positives keep annotation order (the official
list is sorted then shuffled; every metric is order-invariant); a missing file is an error or a
recorded skip, never a silently dropped positive or a random substitute sample.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping

import numpy as np

from vssleval.data.readers.common import (LayoutResult, ReaderContext, admit, read_csv_rows,
                                          unique_ids)
from vssleval.data.types import Sample

NEGATIVE_LABEL = "non-sounding"


def read_extended(ctx: ReaderContext, cfg: Mapping[str, Any],
                  base_reader: Callable[[ReaderContext, Mapping[str, Any]], LayoutResult],
                  base_defaults: Mapping[str, Any]) -> LayoutResult:
    """Base-layout positives followed by the CSV's negatives.

    Args:
        cfg: the base layout's options plus ``negatives`` (CSV file name(s) at the dataset root).
        base_reader, base_defaults: the base layout's reader and its default options.
    """
    base = base_reader(ctx, cfg)
    opts = {**base_defaults, **{k: v for k, v in cfg.items() if v is not None}}
    source = ctx.find_metadata(cfg.get("negatives"), "extended-set negatives CSV")
    samples = list(base.samples)
    labels = {s.id: s.visible_labels for s in base.samples}
    ignored = 0
    for row in read_csv_rows(source, ("video", "audio", "label")):
        if row["label"] != NEGATIVE_LABEL:
            ignored += 1
            continue
        video, audio = row["video"], row["audio"]
        sample = Sample(
            id=f"{video}+{audio}",  # the frame id alone is not unique (one frame, several audios)
            image_path=ctx.root / opts["image_dir"] / f"{video}{opts['image_ext']}",
            audio_path=ctx.root / opts["audio_dir"] / f"{audio}{opts['audio_ext']}",
            boxes=np.zeros((0, 4), dtype=np.int64),
            gt_rule="union",
            is_negative=True,
            visible_labels=labels.get(video, ()),
        )
        admit(ctx, sample, samples)
    unique_ids(samples, source)
    notes = base.notes + [f"negatives: {source}"]
    if ignored:
        notes.append(f"{ignored} row(s) with a label other than {NEGATIVE_LABEL!r} ignored")
    return LayoutResult(samples, base.class_files, notes)
