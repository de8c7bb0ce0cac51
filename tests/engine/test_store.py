"""The heatmap store: atomic shards, resume/overwrite rules, export format."""

import json

import numpy as np
import pytest

from vssleval.engine.store import HeatmapStore
from vssleval.errors import VsslevalError

CONFIG = {"model": "center", "seeds": [1, 2], "batch_size": 2, "device": "cpu"}


def _shard(start, n=2, S=2, h=7):
    rng = np.random.default_rng(start)
    return {
        "index": np.arange(start, start + n),
        "ids": np.array([f"s{i}" for i in range(start, start + n)]),
        "positive": rng.random((n, h, h), dtype=np.float32),
        "silence": rng.random((n, h, h), dtype=np.float32),
        "noise": rng.random((S, n, h, h), dtype=np.float32),
        "offscreen": rng.random((S, n, h, h), dtype=np.float32),
        "offscreen_ids": np.array([[f"o{s}{i}" for i in range(n)] for s in range(S)]),
    }


def test_roundtrip_and_export(tmp_path):
    store = HeatmapStore.create(tmp_path / "store", CONFIG)
    shards = [_shard(0), _shard(2, n=1)]
    for k, sh in enumerate(shards):
        store.write_shard(k, sh)
    store.mark_complete(2)
    out = store.export_npz(tmp_path / "run.npz")
    with np.load(out) as z:
        assert z["positive"].shape == (3, 7, 7) and z["positive"].dtype == np.float32
        assert z["noise"].shape == (2, 3, 7, 7)
        assert list(z["ids"]) == ["s0", "s1", "s2"]
        assert z["offscreen_ids"][1, 2] == "o10"
        np.testing.assert_array_equal(z["noise"][:, 2], shards[1]["noise"][:, 0])
        np.testing.assert_array_equal(z["seeds"], [1, 2])
        assert json.loads(str(z["config"]))["model"] == "center"


def test_existing_run_needs_resume_or_overwrite(tmp_path):
    store = HeatmapStore.create(tmp_path, CONFIG)
    store.write_shard(0, _shard(0))
    with pytest.raises(VsslevalError, match="--resume"):
        HeatmapStore.create(tmp_path, CONFIG)
    resumed = HeatmapStore.create(tmp_path, {**CONFIG, "device": "cuda"}, resume=True)  # device is volatile
    assert resumed.shard_numbers() == [0]
    with pytest.raises(VsslevalError, match="seeds"):
        HeatmapStore.create(tmp_path, {**CONFIG, "seeds": [7]}, resume=True)
    fresh = HeatmapStore.create(tmp_path, {**CONFIG, "seeds": [7]}, overwrite=True)
    assert fresh.shard_numbers() == [] and fresh.config["seeds"] == [7]


def test_incomplete_store_refuses_export_and_completion(tmp_path):
    store = HeatmapStore.create(tmp_path, CONFIG)
    store.write_shard(1, _shard(2))
    with pytest.raises(VsslevalError, match="missing shards"):
        store.mark_complete(2)
    with pytest.raises(VsslevalError, match="unfinished"):
        store.export_npz(tmp_path / "x.npz")
    assert not (tmp_path / "x.npz").exists()


def test_failed_write_leaves_no_file(tmp_path):
    store = HeatmapStore.create(tmp_path, CONFIG)
    with pytest.raises(TypeError):
        store.write_shard(0, {"bad": object()})  # np.savez cannot pickle-free save an object
    assert store.shard_numbers() == []
    assert not list(tmp_path.glob("*.tmp"))


def test_open_accepts_run_dir(tmp_path):
    HeatmapStore.create(tmp_path / "run" / "store", CONFIG)
    assert HeatmapStore.open(tmp_path / "run").config["model"] == "center"
    with pytest.raises(VsslevalError, match="no heatmap store"):
        HeatmapStore.open(tmp_path / "nowhere")
