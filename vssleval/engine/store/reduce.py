"""What a store keeps of a batch's maps when the preset's ``map.store`` asks for less than the raw
maps (docs/models.md §2.8; docs/report.md, "Run folders and heatmap stores").

One job: turn the raw maps the engine computed for one batch into the maps the store keeps. With
``map.store: {size: 224, negatives: float12}``:

* every map (positive, silence, noise, offscreen) is resized on the CPU to ``size`` x ``size`` with
  the preset's ``positive`` op (:func:`vssleval.metrics.upsample.upsample`, the very call the
  protocols make, so a stored positive map is bit for bit what scoring the raw map computed);
* a raw map whose values are all equal is stored as that constant (the clean protocol's flat-map
  rule, docs/protocols.md §8.3: float32 bicubic of a constant is not constant), and a raw map
  holding NaN or inf whose resized map would be finite is stored as all NaN, so that it is still
  counted and refused (a resize whose weights skip the bad pixel could lose it);
* the raw maps' extremes are kept as ``<map>_extremes`` (float32 max and min per map), so the
  raw-scale statistics (``max_*``/``min_*``, AUROC of maxima, calibrated thresholds) and the
  flat-map decision are those of the raw map, exactly;
* the negatives are then stored in ``negatives`` (:func:`StoreMaps.codes`, applied by
  :func:`vssleval.engine.store.shards.encode_members` after the maps equal to the positive are shared).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from vssleval.engine.store.shards import EXTREMES_SUFFIX, MAP_MEMBERS, SHAREABLE
from vssleval.metrics.upsample import upsample
from vssleval.models.maps import MapRule


@dataclass(frozen=True)
class StoreMaps:
    """A preset's ``map.store``: maps resized to ``size`` with ``op``, negatives in ``negatives``."""

    size: int
    op: str
    negatives: str

    @classmethod
    def of(cls, rule: MapRule, testset: str | None) -> StoreMaps | None:
        """The store rule of a preset's parsed map block on dataset layout ``testset`` (None: the
        raw maps are stored as computed)."""
        if rule.store is None:
            return None
        return cls(rule.store.size, rule.metric_op("positive", testset), rule.store.negatives)

    def record(self) -> dict[str, Any]:
        """``store_maps`` of the run's configuration (it changes the stored values: part of the run's identity)."""
        return {"size": self.size, "op": self.op, "negatives": self.negatives}

    def codes(self) -> dict[str, str]:
        """``{member: code}`` for :func:`~vssleval.engine.store.shards.write_shard_file`."""
        return {} if self.negatives == "float32" else {name: self.negatives for name in SHAREABLE}

    def reduce(self, arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """The batch's shard members with every map resized and its raw extremes added."""
        out = dict(arrays)
        for name in MAP_MEMBERS:
            if name in arrays:
                raw = np.asarray(arrays[name], dtype=np.float32)
                out[name] = self.resize(raw)
                out[name + EXTREMES_SUFFIX] = raw_extremes(raw)
        return out

    def resize(self, raw: np.ndarray) -> np.ndarray:
        """float32 maps ``[..., h, w]`` -> ``[..., size, size]`` (module docstring: op, flat maps,
        non-finite maps)."""
        lead, (h, w) = raw.shape[:-2], raw.shape[-2:]
        rows = raw.reshape(-1, h * w)
        if len(rows) == 0:
            return np.zeros((*lead, self.size, self.size), np.float32)
        out = np.asarray(upsample(raw.reshape(-1, h, w), self.op, self.size), dtype=np.float32)
        flat = (rows == rows[:, :1]).all(axis=1)
        out[flat] = rows[flat, :1, None]
        lost = ~np.isfinite(rows).all(axis=1) & np.isfinite(out.reshape(len(out), -1)).all(axis=1)
        out[lost] = np.nan
        return out.reshape(*lead, self.size, self.size)


def raw_extremes(raw: np.ndarray) -> np.ndarray:
    """float32 ``[..., 2]``: the max and min of each map ``[..., h, w]`` (NaN when it holds a NaN)."""
    rows = raw.reshape(*raw.shape[:-2], -1)
    if rows.shape[-1] == 0:
        return np.full((*raw.shape[:-2], 2), np.nan, np.float32)
    return np.stack([rows.max(axis=-1), rows.min(axis=-1)], axis=-1).astype(np.float32)
