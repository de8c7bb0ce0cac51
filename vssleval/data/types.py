"""The one sample record every dataset reader yields."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

import numpy as np

GT_SIZE = 224  # every ground-truth map and every upsampled heatmap is GT_SIZE x GT_SIZE


@dataclass(frozen=True)
class Sample:
    """One evaluation sample: an image, the audio that goes with it, and its ground truth.

    Attributes:
        id: dataset-unique id (VGG-SS file id, IS3 image stem, Flickr id).
        image_path: the frame (jpg) on disk.
        audio_path: the positive audio (wav) on disk; for an extended-set negative this is the
            (non-matching) audio that the set pairs with the image.
        boxes: int64 ``[K, 4]`` boxes ``(xmin, ymin, xmax, ymax)`` in 224-px coordinates, half-open
            (rows ``ymin..ymax-1``, columns ``xmin..xmax-1``); ``K`` may be 0. For Flickr,
            ``annotators`` says which annotator drew each box.
        gt_rule: how boxes become the ground-truth map: ``"union"`` (VGG-SS, IS3: binary union) or
            ``"consensus"`` (Flickr: every box of every annotator added, divided by 2, clipped to 1,
            as all official parsers do; see ``vssleval.data.gt``).
        label: class label (VGG-SS / IS3 class; ``""`` when the dataset has none).
        group: the scene of the record, for the scene metrics (iIoU / iAUC): IS3's picture, whose
            two records share it. ``""`` in a dataset without scenes (VGG-SS, Flickr, the extended
            sets: one sounding object per picture); then the clean protocol reports no scene
            metrics (docs/metrics.md) and the compat protocol groups by its own name rule.
        is_negative: True for extended-set negatives (image with non-matching audio, empty GT).
        visible_labels: every class visible in the image (IS3: both objects of the scene);
            offscreen audio is drawn from outside this set.
        annotators: int ``[K]`` annotator index per box (consensus rule only).
        boxes_frac: float64 ``[K, 4]``: the same boxes as fractions of the frame, as the annotation
            wrote them (unclipped; ``vssleval.data.boxes.frame_fractions``); None when a reader
            does not know them (then ``boxes / 224``). The ``native`` protocol converts these with
            each repository's own rule (docs/protocols.md §11.3).
    """

    id: str
    image_path: Path
    audio_path: Path
    boxes: np.ndarray
    gt_rule: str = "union"
    label: str = ""
    group: str = ""
    is_negative: bool = False
    visible_labels: tuple[str, ...] = ()
    annotators: np.ndarray | None = field(default=None, compare=False)
    boxes_frac: np.ndarray | None = field(default=None, compare=False)

    def frame_boxes(self) -> np.ndarray:
        """float64 ``[K, 4]`` boxes as fractions of the frame (``boxes_frac``, else ``boxes / 224``)."""
        if self.boxes_frac is not None:
            return np.asarray(self.boxes_frac, dtype=np.float64).reshape(-1, 4)
        return np.asarray(self.boxes, dtype=np.float64).reshape(-1, 4) / GT_SIZE


def scene_groups(groups: Iterable[str]) -> list[str] | None:
    """The scene of each record (``Sample.group``, or a store's ``groups``), or None when there are
    no scenes (every entry ``""``): what the metrics' ``groups=`` takes."""
    groups = [str(g) for g in groups]
    return groups if any(groups) else None
