"""What a store that keeps resized maps and 12-bit negatives (``map.store``, docs/models.md §2.8) may
change in the metrics, checked against a full-precision store of the same run's raw maps.

The claim under test:

* every metric that does not read a negative map's values is **identical** (the positive map is
  stored as exactly the float32 resize the protocols compute, and the raw extremes are recorded);
* every metric that does (pIA, AOC, the F-scores, map IoUs, the negatives' confidences) lies
  between its values on the full-precision negative maps lowered and raised by the code's error
  bound, ``max(2^-8 |x|, 2^-14)`` per pixel: the decoded map lies pixel by pixel inside that
  envelope, and these metrics are monotone in the negative maps (a pixel above a threshold stays
  above it when the map rises; the top-quarter confidence rises with the map); a standard
  deviation over seeds moves by at most ``sqrt(S / (S - 1))`` times the widest envelope;
* AP and max-F1 depend on the order of the confidences only: they are identical when no
  confidence of the run lies inside a negative's confidence envelope (then no order changes).

Used by the synthetic run of tests/engine/test_store_maps_runs.py and the ACL-SSL run of
tests/models/test_aclssl_store.py.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import numpy as np

from vssleval.engine.scoring import score_store
from vssleval.engine.store import HeatmapStore
from vssleval.engine.store.reduce import StoreMaps

NEGATIVES = ("silence", "noise", "offscreen")
#: metric keys (and per-sample fields) that read the negative maps' values: monotone in them ...
MONOTONE_PREFIXES = ("pia_", "aoc_", "f_positive_", "f_auc_aoc_", "mapiou_", *(f"conf_{x}" for x in NEGATIVES))
#: ... or functions of the order of the positive and negative confidences
ORDER_PREFIXES = ("ap", "max_f1")


class RawCapture:
    """Records the raw arrays of every batch the engine hands to :meth:`StoreMaps.reduce`, in order."""

    def __init__(self, monkeypatch):
        self.batches: list[dict[str, np.ndarray]] = []
        original = StoreMaps.reduce

        def reduce(maps_rule, arrays):
            self.batches.append(copy.deepcopy(arrays))
            return original(maps_rule, arrays)

        monkeypatch.setattr(StoreMaps, "reduce", reduce)


def write_store(root: Path, config: dict[str, Any], batches: list[dict[str, np.ndarray]]) -> HeatmapStore:
    """A complete float32 store of ``batches`` (no encoding) with the run configuration ``config``."""
    store = HeatmapStore.create(root, config)
    for k, arrays in enumerate(batches):
        store.write_shard(k, arrays)
    store.mark_complete(len(batches))
    return store


def envelope(maps: np.ndarray, direction: int) -> np.ndarray:
    """float32 maps moved by the code's error bound (``direction`` -1: down, +1: up), rounded outward."""
    x = np.asarray(maps, np.float64)
    assert np.isfinite(x).all() and np.abs(x).max() <= 255, "the bound covers finite values up to 255"
    moved = (x + direction * np.maximum(2.0 ** -8 * np.abs(x), 2.0 ** -14)).astype(np.float32)
    return np.nextafter(moved, np.float32(direction * np.inf))


def envelope_batches(reduced: list[dict[str, np.ndarray]], direction: int) -> list[dict[str, np.ndarray]]:
    """The reduced (resized, not yet encoded) batches with every negative map moved by the bound."""
    return [{k: envelope(v, direction) if k in NEGATIVES else v for k, v in b.items()} for b in reduced]


def is_negative_key(key: str) -> bool:
    return key.startswith(MONOTONE_PREFIXES + ORDER_PREFIXES)


def order_kept(full: list, low: list, high: list) -> bool:
    """Whether, in every seed, no confidence of the full-precision run lies inside the confidence
    envelope of a negative map other than its own (so the decoded maps' confidences keep every order)."""
    for f, lo_rec, hi_rec in zip(full, low, high):
        conf = np.concatenate([f.records[k] for k in f.records if k.startswith("conf_")] or [np.empty(0)])
        for x in NEGATIVES:
            if f"conf_{x}" not in f.records:
                continue
            lo, hi = lo_rec.records[f"conf_{x}"], hi_rec.records[f"conf_{x}"]
            inside = (conf[None, :] >= lo[:, None]) & (conf[None, :] <= hi[:, None])
            if np.any(inside.sum(axis=1) > 1):  # each interval holds its own full-precision value
                return False
    return True


