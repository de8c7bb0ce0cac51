"""A finished run folder opened for analysis (:class:`Results`) and the dataset splits its report
breaks the metrics down by (:func:`run_splits`).

Shared by :mod:`vssleval.api.evaluation` (which returns :class:`Results`) and
:mod:`vssleval.api.reporting` (which reads runs and rescoring returns :class:`Results`), so neither
needs the other at import time.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from vssleval.data.splits import resolve_splits
from vssleval.engine.store import HeatmapStore
from vssleval.errors import VsslevalError
from vssleval.vocabulary import MAP_VARIANTS

VARIANTS = MAP_VARIANTS


@dataclass
class Results:
    """A finished run folder, opened for analysis.

    Attributes:
        out: the run folder (``metrics.json``, ``per_sample.csv``, ``report.md``, ``store/``).
        metrics: the flat dict of ``metrics.json`` (docs/metrics.md); ``None`` for an ``infer`` run.
        config: the run configuration recorded in the heatmap store.
        store_dir: the heatmap store holding the maps (default ``out/store``; a rescored run's
            outputs live apart from the store they were computed from).
    """

    out: Path
    metrics: dict[str, Any] | None
    config: dict[str, Any] = field(repr=False)
    store_dir: Path | None = None
    _per_sample: list[dict[str, Any]] | None = field(default=None, repr=False)

    @classmethod
    def open(cls, run_dir: str | Path) -> Results:
        """Open a run folder written by ``evaluate`` / ``infer`` (CLI or API)."""
        out = Path(run_dir)
        store = HeatmapStore.open(out)  # the run folder or its store/
        if store.root.resolve() == out.resolve():
            out = out.parent
        metrics_file = out / "metrics.json"
        metrics = None
        if metrics_file.is_file():
            try:
                metrics = json.loads(metrics_file.read_text(encoding="utf-8"))
            except ValueError as exc:
                raise VsslevalError(f"{metrics_file} is not valid JSON ({exc}); rebuild it with "
                                    f"`vssleval rescore {out} --out {out}`") from exc
        return cls(out=out, metrics=metrics, config=store.config, store_dir=store.root)

    @property
    def store(self) -> HeatmapStore:
        return HeatmapStore(self.store_dir or self.out / "store")

    @property
    def per_sample(self) -> list[dict[str, Any]]:
        """The rows of ``per_sample.csv`` as dicts (numbers parsed; empty for an ``infer`` run)."""
        if self._per_sample is None:
            path = self.out / "per_sample.csv"
            if not path.is_file():
                self._per_sample = []
            else:
                with open(path, newline="", encoding="utf-8") as fh:
                    self._per_sample = [{k: _parse_cell(v) for k, v in row.items()} for row in csv.DictReader(fh)]
        return self._per_sample

    def maps(self, variant: str) -> np.ndarray:
        """The raw low-resolution maps of one variant, float32, in dataset order.

        ``positive`` / ``silence``: ``[N, h, w]``; ``noise`` / ``offscreen``: ``[S, N, h, w]``
        (S seeds); ``ogl`` (object prior, compat runs): ``[N, 7, 7]``. A model whose preset stores
        its maps resized (``map.store``, e.g. ``aclssl``) gives them at 224 x 224, the negatives
        decoded from their 12-bit code (docs/models.md §2.8).
        """
        if variant not in VARIANTS:
            raise VsslevalError(f"unknown map variant {variant!r}; use one of {', '.join(VARIANTS)}")
        return self.store.maps(variant)

    @property
    def ids(self) -> list[str]:
        """Sample ids in dataset order (the rows of :meth:`maps`)."""
        return [str(i) for i in self.store.maps("ids")]


def _parse_cell(value: str | None) -> Any:
    if value is None or value == "":
        return value
    for kind in (int, float):
        try:
            return kind(value)
        except ValueError:
            continue
    return value



def run_splits(acc: Any, config: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    """The dataset's published splits (heard / unheard, ...) for the run's samples, read from its data
    folder (:func:`vssleval.data.splits.resolve_splits`), for the report's breakdowns."""
    first = acc.seed_records()[0]
    return resolve_splits(str(config["dataset"]), config.get("data_root"), first.ids, first.labels)


