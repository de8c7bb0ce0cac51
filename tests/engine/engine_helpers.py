"""Small helpers of the engine tests (imported by name: pytest puts this folder on the path)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vssleval.engine.runner import run_inference
from vssleval.engine.spec import RunSpec
from vssleval.engine.store import HeatmapStore

#: map arrays of a store shard; ``noise``/``offscreen`` carry a leading seed axis
MAP_KEYS = ("positive", "silence", "noise", "offscreen", "ogl")


def rel_l2(a: np.ndarray, b: np.ndarray) -> float:
    """Fixtures README §6: ``||a - b|| / ||b||`` (float64)."""
    b = np.asarray(b, dtype=np.float64)
    return float(np.linalg.norm(np.asarray(a, dtype=np.float64) - b) / np.linalg.norm(b))


def rel_max(a: np.ndarray, b: np.ndarray) -> float:
    """native/README: ``max|a - b| / max|b|`` (float64)."""
    b = np.asarray(b, dtype=np.float64)
    return float(np.abs(np.asarray(a, dtype=np.float64) - b).max() / np.abs(b).max())


def quiet(_: str) -> None:
    """Log sink for the engine's one-line summaries."""


def run(spec: RunSpec, out: Path, **kwargs):
    """Run the engine on ``spec`` into ``out`` without console chatter."""
    return run_inference(spec, out, log=quiet, **kwargs)


def store_arrays(store: HeatmapStore | str | Path) -> dict[str, np.ndarray]:
    """Every shard of a complete store concatenated in dataset order (sample axis: 0, or 1 after
    the seed axis of ``noise``/``offscreen``/``offscreen_ids``)."""
    store = store if isinstance(store, HeatmapStore) else HeatmapStore.open(store)
    assert store.is_complete(), f"store {store.root} is not complete"
    shards = list(store.iter_shards())
    out: dict[str, np.ndarray] = {}
    for key in shards[0]:
        axis = 1 if key in ("noise", "offscreen", "offscreen_ids") else 0
        out[key] = np.concatenate([s[key] for s in shards], axis=axis)
    assert list(out["index"]) == list(range(len(out["index"]))), "shards do not cover the dataset in order"
    return out


def order_by_ids(ours: np.ndarray, theirs: np.ndarray) -> np.ndarray:
    """Indices into ``theirs`` that line up with ``ours`` (ids as strings); both sets must be equal."""
    ours = [str(x) for x in ours]
    where = {str(x): i for i, x in enumerate(theirs)}
    assert sorted(ours) == sorted(where), f"sample ids differ: {sorted(set(ours) ^ set(where))[:5]}"
    return np.array([where[i] for i in ours])
