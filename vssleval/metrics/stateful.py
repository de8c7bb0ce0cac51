"""Stateful metrics for a training or validation loop: ``update`` per batch, ``compute`` once, across processes.

:class:`Localization` is :class:`~.accumulator.Accumulator` (the engine's own scoring, so its numbers
are ``evaluate``'s) behind the ``update`` / ``compute`` / ``reset`` interface of a training loop:
each batch is reduced to the protocol's per-sample scalars at once and the maps are dropped, and
``compute`` gathers those scalars from every ``torch.distributed`` process, orders them by sample id
and aggregates them. docs/metrics.md §6.3 is the user's guide.
"""

from __future__ import annotations

from typing import Any, Hashable, Mapping, Sequence

import numpy as np

from ._array import Array, check_maps, check_same_batch, is_torch, to_numpy
from .accumulator import Accumulator
from .protocols import NEGATIVES, Protocol, get_protocol
from ..vocabulary import OGL, POSITIVE


class Localization:
    """Localization metrics of one protocol, fed batch by batch, synchronised across processes.

    Args:
        protocol: ``"vssleval"`` (the clean default), ``"juanola2025"`` or ``"native"`` (or a
            :class:`~vssleval.metrics.protocols.Protocol` object); docs/protocols.md.
        negatives: the negative variants (``silence``, ``noise``, ``offscreen``) every sample gets
            before it is scored; default: those the protocol requires (none for ``vssleval`` and
            ``native``, all three for ``juanola2025``, which also needs the ``ogl`` object maps).
        thresholds, upsample, settings: what the samples are scored with, as
            :class:`~.accumulator.Accumulator` takes them: universal thresholds on the raw map scale
            (``vssleval``: any ``{name: value}``, may be empty; ``juanola2025``: ``{max, max10,
            maxq3}``); the upsampling op (``vssleval``: one op for every variant, default
            ``"bilinear"``; ``juanola2025``: ``{positive, ogl, neg}``; ``native``: the evaluator's);
            ``native``: ``settings={"evaluator": name}``.
        bootstrap: resamples of the bootstrap intervals (0, the default here: none).
        seed: the seed value recorded in the result's ``seeds`` (default 0).
        process_group: the ``torch.distributed`` group :meth:`compute` gathers over (default: the
            whole world).

    Maps: raw maps ``[B, h, w]`` on the model's own scale (torch on any device, or numpy; any
    ``h, w``), before any upsampling or normalisation: the protocol upsamples each to 224 x 224 with
    its op (a map already 224 x 224 is used as it is) and thresholds it by its rules
    (docs/metrics.md §2.3-§2.4; ``native`` upsamples and normalises as the model's repository does).
    Targets: ground-truth maps ``[B, 224, 224]`` in [0, 1] (docs/metrics.md §2.1), or a mapping
    ``{"gt": ..., "boxes": ...}`` whose ``boxes`` are the annotation's boxes as fractions of the
    frame, ``[B, K, 4]`` NaN-padded (``native`` reads them).

    Memory: the per-sample scalars of the protocol, float64, plus each sample's id (and group and
    label when given); no map is kept once all of a sample's variants have arrived. Under
    ``vssleval`` a sample holds 7 scalars (56 bytes) for the positive map alone, 6 more per
    negative, and 1 more per universal threshold plus 2 per (threshold, negative): 46 scalars (368
    bytes) with three negatives and three thresholds. Under ``juanola2025``, 98 scalars (784 bytes).
    A sample whose variants come in separate :meth:`update` calls keeps its raw maps and
    ground truth until its last variant arrives.

    Examples:
    >>> import numpy as np
    >>> gt = np.zeros((2, 224, 224), np.float32); gt[:, :, :112] = 1   # object: the left half
    >>> pos = np.zeros((2, 7, 7), np.float32); pos[:, :, :3] = 1.0     # map lights the left 3/7
    >>> metric = Localization(negatives=["silence"])
    >>> metric.update(pos, gt, ids=[0, 1])                              # the positive audio
    >>> metric.update(np.full((2, 7, 7), 0.2, np.float32), gt, variant="silence", ids=[0, 1])
    >>> r = metric.compute()
    >>> r["ciou"], r["pia_silence_med"], r["n_samples"]
    (1.0, 1.0, 2)
    """

    def __init__(self, protocol: str | Protocol = "vssleval", negatives: Sequence[str] | None = None,
                 thresholds: Any = None, upsample: Any = None, settings: Mapping[str, Any] | None = None,
                 bootstrap: int = 0, seed: int | None = None, process_group: Any = None):
        self.rules = get_protocol(protocol)
        negatives = tuple(self.rules.negatives_required if negatives is None else negatives)
        unknown = [n for n in negatives if n not in NEGATIVES]
        missing = [n for n in self.rules.negatives_required if n not in negatives]
        if unknown or missing:
            raise ValueError(f"negatives {list(negatives)}: protocol {self.rules.name} scores "
                             f"{list(self.rules.negatives_required) or 'any of ' + str(list(NEGATIVES))}"
                             + (f"; unknown {unknown}" if unknown else f"; missing {missing}"))
        #: the map variants every sample needs before it is scored, in order
        self.variants = (POSITIVE, *[n for n in NEGATIVES if n in negatives], *((OGL,) if self.rules.needs_ogl else ()))
        self._options = dict(protocol=self.rules, thresholds=thresholds, upsample=upsample, settings=settings,
                             bootstrap=bootstrap, seeds=[0 if seed is None else int(seed)])
        self.process_group = process_group
        self._new()  # a bad setup (thresholds, op) is refused here, before any batch
        self.reset()

    def _new(self) -> Accumulator:
        return Accumulator(**self._options)

    def reset(self) -> None:
        """Forget every sample (the setup stays)."""
        self._acc = self._new()
        self._keys: list[Hashable] = []  # the scored samples' ids, in the accumulator's order
        self._pending: dict[Hashable, dict[str, Any]] = {}  # id -> what arrived of a sample so far
        self._arrived: dict[str, int] = {}  # variant -> samples given without ids so far
        self._auto: bool | None = None  # whether ids are arrival numbers (None: no batch yet)

    # ------------------------------------------------------------------------------------------
    def update(self, maps: Array | Mapping[str, Array], targets: Array | Mapping[str, Array],
               variant: str = POSITIVE, ids: Sequence[Hashable] | Array | None = None,
               groups: Sequence[str] | None = None, labels: Sequence[str] | None = None,
               confidence: Array | None = None) -> None:
        """Add one batch.

        Args:
            maps: raw maps ``[B, h, w]`` of ``variant``, or ``{variant: [B, h, w]}`` for several
                variants of the same samples at once.
            targets: ``[B, 224, 224]`` ground truth, or ``{"gt": [B, 224, 224], "boxes": [B, K, 4]}``.
            variant: ``positive``, a negative of ``negatives`` or ``ogl`` (when ``maps`` is one array).
            ids: ``B`` sample ids, ints (the dataset index: results then come in dataset order) or
                strings (a tensor or an array too). They match the variants of a sample given in
                separate calls, order the samples in :meth:`compute` and make it independent of
                the number of processes and of the order of the batches; an id met twice counts
                once (``DistributedSampler`` repeats samples to even out its shards). Without ids,
                each variant's samples are numbered in arrival order on each process (and a
                repeated sample counts each time).
            groups, labels: ``B`` scene groups (iIoU / iAUC) and class labels, or None.
            confidence: the model's ``B`` scores of the positive pairs, for an evaluator that reads
                them (``native`` on ACL-SSL's extended sets).
        Raises:
            ValueError: an unknown variant, wrong ranks or batch sizes (every shape named), ground
                truth that is not 224 x 224, ids of another length, ids mixed with batches without them.
        """
        given = dict(maps) if isinstance(maps, Mapping) else {variant: maps}
        wrong = [v for v in given if v not in self.variants]
        if wrong:
            raise ValueError(f"variant {wrong[0]!r} is not scored here; this metric takes {list(self.variants)} "
                             "(negatives=... at construction)")
        gt, boxes = (targets.get("gt"), targets.get("boxes")) if isinstance(targets, Mapping) else (targets, None)
        if gt is None:
            raise ValueError("targets need the ground truth [B, 224, 224] (or a mapping with 'gt')")
        gt = gt.detach() if is_torch(gt) else np.asarray(gt)
        given = {v: m.detach() if is_torch(m) else np.asarray(m) for v, m in given.items()}
        for v, m in given.items():
            check_maps(v, m)
        check_maps("gt", gt)
        if tuple(gt.shape[1:]) != (224, 224):
            raise ValueError(f"the ground truth must be [B, 224, 224] (docs/metrics.md §2.1), got {tuple(gt.shape)}")
        check_same_batch({**{v: tuple(m.shape) for v, m in given.items()}, "gt": tuple(gt.shape)})
        n = int(gt.shape[0])
        columns = {"groups": groups, "labels": labels, "confidence": confidence, "boxes": boxes}
        for name, col in columns.items():
            if col is not None and len(col) != n:
                raise ValueError(f"{name} has length {len(col)} for a batch of {n}")
        keys = self._ids(ids, n, given)
        if set(given) == set(self.variants) and not any(k in self._pending for k in keys):
            self._score(given, gt, keys, columns)
        else:
            self._hold(given, gt, keys, columns)

    def _ids(self, ids: Any, n: int, given: Mapping[str, Array]) -> list[Hashable]:
        """The batch's ids as Python ints or strings (arrival numbers when ``ids`` is None)."""
        auto = ids is None
        if self._auto is not None and auto != self._auto:
            raise ValueError("give ids in every update or in none (they match and order the samples)")
        if auto:
            counts = {self._arrived.get(v, 0) for v in given}
            if len(counts) > 1:
                raise ValueError(f"without ids the variants {sorted(given)} of one batch must be the same samples, "
                                 f"but {dict(self._arrived)} samples of each came before: give ids")
            start = counts.pop()
            self._arrived.update({v: start + n for v in given})
            self._auto = True
            return list(range(start, start + n))
        listed = to_numpy(ids).reshape(-1).tolist() if is_torch(ids) or isinstance(ids, np.ndarray) else list(ids)
        keys = [k if isinstance(k, str) else int(k) for k in listed]
        if len(keys) != n:
            raise ValueError(f"ids has length {len(keys)} for a batch of {n}")
        self._auto = False
        return keys

    def _hold(self, given: Mapping[str, Array], gt: Array, keys: list[Hashable],
              columns: Mapping[str, Any]) -> None:
        """Keep each sample's rows until all its variants are in, then score the complete ones."""
        done = []
        for i, k in enumerate(keys):
            entry = self._pending.setdefault(k, {})
            for v, m in given.items():
                entry[v] = _row(m, i)
            if "gt" not in entry:
                entry["gt"] = _row(gt, i)
                entry.update({c: None if col is None else col[i] for c, col in columns.items()})
            if all(v in entry for v in self.variants) and k not in done:
                done.append(k)
        if done:
            rows = [self._pending.pop(k) for k in done]
            maps = {v: _stack([r[v] for r in rows]) for v in self.variants}
            cols = {c: None if any(r[c] is None for r in rows) else [r[c] for r in rows] for c in columns}
            self._score(maps, _stack([r["gt"] for r in rows]), done, cols)

    def _score(self, maps: Mapping[str, Array], gt: Array, keys: list[Hashable], columns: Mapping[str, Any]) -> None:
        """Reduce complete samples to the protocol's per-sample scalars (the maps are dropped)."""
        pos = maps[POSITIVE]
        maps = {v: _like(m, pos) for v, m in maps.items()}
        boxes, conf = columns["boxes"], columns["confidence"]
        self._acc.update(0, [str(k) for k in keys], pos, silence=maps.get("silence"), noise=maps.get("noise"),
                         offscreen=maps.get("offscreen"), gt=_like(gt, pos), groups=columns["groups"],
                         ogl=maps.get(OGL), labels=columns["labels"],
                         boxes=None if boxes is None else _boxes(boxes),
                         confidence=None if conf is None else np.asarray([float(c) for c in conf]))
        self._keys.extend(keys)

    # ------------------------------------------------------------------------------------------
    def compute(self, sync: bool | None = None) -> dict[str, Any]:
        """The protocol's result over every sample of every process: ``Accumulator.result()``'s flat
        dict (docs/metrics.md §7), the samples ordered by id (without ids: by process rank, then
        arrival).

        ``sync``: gather the per-sample scalars of every process of ``process_group``
        (``all_gather_object``; every process must call ``compute``, and each gets the same
        result); default: when ``torch.distributed`` is initialised with more than one process.
        The state is kept (call :meth:`reset` for the next epoch).

        Raises:
            ValueError: no samples, or a sample whose variants did not all arrive (on every process).
        """
        parts = _gather(self._local(), self.process_group, sync)
        waiting = [(r, k, sorted(held)) for r, p in enumerate(parts) for k, held in p["pending"]]
        if waiting:
            r, k, held = waiting[0]
            raise ValueError(f"{len(waiting)} samples lack variants, the first sample {k!r} (process {r}) has "
                             f"{held} of {list(self.variants)}")
        have = [p for p in parts if p["keys"]]
        if len({p["auto"] for p in have}) > 1:
            raise ValueError("some processes gave ids and others did not: give ids in every update")
        if len({tuple(sorted(p["records"])) for p in have}) > 1:
            raise ValueError("the processes scored different fields (other negatives or thresholds)")
        # (sort key, sample id): the dataset's ids, or (rank, arrival) where none were given
        keys = [((r, k), f"{r}-{k}") if p["auto"] else (k, str(k)) for r, p in enumerate(parts) for k in p["keys"]]
        kinds = {type(k).__name__ for k, _ in keys}
        if len(kinds) > 1:
            raise ValueError(f"ids mix {' and '.join(sorted(kinds))}: give one kind, e.g. the dataset index")
        take, seen = [], set()
        for j in sorted(range(len(keys)), key=lambda j: (keys[j][0], j)):
            if keys[j][0] not in seen:  # a repeated sample counts once: the lowest rank's first copy
                seen.add(keys[j][0])
                take.append(j)
        acc = self._new()
        if take:
            records = {f: np.concatenate([p["records"][f] for p in have])[take] for f in have[0]["records"]}

            def column(name: str) -> list[str] | None:
                values = [x for p in have for x in (p[name] or [])]
                return None if any(p[name] is None for p in have) else [values[j] for j in take]

            acc.add_records(0, [keys[j][1] for j in take], records, column("groups"), column("labels"))
        return acc.result()

    def _local(self) -> dict[str, Any]:
        """What this process contributes to :meth:`compute`: ids, per-sample scalars, groups, labels."""
        seeds = self._acc.seed_records()
        s = seeds[0] if seeds else None
        return {"keys": list(self._keys), "auto": bool(self._auto), "records": s.records if s else {},
                "groups": s.groups if s else None, "labels": s.labels if s else None,
                "pending": [(k, [v for v in e if v in self.variants]) for k, e in self._pending.items()]}


