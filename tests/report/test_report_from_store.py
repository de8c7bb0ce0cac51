"""``vssleval report --from-store`` and the threshold sweep computed from a store."""

from __future__ import annotations

import json

import numpy as np
import pytest

from vssleval import timing
from vssleval.cli import main
from vssleval.engine.scoring import prepare_run, score_store
from vssleval.engine.store import HeatmapStore, unpack_gt
from vssleval.errors import VsslevalError
from vssleval.metrics import Accumulator, GroundTruth, binarize, pia, success_rate, upsample
from vssleval.report.figures import roc_points
from vssleval.report.sweep import ThresholdSweep, threshold_grid


def _numbers(d, prefix=""):
    """Flatten every number of a metrics.json (nested blocks included) to {path: value}."""
    out = {}
    for k, v in d.items():
        if isinstance(v, dict):
            out.update(_numbers(v, f"{prefix}{k}."))
        elif isinstance(v, (int, float)) and not isinstance(v, bool):
            out[prefix + k] = v
    return out


@pytest.mark.parametrize("name", ["center", "random"])
def test_from_store_equals_the_original_metrics(runs, tmp_path, name):
    out = tmp_path / "again"
    assert main(["report", "--from-store", str(runs[name]), "--out", str(out)]) == 0
    original = json.loads((runs[name] / "metrics.json").read_text())
    again = json.loads((out / "metrics.json").read_text())
    for m in (original, again):  # how long each took and how it was called: each process's own
        for key in timing.PROCESS_KEYS:
            m.pop(key)
    a, b = _numbers(original), _numbers(again)
    assert a.keys() == b.keys()
    assert {k: v for k, v in a.items() if a[k] != b[k]} == {}
    assert again["run"] == original["run"]
    assert (out / "per_sample.csv").read_text() == (runs[name] / "per_sample.csv").read_text()
    assert (out / "metrics.csv").read_text() == (runs[name] / "metrics.csv").read_text()
    assert (out / "offscreen_draws.csv").read_text() == (runs[name] / "offscreen_draws.csv").read_text()
    assert (out / "report.md").is_file()
    assert any("recomputed from the heatmap store" in n for n in again["notes"])


def test_from_store_compat_protocol_needs_thresholds(runs, tmp_path, capsys):
    capsys.readouterr()
    rc = main(["report", "--from-store", str(runs["center"]), "--protocol", "juanola2025", "--out", str(tmp_path / "x")])
    assert rc == 2  # the baselines have stand-in thresholds (docs/models.md §15), but this store has no object prior
    assert "only a --protocol juanola2025 run computes" in capsys.readouterr().err

    class NoThresholds(HeatmapStore):  # the same store, read as a model without universal thresholds
        @property
        def config(self):
            config = super().config
            return {**config, "model_config": {**config["model_config"], "thresholds": {}, "compat_thresholds": {}}}

    with pytest.raises(VsslevalError, match="needs the model's universal thresholds"):
        score_store(NoThresholds(runs["center"] / "store"), protocol="juanola2025")


def test_sweep_equals_the_accumulator_at_a_universal_threshold(runs):
    """At any threshold of the grid the sweep gives the clean protocol's ciou_<u> and pia_<neg>_<u>."""
    store = HeatmapStore.open(runs["random"])
    config = store.config
    op = prepare_run(config, "vssleval").ops
    shard = store.read_shard(0)
    gt = unpack_gt(shard["gt"])
    grid = threshold_grid(0.0, 1.0, 9)
    sweep = ThresholdSweep(grid, op)
    sweep.add_positive(shard["positive"], gt)
    for v in ("silence", "noise", "offscreen"):
        sweep.add_negative(v, shard[v] if v == "silence" else shard[v][0])
    curves = sweep.result()
    for j in (2, 4, 7):
        acc = Accumulator("vssleval", thresholds={"u": float(grid[j])}, upsample=op, bootstrap=0)
        acc.update(0, [str(i) for i in shard["ids"]], shard["positive"], silence=shard["silence"],
                   noise=shard["noise"][0], offscreen=shard["offscreen"][0], gt=gt)
        res = acc.result()
        assert curves["ciou"][j] == pytest.approx(res["ciou_u"], abs=1e-12)
        for v in ("silence", "noise", "offscreen"):
            assert curves[f"pia_{v}"][j] == pytest.approx(res[f"pia_{v}_u"], abs=1e-12)
    # below every value everything is highlighted; above every value nothing is
    assert all(curves[f"pia_{v}"][0] == 1.0 and curves[f"pia_{v}"][-1] == 0.0 for v in ("silence", "noise"))
    assert curves["ciou"][-1] == 0.0


