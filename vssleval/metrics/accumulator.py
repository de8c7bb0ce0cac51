"""Streaming accumulation: per-sample scalars in, one flat result dict out; maps are never kept.

Memory is O(number of samples x ~100 scalars), independent of map size: each ``update`` turns
its batch of maps into per-sample scalars (protocol ``sample_records``) and drops the maps.
"""

from __future__ import annotations

import platform
import sys
from importlib import metadata
from typing import Any, Mapping, Sequence

import numpy as np

from ._array import Array, check_maps, check_same_batch
from .protocols import Protocol, SeedRecords, get_protocol
from .protocols.base import pooled

SCHEMA_VERSION = 1


def _version(pkg: str) -> str:
    """``pkg``'s version: the loaded module's ``__version__`` (torch's names its build, ``2.5.1+cpu``),
    else the installed distribution's."""
    loaded = getattr(sys.modules.get(pkg), "__version__", None)
    if isinstance(loaded, str):
        return loaded
    try:
        return metadata.version(pkg)
    except metadata.PackageNotFoundError:
        return "unknown"


class Accumulator:
    """Collects per-sample metric scalars over batches and seeds; :meth:`result` aggregates.

    Args:
        protocol: a registered protocol name (``"vssleval"``, the clean default, or
            ``"juanola2025"``, vssl_eval compat; see :data:`vssleval.metrics.PROTOCOLS`) or a
            :class:`~vssleval.metrics.protocols.Protocol` object.
        thresholds: universal thresholds on the raw map scale. For ``juanola2025`` a
            :class:`UniversalThresholds` or mapping ``{max, max10, maxq3}`` (required); for
            ``vssleval`` any mapping ``{name: value}`` (may be empty).
        upsample: ``vssleval``: one op name for every variant (default ``"bilinear"``);
            ``juanola2025``: a ``{positive, ogl, neg}`` mapping of op names (required). Which ops
            vssl_eval used depends on the model and test set, a fact of the model's YAML, so
            the caller passes them (``Protocol.prepare``; ``vssleval.engine.scoring.upsample_plan_for``).
        seeds: optional seed values (reported; index i of ``update`` means ``seeds[i]``).
        bootstrap: number of bootstrap resamples for the CIs (0 disables).
        settings: per-model evaluator settings (:meth:`Protocol.model_settings`); none for the
            two built-in protocols.

    Examples:
    >>> import numpy as np
    >>> gt = np.zeros((2, 224, 224), np.float32); gt[:, :, :112] = 1   # object: the left half
    >>> pos = np.zeros((2, 7, 7), np.float32); pos[:, :, :3] = 1.0    # map lights the left 3/7
    >>> silence = np.full((2, 7, 7), 0.2, np.float32)                 # flat: predicts everything
    >>> acc = Accumulator(protocol="vssleval", upsample="bilinear", seeds=[1234], bootstrap=0)
    >>> acc.update(0, ["a", "b"], pos, silence=silence, gt=gt)
    >>> r = acc.result()
    >>> r["ciou"], r["pia_silence_med"], r["auroc_max_silence"]
    (1.0, 1.0, 1.0)
    >>> round(r["auc"], 6)       # both IoUs lie in [0.95, 1): the curve is 1 up to t = 0.95
    0.975
    """

    def __init__(self, protocol: str | Protocol = "vssleval", thresholds: Any = None, upsample: Any = None,
                 seeds: Sequence[int] | None = None, bootstrap: int = 200,
                 settings: Mapping[str, Any] | None = None):
        self.rules = get_protocol(protocol)  # ValueError for an unknown name
        self.protocol = self.rules.name
        self.seeds = list(seeds) if seeds is not None else None
        self.bootstrap = bootstrap
        self.setup = self.rules.setup(thresholds, upsample, settings)
        self.thresholds, self.ops = self.setup.thresholds, self.setup.ops
        self._records: dict[int, list[dict[str, np.ndarray]]] = {}
        self._ids: dict[int, list[str]] = {}
        self._groups: dict[int, list[str]] = {}
        self._labels: dict[int, list[str]] = {}

    def update(self, seed_index: int, sample_ids: Sequence[str], positive: Array, silence: Array | None = None,
               noise: Array | None = None, offscreen: Array | None = None, gt: Array | None = None,
               groups: Sequence[str] | None = None, ogl: Array | None = None,
               boxes: np.ndarray | None = None, labels: Sequence[str] | None = None,
               extremes: Mapping[str, Array] | None = None, confidence: Array | None = None) -> None:
        """Add one batch of one seed.

        Args:
            seed_index: 0-based seed repetition. Within a seed, batches must arrive in dataset
                order (the compat protocol's lists are seed-major, dataset-ordered).
            sample_ids: ``B`` sample ids (compat: the dataset ``name``, e.g. ``<id>.jpg``).
            positive, silence, noise, offscreen: raw low-resolution maps ``[B, h, w]`` (torch or
                numpy, CPU or CUDA), raw model scale; a negative may be None unless the
                protocol requires it (``negatives_required``).
            gt: ``[B, 224, 224]`` ground truth with values in [0, 1].
            groups: ``B`` scene ids for iIoU/iAUC (compat: derived from ``sample_ids`` with the
                reference's string rule when None).
            ogl: raw object-saliency maps ``[B, h', w']`` (required when the protocol
                ``needs_ogl``).
            boxes: the annotation's boxes as fractions of the frame, float64 ``[B, K, 4]`` with
                NaN rows after each sample's last box (required when the protocol ``needs_boxes``).
            labels: ``B`` class labels (per-class breakdown and the ``label`` column of
                :meth:`per_sample_rows`); give them for every batch or for none.
            extremes: ``{variant: [B, 2]}`` the (max, min) of the raw maps, for maps given in
                another form than the model returned them (a store that keeps them resized,
                docs/models.md §2.8): the raw-scale statistics and the flat-map rule use them.
            confidence: the model's ``B`` per-sample scores of the positive pairs (the store's
                ``confidence``), passed on to a protocol that ``reads_confidence``.
        Raises:
            ValueError: wrong ranks, batch sizes that differ (all shapes named), missing inputs.
        """
        one_seed = {k: [e] if k in ("noise", "offscreen") else e for k, e in (extremes or {}).items()}
        self.update_seeds([seed_index], sample_ids, positive, silence=silence,
                          noise=None if noise is None else [noise], offscreen=None if offscreen is None else [offscreen],
                          gt=gt, groups=groups, ogl=ogl, boxes=boxes, labels=labels,
                          extremes=one_seed or None, confidence=confidence)

    def update_seeds(self, seed_indices: Sequence[int], sample_ids: Sequence[str], positive: Array,
                     silence: Array | None = None, noise: Sequence[Array] | None = None,
                     offscreen: Sequence[Array] | None = None, gt: Array | None = None,
                     groups: Sequence[str] | None = None, ogl: Array | None = None,
                     boxes: np.ndarray | None = None, labels: Sequence[str] | None = None,
                     extremes: Mapping[str, Any] | None = None, confidence: Array | None = None) -> None:
        """Add one batch for several seeds at once (same records as one :meth:`update` per seed).

        ``noise`` and ``offscreen`` hold one map ``[B, h, w]`` per seed of ``seed_indices`` (a list,
        or an array ``[S, B, h, w]``); the positive and silence maps are the same in every seed, so
        the protocol may score them once (:meth:`Protocol.seeds_sample_records`). The other
        arguments are :meth:`update`'s.
        ``extremes`` holds ``[B, 2]`` for positive and silence and, like the maps, one ``[B, 2]``
        per seed for noise and offscreen.
        """
        seed_indices = list(seed_indices)
        if not seed_indices:
            raise ValueError("update_seeds needs at least one seed index")
        per_seed = {"noise": noise, "offscreen": offscreen}
        for k, m in per_seed.items():
            if m is not None and len(m) != len(seed_indices):
                raise ValueError(f"{k} has {len(m)} maps for {len(seed_indices)} seeds")
        shared = len(seed_indices)  # the same object for every seed: the protocol may score it once
        maps = {"positive": [positive] * shared, "silence": None if silence is None else [silence] * shared,
                "noise": None if noise is None else list(noise), "offscreen": None if offscreen is None else list(offscreen)}
        for k, ms in maps.items():
            for m in {id(m): m for m in ms or ()}.values():
                check_maps(k, m)
        if gt is None:
            raise ValueError("gt [B,224,224] is required")
        check_maps("gt", gt)
        shapes = {f"{k}[{i}]" if k in per_seed and len(ms) > 1 else k: tuple(m.shape)
                  for k, ms in maps.items() if ms is not None for i, m in enumerate(ms)}
        shapes["gt"] = tuple(gt.shape)
        if ogl is not None:
            check_maps("ogl", ogl)
            shapes["ogl"] = tuple(ogl.shape)
        check_same_batch(shapes)
        b = tuple(positive.shape)[0]
        if len(sample_ids) != b:
            raise ValueError(f"sample_ids has length {len(sample_ids)} but positive has shape {tuple(positive.shape)}")
        for name, given in (("groups", groups), ("labels", labels)):
            if given is not None and len(given) != b:
                raise ValueError(f"{name} has length {len(given)} but positive has shape {tuple(positive.shape)}")
        self.rules.check_inputs({k: None if ms is None else ms[0] for k, ms in maps.items()}, ogl)
        extra = {}
        if self.rules.needs_boxes:
            if boxes is None or np.ndim(boxes) != 3 or np.shape(boxes)[0] != b or np.shape(boxes)[2] != 4:
                raise ValueError(f"protocol {self.protocol} needs boxes [B={b}, K, 4], got "
                                 f"{None if boxes is None else np.shape(boxes)}")
            extra["boxes"] = np.asarray(boxes, dtype=np.float64)
        if extremes:
            # the maps' per-seed form: one [B, 2] per seed for noise and offscreen, one for all else
            known = {k: list(e) if k in per_seed else [e] for k, e in extremes.items()}
            for k, per in known.items():
                given = maps.get(k)
                if given is None or (k in per_seed and len(per) != len(given)) or \
                        any(tuple(np.shape(x)) != (b, 2) for x in per):
                    raise ValueError(f"extremes[{k!r}] must be [B={b}, 2] (max, min) of a given map"
                                     f"{', one per seed' if k in per_seed else ''}, got {np.shape(extremes[k])}")
            extra["extremes"] = known
        if self.rules.reads_confidence:
            extra["confidence"] = None if confidence is None else np.asarray(confidence, dtype=np.float64)
            if confidence is not None and extra["confidence"].shape != (b,):
                raise ValueError(f"confidence has shape {extra['confidence'].shape} but positive has shape "
                                 f"{tuple(positive.shape)}")
        records = self.rules.seeds_sample_records(maps, gt, ogl, self.setup, **extra)
        grp = self.rules.groups(sample_ids, groups)
        for seed_index, rec in zip(seed_indices, records):
            self.add_records(seed_index, sample_ids, rec, grp, labels)

    def add_records(self, seed_index: int, sample_ids: Sequence[str], records: Mapping[str, np.ndarray],
                    groups: Sequence[str] | None = None, labels: Sequence[str] | None = None) -> None:
        """Add per-sample scalars that an accumulator with the same setup already computed (another
        process's :meth:`seed_records`): the records of :meth:`update`, without the map work.

        Args:
            seed_index: 0-based seed repetition; sample_ids: ``n`` ids.
            records: ``{field: [n]}`` (float64 per protocol), the same fields as the seed's other batches.
            groups, labels: ``n`` scene groups and class labels, or None (as in :meth:`update`).
        Raises:
            ValueError: a field of another length than ``sample_ids``, or other fields than the
                seed's earlier batches.
        """
        n = len(sample_ids)
        rec = {str(k): np.asarray(v) for k, v in records.items()}
        wrong = {k: v.shape for k, v in rec.items() if v.shape[:1] != (n,)}
        if wrong:
            raise ValueError(f"records must be [n={n}, ...] per field, got {wrong}")
        earlier = self._records.get(seed_index)
        if earlier and set(earlier[0]) != set(rec):
            raise ValueError(f"records hold fields {sorted(set(rec) ^ set(earlier[0]))} that the seed's other "
                             "batches do not (or lack them)")
        for name, given in (("groups", groups), ("labels", labels)):
            if given is not None and len(given) != n:
                raise ValueError(f"{name} has length {len(given)} for {n} samples")
        self._records.setdefault(seed_index, []).append(rec)
        self._ids.setdefault(seed_index, []).extend(str(s) for s in sample_ids)
        if groups is not None:
            self._groups.setdefault(seed_index, []).extend(str(g) for g in groups)
        if labels is not None:
            self._labels.setdefault(seed_index, []).extend(str(x) for x in labels)

    # ------------------------------------------------------------------------------------------
    def _seed_records(self) -> list[tuple[int, dict[str, np.ndarray]]]:
        out = []
        for s in sorted(self._records):
            parts = self._records[s]
            out.append((s, {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}))
        return out

    def seed_records(self) -> list[SeedRecords]:
        """Every seed's per-sample scalars, ids, scene groups and labels, seeds in order (labels
        only when every batch of the seed had them)."""
        return [SeedRecords(s, rec, self._ids[s], self._whole(self._groups, s), self._whole(self._labels, s))
                for s, rec in self._seed_records()]

    def _whole(self, column: dict[int, list[str]], seed: int) -> list[str] | None:
        """A string column (groups, labels) of ``seed`` when every batch gave it, else None (a
        column given for some batches only would not line up with the records)."""
        values = column.get(seed)
        return values if values is not None and len(values) == len(self._ids[seed]) else None

    def _meta(self) -> dict[str, Any]:
        counts = {s: len(self._ids[s]) for s in sorted(self._ids)}
        return {
            "schema_version": SCHEMA_VERSION, "protocol": self.protocol,
            "seeds": self.seeds if self.seeds is not None else sorted(self._records),
            "n_seeds": len(self._records), "n_samples": (min(counts.values()) if counts else 0),
            "n_samples_total": int(sum(counts.values())),
            "versions": {"vssleval": _version("vssleval"), "numpy": np.__version__,
                         "torch": _version("torch"), "python": platform.python_version()},
        }

    def compat_records(self) -> tuple[dict[str, np.ndarray], list[str]]:
        """Seed-major concatenated per-sample scalars and scene keys (juanola2025)."""
        return pooled(self.seed_records())

    def result(self) -> dict[str, Any]:
        """Aggregate everything accumulated so far into one flat dict (keys: docs/metrics.md §7).

        The meta keys, then the protocol's own (:meth:`Protocol.aggregate`). ``vssleval``: every
        per-seed metric ``k`` as the mean over seeds plus ``k_std`` (sample std, ddof=1; 0.0 with
        one seed), bootstrap CIs ``ciou_ci95_low/high``, ``auc_ci95_*``. ``juanola2025``: the 164
        reference keys (x100, pooled over seeds).
        """
        if not self._records:
            raise ValueError("no samples accumulated")
        counts = {len(self._ids[s]) for s in self._ids}
        if len(counts) > 1:
            raise ValueError(f"seeds have different sample counts: { {s: len(i) for s, i in self._ids.items()} }")
        out = self._meta()
        out.update(self.rules.aggregate(self.seed_records(), self.setup, self.bootstrap))
        return out

    def extra_files(self, model_name: str, testset: str) -> dict[str, str | bytes]:
        """The protocol's files besides ``metrics.json`` (``{relative path: text or bytes}``)."""
        return self.rules.extra_files(self.seed_records(), self.setup, model_name, testset)

    def per_sample_rows(self) -> list[dict[str, Any]]:
        """One row per (seed, sample): ``seed_index``, ``sample_id``, ``label`` (when the
        accumulator got labels), then every scalar."""
        rows = []
        for s, rec in self._seed_records():
            ids = self._ids[s]
            labels = self._whole(self._labels, s)
            keys = list(rec)
            for i, sid in enumerate(ids):
                head = {"seed_index": s, "sample_id": sid} | ({"label": labels[i]} if labels is not None else {})
                rows.append({**head, **{k: float(rec[k][i]) for k in keys}})
        return rows


