"""ACL-SSL's evaluator for VGG-SS (``Eval.py`` + ``VGGSS/eval_utils.py``; docs/protocols.md §11.4).

The raw map the model returns is the heatmap's logit at 352 px (decoder logits + ``b / w``,
docs/models.md §17); the store keeps it already resized by the evaluator's own bicubic call
(``map.store``, docs/models.md §2.8), which the resize below then leaves as it is. The evaluator's
map is ``sigmoid(bicubic_224(raw))`` (torch bicubic, align_corners=False, no antialias), float32,
in absolute units: no min-max. The repository builds
one evaluator per threshold of a fixed sweep ``0.05, 0.10, ..., 0.95`` and, for each, keeps the
pixels **>=** the threshold (the float32 value of the Python float), cIoU = inter / (sum(GT) +
sum(mask outside GT)) in float64 with no epsilon (an empty GT and an empty mask give NaN, which
fails every success threshold). Boxes: clip to [0, 1], x 224, truncate (as EZ-VSL).

Dataset numbers, per sweep threshold ``t`` (as fractions; the repository prints them x 100):
``AP50(cIoU)@t`` = the success rate at cIoU 0.5 (not an average precision) and ``AUC@t`` = the
21-point AUC of the per-sample cIoU. The headline (``ciou``, ``auc``) is the value at ``t = 0.5``,
a threshold fixed before seeing the data. The repository's ``best_AUC`` (the maximum over the 19
thresholds, which chose the released checkpoint) is kept apart under keys that say it was
selected on the test set, with the threshold that gives it.

The repository scores the extended sets with other code (AP / max-F1 with the model's confidence):
:mod:`.aclssl_extended`, which the YAML names for that layout. This evaluator declares the layouts
its code covers, so the protocol refuses the others.
"""

from __future__ import annotations

import numpy as np

from ._base import Inputs, NativeEvaluator
from ._common import auc, ciou_counts, rate, upsample_torch

#: the sweep as ``Eval.py`` writes it (Python floats; compared with the float32 map as float32)
THRESHOLDS = (0.05, 0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7, 0.75, 0.8, 0.85,
              0.9, 0.95)
#: the sweep threshold whose numbers are the headline (fixed in advance, not chosen on the data)
HEADLINE_THRESHOLD = 0.5
#: the note carried by the numbers chosen over the sweep on the scored set itself
SELECTED = "selected_on_test"


def column(t: float) -> str:
    """Per-sample cIoU column of sweep threshold ``t``: ``ciou_t05`` ... ``ciou_t95``."""
    return f"ciou_t{round(100 * t):02d}"


def heatmap(raw: np.ndarray) -> np.ndarray:
    """The official test map ``[B, 224, 224]`` float32 in (0, 1): torch bicubic to 224 of the raw
    logits (any input size), then ``torch.sigmoid``."""
    import torch  # here, not at import: vssleval.metrics imports no torch (metrics/_array.py)

    up = upsample_torch(raw, "bicubic")
    return torch.sigmoid(torch.from_numpy(up)).numpy()


def sweep(heat: np.ndarray, gt: np.ndarray, counts=ciou_counts) -> dict:
    """Per-sample columns of the 19 evaluators on ready heatmaps ``[B, 224, 224]`` (float32) and
    binary GT ``[B, 224, 224]``: ``ciou_tXX`` for each threshold, and ``ciou`` / ``inter`` /
    ``union`` / ``threshold`` of the headline threshold. ``counts(mask, gt)``: the cIoU rule
    (:func:`ciou_counts`; the extended evaluator's adds an epsilon)."""
    heat = np.asarray(heat, np.float32)
    out = counts(heat >= np.float32(HEADLINE_THRESHOLD), gt)
    out["threshold"] = np.full(len(heat), HEADLINE_THRESHOLD)
    for t in THRESHOLDS:
        out[column(t)] = out["ciou"] if t == HEADLINE_THRESHOLD else counts(heat >= np.float32(t), gt)["ciou"]
    return out


def per_sample(s: Inputs) -> dict:
    return sweep(heatmap(s.raw), s.gt)


def best_over_sweep(values: dict[float, float]) -> tuple[float, float]:
    """``(max value, its threshold)``: the first (lowest) threshold on ties, as ``Eval.py``'s strict
    ``>`` update keeps it; NaN values never win (NaN when all are NaN)."""
    best, at = float("nan"), float("nan")
    for t, v in values.items():
        if not np.isnan(v) and (np.isnan(best) or v > best):
            best, at = v, t
    return best, at


def dataset(cols) -> dict:
    """Every threshold's ``AP50(cIoU)@t`` / ``AUC@t``, the headline at 0.5 and the test-selected best."""
    ap50 = {t: rate(np.asarray(cols[column(t)], np.float64)) for t in THRESHOLDS}
    area = {t: auc(np.asarray(cols[column(t)], np.float64)) for t in THRESHOLDS}
    out: dict = {"ciou": ap50[HEADLINE_THRESHOLD], "auc": area[HEADLINE_THRESHOLD]}
    out.update(sweep_numbers({"AP50(cIoU)": ap50, "AUC": area}))
    out["n_samples"] = len(np.asarray(cols["ciou"]))
    return out


def sweep_numbers(rows: dict[str, dict[float, float]]) -> dict:
    """``<name>@<t>`` of every row ``{name: {threshold: value}}`` at each sweep threshold, then per
    row its best over the sweep and that threshold, under keys that say they were selected on the
    scored set (:func:`sweep_keys`)."""
    out = {f"{name}@{t:g}": values[t] for t in THRESHOLDS for name, values in rows.items()}
    for name, values in rows.items():
        out[f"best_{name}_{SELECTED}"], out[f"best_{name}_threshold_{SELECTED}"] = best_over_sweep(values)
    return out


def sweep_keys(names: tuple[str, ...]) -> tuple[str, ...]:
    """The keys :func:`sweep_numbers` writes for rows ``names`` (an evaluator's own names)."""
    return tuple(f"{name}@{t:g}" for t in THRESHOLDS for name in names) + tuple(
        key for name in names for key in (f"best_{name}_{SELECTED}", f"best_{name}_threshold_{SELECTED}"))


_OWN = sweep_keys(("AP50(cIoU)", "AUC"))

ACLSSL = NativeEvaluator(
    "aclssl", "swimmiing/ACL-SSL@57f4a6c (Eval.py, VGGSS/eval_utils.py)", "clip",
    "torch bicubic align_corners=False on the logits; sigmoid; >= each of 0.05..0.95 (headline 0.5)",
    per_sample, dataset, _OWN, upsample="bicubic", normalize="sigmoid",
    layouts=("vggss", "flickr"))  # the extended sets have their own evaluator (aclssl_extended.py)
