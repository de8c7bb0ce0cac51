"""vssleval.data: files on disk → :class:`Sample` records, ground-truth maps, negative audio, synthetic data.

Public entry points::

    load_dataset(name, data_dir=None, *, check_files=True, skip_bad=False, options=None) -> Dataset
    list_datasets() -> list[str]
    gt_map(sample) -> float32 [224, 224]           boxes_to_map(boxes, rule) -> float32 [224, 224]
    size_bin(area) -> "small" | "medium" | "large" | "huge"
    noise(seed, index, length) / silence(length) -> float64 [length]
    Dataset.offscreen_pool().draw(seed, index, sample) -> OffscreenDraw
    synth(layout, n, seed, out, split="test")      default_synthetic_dir(layout, n=200, seed=0)
"""

from vssleval.data.checks import Skip
from vssleval.data.gt import SIZE_BINS, boxes_to_map, gt_area, gt_map, size_bin
from vssleval.data.negatives import OffscreenDraw, OffscreenPool, noise, silence
from vssleval.data.registry import Dataset, get_config, list_datasets, load_dataset
from vssleval.data.types import GT_SIZE, Sample

__all__ = ["GT_SIZE", "SIZE_BINS", "Dataset", "OffscreenDraw", "OffscreenPool", "Sample", "Skip", "boxes_to_map",
           "get_config", "gt_area", "gt_map", "list_datasets", "load_dataset", "noise", "silence", "size_bin"]
