"""vssleval.metrics: VSSL metrics as pure functions of maps and ground truth.

Imports nothing else from vssleval (tensors/arrays in, numbers out). Batch functions take numpy
arrays or torch tensors (CPU or CUDA) ``[B, h, w]`` for maps and ``[B, 224, 224]`` for ground
truth, and return float64 numpy ``[B]`` per-sample values or plain floats.

Engine / report API (what ``vssleval evaluate`` and ``vssleval rescore`` call)::

    from vssleval.metrics import Accumulator
    acc = Accumulator(protocol="vssleval",            # or "juanola2025"
                      thresholds={"max": .6041, "max10": .6645, "maxq3": .6382},  # configs/models/<m>.yaml
                      upsample="bilinear",             # vssleval: one op for every variant;
                                                       # juanola2025: {positive, ogl, neg} from the model YAML
                      seeds=[1234, 2345])
    for seed_index, batch in ...:                      # within a seed: dataset order
        acc.update(seed_index, sample_ids, pos, silence, noise, offscreen, gt,
                   groups=scene_ids_or_None, ogl=object_maps_or_None)   # raw low-res maps
    result = acc.result()          # flat dict -> metrics.json (docs/metrics.md §7.1)
    rows = acc.per_sample_rows()   # per-sample CSV rows
    # in a training loop: Localization (update / compute / reset, synchronised across processes;
    # docs/metrics.md §6.3) wraps the same Accumulator
    # files: vssleval.report.compat.write_metrics(result, rows, out_dir)
    #        vssleval.report.compat.write_protocol_files(acc, out_dir, model_name, testset)
    #        (the protocol's own files: juanola2025's metrics/<model>_<testset>.txt and max_min/*.npy)

Building blocks: :mod:`.upsample` (``upsample``, ``minmax_normalize``), :mod:`.thresholds`,
:mod:`.overlap` (cIoU, pIA, map IoU), :mod:`.curves` (success rate, AUC, AOC, iIoU/iAUC),
:mod:`.detection` (confidence, AP, max-F1, Precision), :mod:`.calibration` (AUROC, universal
threshold, transfer), :mod:`.stats`, :mod:`.protocols` (``vssleval``, ``juanola2025``; what a
protocol is: :class:`.protocols.base.Protocol`, the registry :data:`PROTOCOLS`).
"""

from .accumulator import SCHEMA_VERSION, Accumulator, result_to_csv, rows_to_csv
from .calibration import auroc, calibrate_threshold, transfer
from .curves import GRID, aoc, auc, instance_auc, instance_iou, success_rate, trapezoid
from .detection import average_precision, confidence, extended_metrics, max_f1, precision_all_detected
from .overlap import GroundTruth, ciou, map_iou, pia
from .protocols import PROTOCOLS
from .stateful import Localization
from .stats import extremes, f_score, summary
from .thresholds import UniversalThresholds, adaptive_threshold, binarize, upper_median_threshold
from .upsample import OPS, minmax_normalize, upsample

__all__ = [
    "Accumulator", "SCHEMA_VERSION", "result_to_csv", "rows_to_csv", "auroc", "calibrate_threshold",
    "transfer", "GRID", "aoc", "auc", "instance_auc", "instance_iou", "success_rate", "trapezoid",
    "average_precision", "confidence", "extended_metrics", "max_f1", "precision_all_detected",
    "GroundTruth", "ciou", "map_iou", "pia", "PROTOCOLS", "extremes", "f_score", "summary",
    "UniversalThresholds", "adaptive_threshold", "binarize", "upper_median_threshold", "OPS",
    "minmax_normalize", "upsample", "Localization",
]
