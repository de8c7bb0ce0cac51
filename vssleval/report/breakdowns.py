"""Breakdowns of one run for ``metrics.json``, ``per_sample.csv``, ``per_class.csv`` and ``report.md``:
by object size, by class, by a published split (heard / unheard), and IS3's scene pairs.

The numbers come from :mod:`vssleval.metrics.breakdown`; the splits arrive already resolved to
per-sample membership (the API reads the dataset's id lists), so this module reads no dataset.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Mapping, Sequence

import numpy as np

from vssleval.metrics import breakdown
from vssleval.metrics.protocols.base import SeedRecords
from vssleval.report.text import csv_text, md

#: Classes shown at each end of the report's per-class table (every class is in per_class.csv).
SHOWN_CLASSES = 10


@dataclass
class Breakdowns:
    """What one run's breakdowns hold.

    ``keys``: flat ``metrics.json`` keys; ``classes``: per-class rows (empty when the run has no
    labels); ``columns``: extra ``per_sample.csv`` columns by sample index ``{name: [N] str}``;
    ``missing``: ``{section: why it is not there}``; ``splits``: ``{split: title}`` of those computed.
    """

    keys: dict[str, Any] = field(default_factory=dict)
    classes: list[dict[str, Any]] = field(default_factory=list)
    columns: dict[str, list[str]] = field(default_factory=dict)
    missing: dict[str, str] = field(default_factory=dict)
    splits: dict[str, str] = field(default_factory=dict)


def compute(seeds: Sequence[SeedRecords], fields: Mapping[str, Any] | None,
            splits: Mapping[str, Mapping[str, Any]] | None = None) -> Breakdowns:
    """Size, class and split breakdowns of a run's per-seed records (``fields``: the protocol's
    :attr:`breakdown_fields`; None: the protocol has none, every section says so)."""
    out = Breakdowns()
    if not fields:
        for section in ("size", "class", "split"):
            out.missing[section] = "this protocol's records have no breakdowns (use --protocol vssleval)"
        return out
    records = [s.records for s in seeds]
    pia = {x: f for x, f in fields["pia"].items() if f in records[0]}
    iou = fields["iou"]
    out.keys.update(breakdown.size_breakdown(records, iou, fields["area"]))
    masks = breakdown.size_bin_masks(records[0][fields["area"]])
    out.columns["size_bin"] = _labels_of(masks, len(seeds[0].ids))
    labels = seeds[0].labels
    if labels is None:
        out.missing["class"] = ("the run's heatmap store has no class labels (written by an older vssleval): "
                                "evaluate the run again")
    elif not any(labels):
        out.missing["class"] = "the dataset has no class labels"
    else:
        out.classes = breakdown.class_table(records, labels, iou, pia)
    for name, split in (splits or {}).items():
        if "parts" not in split:
            out.missing[f"split:{name}"] = f"{split.get('title', name)}: {split['missing']}"
            continue
        out.splits[name] = str(split.get("title", name))
        out.keys.update(breakdown.split_breakdown(records, split["parts"], iou))
        out.columns[name] = _labels_of(split["parts"], len(seeds[0].ids))
    # an empty bin or part has no value: null, as metrics.json writes NaN, so the API's dict equals the file
    out.keys = {k: (None if isinstance(v, float) and not np.isfinite(v) else v) for k, v in out.keys.items()}
    return out


def _labels_of(masks: Mapping[str, np.ndarray], n: int) -> list[str]:
    """Each sample's part name ("" when in none)."""
    col = np.full(n, "", dtype=object)
    for name, m in masks.items():
        col[np.asarray(m, bool)] = name
    return [str(x) for x in col]


def per_class_csv(classes: Sequence[Mapping[str, Any]]) -> str:
    """``per_class.csv``: ``class,n,ciou,auc,pia_<neg>...`` (full precision, floats as ``repr``;
    a class name holding a comma, quote or line break is quoted by :func:`vssleval.report.text.csv_text`)."""
    if not classes:
        return ""
    keys = list(classes[0])
    return csv_text([keys, *([repr(float(v)) if isinstance(v, float) else v for v in (c[k] for k in keys)]
                             for c in classes)])


def _f(v: Any) -> str:
    try:
        x = float(v)
    except (TypeError, ValueError):
        return "n/a"
    return f"{x:.3f}" if np.isfinite(x) else "n/a"


def markdown(result: Mapping[str, Any], b: Breakdowns, grid) -> list[str]:
    """The ``## Breakdowns`` section of a one-run ``report.md`` (``grid``: the Markdown table writer)."""
    lines = ["## Breakdowns", ""]
    if "size" in b.missing:
        return lines + [f"Not computed: {md(b.missing['size'])}.", ""]
    lines += ["### By object size", "",
              "Ground-truth area on the 224 x 224 grid, Mo & Morgado's bins: small < 32², medium < 96², "
              "large < 144² px, huge above (docs/metrics.md §11.3).", ""]
    rows = [[name, str(result.get(f"n_size_{name}", 0)), _f(result.get(f"ciou_size_{name}")),
             _f(result.get(f"auc_size_{name}"))] for name in ("small", "medium", "large", "huge")]
    lines += [grid(["size", "n", "cIoU@0.5", "AUC"], rows)]
    for name, title in b.splits.items():
        parts = [k[len("n_"):] for k in result if k.startswith("n_") and k[2:] in _parts_of(b, name)]
        rows = [[p, str(result.get(f"n_{p}", 0)), _f(result.get(f"ciou_{p}")), _f(result.get(f"auc_{p}"))]
                for p in parts]
        lines += [f"### {md(title[:1].upper() + title[1:])}", "", grid(["part", "n", "cIoU@0.5", "AUC"], rows)]
    for key, why in b.missing.items():
        if key.startswith("split:"):
            lines += [f"### Split {md(key[6:])}", "", f"Not computed: {md(why)}.", ""]
    lines += ["### By class", ""]
    if not b.classes:
        lines += [f"Not computed: {md(b.missing.get('class', 'no classes'))}.", ""]
    else:
        ranked = sorted(b.classes, key=lambda r: (-np.nan_to_num(r["ciou"], nan=-1.0), r["class"]))
        negs = [k for k in b.classes[0] if k.startswith("pia_")]
        header = ["class", "n", "cIoU@0.5", "AUC", *(f"pIA {k[4:]}" for k in negs)]
        show = ranked if len(ranked) <= 2 * SHOWN_CLASSES else ranked[:SHOWN_CLASSES] + ranked[-SHOWN_CLASSES:]
        if len(ranked) > 2 * SHOWN_CLASSES:
            lines += [f"The {SHOWN_CLASSES} best and {SHOWN_CLASSES} worst of {len(ranked)} classes by cIoU@0.5; "
                      "every class is in `per_class.csv`.", ""]
        rows = [[r["class"], str(r["n"]), _f(r["ciou"]), _f(r["auc"]), *(_f(r[k]) for k in negs)] for r in show]
        lines += [grid(header, rows)]
    if "iiou" in result:
        lines += ["### Scene pairs (IS3)", "",
                  "Each picture holds two sounding objects (two records); a scene counts as localized at "
                  "threshold t only when both are (iIoU = scene success rate at 0.5, iAUC its area).", "",
                  grid(["metric", "value"], [["iIoU", _f(result.get("iiou"))], ["iAUC", _f(result.get("iauc"))],
                                             ["iIoU_adap", _f(result.get("iiou_adap"))],
                                             ["iAUC_adap", _f(result.get("iauc_adap"))]])]
    return lines


def _parts_of(b: Breakdowns, split: str) -> set[str]:
    return set(b.columns.get(split, [])) - {""}