def _same(a: Any, b: Any) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == b or (math.isnan(a) and math.isnan(b))
    return a == b


def check_metrics(full: dict, stored: dict, low: dict, high: dict, n_seeds: int,
                  order: bool) -> dict[str, float]:
    """Assert the claim of the module docstring on ``metrics.json``-like dicts (``order``: whether
    :func:`order_kept`); return the measured ``{key: |stored - full|}`` of the negative metrics that moved."""
    assert set(stored) == set(full)
    moved = {}
    for key, value in full.items():
        if not is_negative_key(key) or (order and key.startswith(ORDER_PREFIXES)):
            assert _same(stored[key], value), (key, value, stored[key])
            continue
        if isinstance(value, float) and not math.isnan(value) and stored[key] != value:
            moved[key] = abs(stored[key] - value)
        if key.startswith(ORDER_PREFIXES):
            continue  # an order changed: no bound is claimed
        if key.endswith("_std"):
            base = key[:-4]
            width = abs(high[base] - low[base]) * n_seeds  # the widest per-seed envelope is at most S x the mean's
            assert abs(stored[key] - value) <= math.sqrt(n_seeds / max(n_seeds - 1, 1)) * width + 1e-12, key
        elif isinstance(value, float):
            lo, hi = sorted((low[key], high[key]))
            assert lo - 1e-12 <= stored[key] <= hi + 1e-12, (key, lo, stored[key], hi)
    return moved


def check_records(full: list, stored: list, low: list, high: list) -> dict[str, float]:
    """Assert the claim per sample on the seeds' records (``Accumulator.seed_records()``); return the
    largest ``|stored - full|`` of each negative field that moved."""
    moved: dict[str, float] = {}
    for f, s, lo_rec, hi_rec in zip(full, stored, low, high):
        assert f.ids == s.ids and set(f.records) == set(s.records)
        for field, value in f.records.items():
            got = s.records[field]
            if not is_negative_key(field):
                np.testing.assert_array_equal(got, value, err_msg=field)
                continue
            lo, hi = np.minimum(lo_rec.records[field], hi_rec.records[field]), \
                np.maximum(lo_rec.records[field], hi_rec.records[field])
            assert np.all((lo - 1e-12 <= got) & (got <= hi + 1e-12)), field
            diff = float(np.max(np.abs(got - value)))
            if diff:
                moved[field] = max(moved.get(field, 0.0), diff)
    return moved


def compare_with_full_precision(store: HeatmapStore, raw: list[dict[str, np.ndarray]], tmp: Path,
                                protocol: str) -> dict[str, dict[str, float]]:
    """Score ``store`` (a run with ``map.store``) and full-precision stores built from its ``raw``
    batches (the raw maps, and the two envelopes of the resized negatives) under ``protocol``;
    assert the claim; return the measured differences ``{"metrics": ..., "records": ...}``, whether
    every order of confidences was kept, and the full-precision store (``full_store``)."""
    config = {k: v for k, v in store.config.items() if k not in ("store_maps", "store_format")}
    rule = StoreMaps(**{k: store.config["store_maps"][k] for k in ("size", "op", "negatives")})
    reduced = [rule.reduce(b) for b in raw]
    stores = {"stored": store}
    for name, batches in (("full", raw), ("low", envelope_batches(reduced, -1)),
                          ("high", envelope_batches(reduced, +1))):
        stores[name] = write_store(tmp / f"{protocol}-{name}", config, batches)
    accs = {k: score_store(s, protocol=protocol, bootstrap=0, progress=False) for k, s in stores.items()}
    results = {k: a.result() for k, a in accs.items()}
    records = {k: a.seed_records() for k, a in accs.items()}
    order = order_kept(records["full"], records["low"], records["high"])
    return {"metrics": check_metrics(results["full"], results["stored"], results["low"], results["high"],
                                     len(store.config["seeds"]), order),
            "records": check_records(*(records[k] for k in ("full", "stored", "low", "high"))),
            "order_kept": order, "full_store": stores["full"]}
