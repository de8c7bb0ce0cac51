"""One native evaluator: a repository's box rule, its per-sample rule and its dataset numbers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Mapping, Sequence

import numpy as np

from ... import resampling as rs
from ..._array import to_numpy
from ._common import as_maps, check_gt, gt_maps

#: the statistics of the evaluators whose ``ciou`` / ``auc`` are the success rate at 0.5 and the
#: 21-point AUC of the per-sample ``ciou`` column (NaN fails): one object each, shared, so two runs
#: scored by such evaluators are paired under the same rule
RATE_STATISTICS: Mapping[str, rs.Stat] = {"ciou": rs.success_of("ciou"), "auc": rs.auc_of("ciou")}

#: headline keys every evaluator's dataset result carries (``ap`` / ``max_f1`` only where the
#: evaluator computes them): ``ciou`` = its success rate at IoU 0.5, ``auc`` = its 21-point AUC
HEADLINE = ("ciou", "auc", "ap", "max_f1")


@dataclass(frozen=True)
class Inputs:
    """What a per-sample rule sees: float32 raw maps ``[B, h, w]``, uint8 GT ``[B, 224, 224]``,
    the number of boxes per sample, the sample names and, where the run stored one, the model's
    per-sample confidence ``[B]`` (None otherwise)."""

    raw: np.ndarray
    gt: np.ndarray
    n_boxes: np.ndarray
    names: list[str]
    confidence: np.ndarray | None = None


@dataclass(frozen=True)
class NativeEvaluator:
    """A repository's own evaluator as pure functions (docs/protocols.md §11).

    Attributes:
        name: registry name (what a model YAML's ``native_evaluator`` says).
        repository: ``owner/name@commit`` whose evaluator this reproduces.
        box_rule: how normalised boxes become pixels (``clip``, ``floor0``, ``raw``; see ``_common``).
        rule: one line: upsampling, normalisation, threshold, comparison.
        per_sample: ``Inputs -> {column: [B] array}``; must hold ``ciou`` (the IoU it thresholds).
        dataset: ``columns -> {key: value}``; must hold ``ciou`` and ``auc`` (see :data:`HEADLINE`).
        own_keys: the evaluator's own names of its dataset numbers.
        upsample: the op its code upsamples raw maps with (``vssleval.metrics.upsample`` names);
            the ``native`` protocol checks it against the model YAML's native preset.
        normalize: the normalisation its code applies to the upsampled map, which the model YAML's
            native preset must record as ``map.normalize`` (the ``native`` protocol checks it);
            empty: not checked.
        layouts: the test-set layouts (``vggss``, ``flickr``, ``is3``, ``extended``) its repository
            scores with this code; empty: any. The ``native`` protocol refuses a run on another.
        sample_name: vssleval sample id -> the name the repository's data loader gives the sample
            (what its grouped metrics read); identity by default.
        labels: names -> string columns the dataset numbers read (SSL-Align's iIoU groups); kept
            apart from the numeric per-sample columns.
        needs_confidence: its per-sample rule reads the model's confidence of each sample (the
            store's ``confidence`` member, written by a model with the ``confidence`` hook); the
            ``native`` protocol refuses a store without one.
        statistics: headline key -> its statistic over the per-sample columns
            (:mod:`vssleval.metrics.resampling`), equal to ``dataset(columns)[key]`` on any row set;
            the bootstrap intervals and ``--compare`` of the ``native`` protocol use it.
    """

    name: str
    repository: str
    box_rule: str
    rule: str
    per_sample: Callable[[Inputs], dict]
    dataset: Callable[[Mapping[str, np.ndarray]], dict]
    own_keys: tuple[str, ...] = field(default=())
    upsample: str = ""
    normalize: str = ""
    layouts: tuple[str, ...] = ()
    sample_name: Callable[[str], str] = str
    labels: Callable[[Sequence[str]], dict] | None = None
    needs_confidence: bool = False
    statistics: Mapping[str, rs.Stat] = field(default_factory=lambda: RATE_STATISTICS)

    def gt(self, boxes: Sequence[Sequence]) -> np.ndarray:
        """GT maps by this repository's conversion of normalised boxes (one list per sample)."""
        return gt_maps(boxes, self.box_rule)

    def samples(self, raw, boxes: Sequence[Sequence] | None = None, *, gt=None,
                n_boxes: Sequence[int] | None = None, names: Sequence[str] | None = None,
                confidence=None) -> dict:
        """Per-sample columns for raw maps and either normalised ``boxes`` (converted by this
        repository's rule) or ready ``gt`` maps (then ``n_boxes`` defaults to 1 for a non-empty
        GT and 0 for an empty one); ``confidence``: the model's ``[B]`` scores, for an evaluator
        that reads them (``needs_confidence``)."""
        x = as_maps(raw)
        if (boxes is None) == (gt is None):
            raise ValueError("give exactly one of boxes and gt")
        if boxes is not None:
            if len(boxes) != len(x):
                raise ValueError(f"{len(boxes)} box lists for {len(x)} maps")
            g = self.gt(boxes)
            nb = np.array([len(b) for b in boxes], np.int64) if n_boxes is None else np.asarray(n_boxes, np.int64)
        else:
            g = check_gt(gt, len(x))
            nb = (g.reshape(len(g), -1).any(1).astype(np.int64) if n_boxes is None
                  else np.asarray(n_boxes, np.int64))
        names = [str(i) for i in range(len(x))] if names is None else [str(n) for n in names]
        if len(names) != len(x) or len(nb) != len(x):
            raise ValueError("names / n_boxes must have one entry per map")
        conf = None if confidence is None else np.asarray(to_numpy(confidence), np.float64).reshape(-1)
        if conf is not None and len(conf) != len(x):
            raise ValueError(f"{len(conf)} confidences for {len(x)} maps")
        out = self.per_sample(Inputs(x, g, nb, names, conf))
        out.setdefault("n_boxes", nb)
        if self.labels is not None:
            out.update(self.labels(names))
        return out

    def aggregate(self, columns: Mapping[str, np.ndarray]) -> dict:
        return self.dataset(columns)

    def evaluate(self, raw, boxes=None, *, gt=None, n_boxes=None, names=None, confidence=None) -> tuple[dict, dict]:
        """``(per-sample columns, dataset numbers)``."""
        cols = self.samples(raw, boxes, gt=gt, n_boxes=n_boxes, names=names, confidence=confidence)
        return cols, self.aggregate(cols)