def test_sweep_of_negatives_equal_to_the_positive_reuses_its_counts():
    """Negative maps equal to the positive (an audio-agnostic model's) take the positive's pixel
    counts: the same curves, bit for bit, as computing them (float64 copies are not taken as equal),
    NaN maps included."""
    rng = np.random.default_rng(2)
    pos = rng.random((6, 7, 7)).astype(np.float32)
    pos[4, 2, 2] = np.nan
    gt = np.zeros((6, 224, 224), np.uint8)
    gt[:, 40:150, 30:120] = 1
    grid = threshold_grid(0.0, 1.0, 15)
    silence = rng.random((6, 7, 7)).astype(np.float32)
    curves = []
    for copy in (lambda m: m.copy(), lambda m: m.astype(np.float64)):
        sweep = ThresholdSweep(grid, "bilinear")
        sweep.add_positive(pos, gt)
        sweep.add_negative("noise", copy(pos))
        sweep.add_negative("silence", silence)
        curves.append((sweep.result(), sweep.nonfinite))
    (reused, bad_a), (computed, bad_b) = curves
    assert bad_a == bad_b == 2
    assert reused["pia_noise"][0] > 0.8 and reused["pia_noise"][-1] == pytest.approx(1 / 6)  # the NaN map
    for key in computed:
        assert np.array_equal(reused[key], computed[key]), key


def _sweep_by_masks(grid, op, pos, gt, neg):
    """The sweep's curves the direct way: every map binarized at every threshold."""
    up, g = np.asarray(upsample(pos, op)), GroundTruth(gt)
    ciou = [success_rate(g.ciou(binarize(up, float(t))), 0.5) for t in grid]
    up_neg = np.asarray(upsample(neg, op))
    return np.array(ciou), np.array([float(np.sum(pia(binarize(up_neg, float(t))))) / len(neg) for t in grid])


@pytest.mark.parametrize("weighted", [False, True])
def test_sweep_counts_equal_the_binarized_masks(weighted):
    """The sweep counts pixels above each threshold from sorted values; the curves equal, bit for
    bit, binarizing every map at every threshold: thresholds equal to map values (strict ``>``),
    ties, -0.0 beside 0.0, thresholds that round in float32, an empty ground truth; a weighted
    (Flickr-style) ground truth takes the masks' own path."""
    rng = np.random.default_rng(7)
    pos = rng.random((5, 7, 7)).astype(np.float32)
    pos[0] = np.round(pos[0] * 4) / 4  # ties
    pos[1, :3] = -0.0
    pos[1, 3:] = 0.0
    pos[2:4, 1:5, 2:6] += 1.0  # on the ground truth: IoU >= 0.5 at some thresholds
    neg = rng.random((5, 7, 7)).astype(np.float32)
    gt = np.zeros((5, 224, 224), np.float32)
    gt[:4, 30:150, 50:170] = 1.0
    if weighted:
        gt[:4, 30:60] = 0.5
    values = np.unique(np.asarray(upsample(pos, "bilinear"))).astype(np.float64)
    grid = np.unique(np.concatenate([threshold_grid(0.0, 1.0, 21), values[::997], [0.0, -0.0, 1 / 3 + 1e-9]]))
    sweep = ThresholdSweep(grid, "bilinear")
    sweep.add_positive(pos, gt)
    sweep.add_negative("noise", neg)
    curves = sweep.result()
    ciou, pia_noise = _sweep_by_masks(grid, "bilinear", pos, gt, neg)
    assert np.array_equal(curves["ciou"], ciou) and np.array_equal(curves["pia_noise"], pia_noise)
    assert 0 < curves["ciou"].max() < 1 and curves["pia_noise"][0] == 1.0


def test_threshold_grid_and_roc_edges():
    g = threshold_grid(1.0, 1.0, 11)  # constant maps: widened, still spans the value
    assert g.min() < 1.0 < g.max() and np.all(np.diff(g) > 0)
    g = threshold_grid(0.0, 1.0, 11, focus=np.array([0.9, 0.95, 1.0]))
    assert g.size > 11 and g[0] < 0.0 and g[-1] == 1.0
    fpr, tpr = roc_points(np.array([0.9, 0.8, 0.7]), np.array([0.1, 0.2, 0.75]))
    assert (fpr[0], tpr[0]) == (0.0, 0.0) and (fpr[-1], tpr[-1]) == (1.0, 1.0)
    assert np.all(np.diff(fpr) >= 0) and np.all(np.diff(tpr) >= 0)