def result_to_csv(result: Mapping[str, Any]) -> str:
    """``metrics.csv`` text: ``key,value`` rows for every scalar of a :meth:`Accumulator.result`.

    Examples:
    >>> print(result_to_csv({"ciou": 0.5, "n_samples": 2, "protocol": "vssleval"}), end="")
    key,value
    ciou,0.5
    n_samples,2.0
    """
    lines = ["key,value"]
    for k, v in result.items():
        if isinstance(v, (int, float, np.floating, np.integer)) and not isinstance(v, bool):
            lines.append(f"{k},{float(v)!r}")
    return "\n".join(lines) + "\n"


def rows_to_csv(rows: Sequence[Mapping[str, Any]]) -> str:
    """Per-sample CSV text (header from the first row; floats with repr precision).

    Examples:
    >>> print(rows_to_csv([{"sample_id": "a", "ciou": 0.25}, {"sample_id": "b", "ciou": 1.0}]), end="")
    sample_id,ciou
    a,0.25
    b,1.0
    """
    if not rows:
        return ""
    keys = list(rows[0])
    out = [",".join(keys)]
    for r in rows:
        out.append(",".join(_csv_cell(r[k]) for k in keys))
    return "\n".join(out) + "\n"


def _csv_cell(v: Any) -> str:
    if isinstance(v, float):
        return repr(v)
    s = str(v)
    if any(c in s for c in ',"\n\r'):  # a bare \r ends a line for CSV readers too
        s = '"' + s.replace('"', '""') + '"'
    return s
