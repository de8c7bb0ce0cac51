"""A run whose preset has ``map.store`` (docs/models.md §2.8), end to end on a tiny synthetic set:
the engine stores resized maps, raw extremes and 12-bit negatives, records the choice in the run's
configuration, and the metrics equal those of a full-precision store of the same raw maps (positive
metrics identically, negative metrics within the code's bound: tests/store_bounds.py)."""

from __future__ import annotations

import copy

import numpy as np
import pytest

import store_bounds
import vssleval
from vssleval.engine.store import HeatmapStore
from vssleval.models import load_model_config

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def stored_run(tmp_path_factory, synthetic_set):
    """synth-ezvsl (7 x 7 maps) on 6 synthetic VGG-SS clips, 2 seeds, every negative, in 2 shards,
    with ``store: {size: 224, negatives: float12}`` added to its native preset; the raw maps the
    engine computed are captured on their way to the store."""
    preset = copy.deepcopy(load_model_config("synth-ezvsl")["presets"]["native"])
    preset["map"]["store"] = {"size": 224, "negatives": "float12"}
    out = tmp_path_factory.mktemp("store-maps") / "run"
    mp = pytest.MonkeyPatch()
    capture = store_bounds.RawCapture(mp)
    try:
        res = vssleval.evaluate(vssleval.load_model("synth-ezvsl"), "synthetic-vggss",
                                data_dir=synthetic_set("vggss", 6), preset=preset, seeds=2, batch_size=4,
                                bootstrap=0, device="cpu", out=out, verbose=False)
    finally:
        mp.undo()
    return res, HeatmapStore.open(out), capture.batches


def test_the_store_holds_resized_maps_extremes_and_encoded_negatives(stored_run):
    res, store, raw = stored_run
    assert store.config["store_maps"] == {"size": 224, "op": "bilinear_ac", "negatives": "float12"}
    assert store.config["store_format"]["version"] == 2
    assert len(raw) == 2 and raw[0]["positive"].shape == (4, 7, 7)
    with np.load(store.shard_path(0)) as z:
        assert z["positive"].shape == (4, 224, 224) and z["positive"].dtype == np.float32
        assert z["noise~float12"].shape == (2, 4, 224, 336) and z["silence~float12"].shape == (4, 224, 336)
        assert z["offscreen_extremes"].shape == (2, 4, 2)
        np.testing.assert_array_equal(z["noise_extremes"][..., 0], raw[0]["noise"].max(axis=(-2, -1)))
    assert "maps stored at 224 x 224 (bilinear_ac), negatives as float12" in " ".join(res.metrics["notes"])


def test_metrics_equal_full_precision_within_the_code_bound(stored_run, tmp_path):
    _, store, raw = stored_run
    measured = store_bounds.compare_with_full_precision(store, raw, tmp_path, "vssleval")
    # the code moved some negative numbers here (synth-ezvsl's maps have pixels near the thresholds)
    assert measured["records"] and max(measured["records"].values()) < 0.05


def test_an_export_of_resized_maps_scores_to_the_runs_numbers(stored_run, tmp_path, synthetic_set):
    """``vssleval score`` (docs/maps-format.md) of this run's export: the decoded 224 x 224 maps and the
    raw extremes go back into a store of float32 maps, which scores to the run's own numbers."""
    res, store, _ = stored_run
    maps = store.export_npz(tmp_path / "maps.npz")
    again = vssleval.score(maps, tmp_path / "scored", data_dir=synthetic_set("vggss", 6), bootstrap=0, verbose=False)
    measured = set(res.metrics) - {"run", "fingerprint", "notes", "timing", "command"}
    assert {k: again.metrics[k] for k in measured} == {k: res.metrics[k] for k in measured}
    assert again.config["store_maps"] == store.config["store_maps"] and "noise_extremes" in again.store.members()