def _row(x: Array, i: int) -> Array:
    """Row ``i`` of ``x`` as its own copy (a view would keep the whole batch alive)."""
    return x[i].clone() if is_torch(x) else np.array(x[i])


def _stack(rows: Sequence[Array]) -> Array:
    """Rows back into a batch: one tensor when every row is a tensor on one device, else numpy."""
    if all(is_torch(r) for r in rows) and len({r.device for r in rows}) == 1:
        import torch

        return torch.stack(list(rows))
    return np.stack([to_numpy(r) for r in rows])


def _like(x: Array, ref: Array) -> Array:
    """``x`` as the array kind of ``ref`` (a tensor on its device, or numpy): the protocols take one kind."""
    if is_torch(ref):
        import torch

        return torch.as_tensor(x, device=ref.device) if not is_torch(x) else x.detach().to(ref.device)
    return to_numpy(x)


def _boxes(rows: Sequence[Any]) -> np.ndarray:
    """``B`` NaN-padded ``[K, 4]`` box rows (possibly of different ``K``) as one ``[B, K, 4]`` float64 array."""
    rows = [np.asarray(to_numpy(b), dtype=np.float64).reshape(-1, 4) for b in rows]
    out = np.full((len(rows), max((len(b) for b in rows), default=0), 4), np.nan)
    for i, b in enumerate(rows):
        out[i, :len(b)] = b
    return out


def _gather(local: dict[str, Any], group: Any, sync: bool | None) -> list[dict[str, Any]]:
    """``local`` of every process of ``group`` in rank order (``[local]`` alone when not synchronising).
    torch.distributed is imported here, not at module level: the metrics need no process group."""
    if sync is False:
        return [local]
    import torch.distributed as dist

    ready = dist.is_available() and dist.is_initialized()
    if sync and not ready:
        raise ValueError("compute(sync=True) needs torch.distributed initialised (init_process_group)")
    if not ready or dist.get_world_size(group) == 1:
        return [local]
    parts: list[Any] = [None] * dist.get_world_size(group)
    dist.all_gather_object(parts, local, group=group)
    return parts
