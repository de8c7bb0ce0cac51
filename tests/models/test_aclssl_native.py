"""``aclssl`` under ``--preset native --protocol native`` end to end: raw files -> the model (weights
of the ACL weight rule in the release containers) -> store -> ACL-SSL's own evaluator ->
``metrics.json`` / ``per_sample.csv``; checked against the official evaluator's values on the
official maps of the same clips (``tests/fixtures/aclssl/golden.npz``). The two clips' image and
audio encodings are those the session's ``aclssl_run`` made of the same inputs with the same release
(tests/models/conftest.py: ``aclssl_encodings``; test_aclssl_parity.py checks them stage by stage).

Our maps equal the official ones within the map parity (docs/models.md §18), so a pixel within
that distance of a sweep threshold may fall on either side; per sample, the official cIoU is
checked to lie between the values with such pixels all out or all in (equal where there are none).
"""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

import shared
import vssleval
from vssleval.engine.store import HeatmapStore
from vssleval.errors import VsslevalError
from vssleval.metrics.protocols.native import EVALUATORS
from vssleval.metrics.protocols.native.aclssl import SELECTED, THRESHOLDS, column, heatmap
from vssleval.metrics.protocols.native.protocol import unpad_boxes_of
from test_aclssl_parity import DATA

pytestmark = [pytest.mark.parity, pytest.mark.slow]
GOLDEN = shared.BUNDLE_ROOT / "aclssl"
TOL = 1e-9
MARGIN = 2e-5  # the map parity on these clips (2.4e-6 measured; the model tests allow 1e-5 at the thresholds)


@pytest.fixture(scope="module")
def native_run(release, aclssl_encodings, tmp_path_factory):
    """The first 2 clips of the fixture VGG-SS, scored natively (CLIPSeg found in the HF cache). Both
    clips are positives of the session's ``aclssl_run``: the encoders hand back its encodings of
    their images and audio (``aclssl_encodings``, tests/models/conftest.py) instead of running the
    ViT-B/16 and BEATs on them again; the rest of the run (front-ends, decoder, store, evaluator)
    is this run's own."""
    out = tmp_path_factory.mktemp("aclssl-native") / "run"
    mp = pytest.MonkeyPatch()
    mp.setenv("HF_HOME", str(release / "hf"))
    aclssl_encodings(mp)
    try:
        res = vssleval.evaluate("aclssl", "vggss", data_dir=DATA, checkpoint=release / "ckpt", preset="native",
                                protocol="native", neg="none", seeds=1, limit=2, out=out, device="cpu",
                                bootstrap=50, verbose=False)
    finally:
        mp.undo()
    return res, out


def _per_sample(run_dir) -> dict[str, dict[str, float]]:
    with open(run_dir / "per_sample.csv", newline="", encoding="utf-8") as fh:
        return {r["sample_id"]: {k: float(v) for k, v in r.items() if k not in ("sample_id", "label")}
                for r in csv.DictReader(fh)}


def _ciou_bounds(heat: np.ndarray, gt: np.ndarray, t: float) -> tuple[float, float]:
    """cIoU of ``heat >= t`` with every pixel within MARGIN of ``t`` set to its worst / best side."""
    sure = heat >= np.float32(t) + MARGIN
    unsure = np.abs(heat - np.float32(t)) < MARGIN
    g = gt != 0
    lo = (sure & g).sum() / (g.sum() + ((sure | unsure) & ~g).sum())
    hi = ((sure | unsure) & g).sum() / (g.sum() + (sure & ~g).sum())
    return float(lo), float(hi)


def test_the_run_scores_the_official_evaluators_values(native_run):
    res, out = native_run
    m = res.metrics
    assert m["protocol"] == "native" and m["native_evaluator"] == "aclssl"
    assert m["ciou"] == m["AP50(cIoU)@0.5"] and m["auc"] == m["AUC@0.5"]
    assert {f"AUC@{t:g}" for t in THRESHOLDS} <= set(m) and f"best_AUC_{SELECTED}" in m
    ours = _per_sample(out)
    assert len(ours) == 2

    # (1) the run's columns are the evaluator on the stored maps and boxes, exactly
    shards = list(HeatmapStore.open(out / "store").iter_shards())
    maps, boxes = (np.concatenate([s[k] for s in shards]) for k in ("positive", "boxes"))
    ids = [str(i) for s in shards for i in s["ids"]]
    # the logit map resized by the evaluator's own bicubic when stored (map.store, docs/models.md §2.8)
    assert maps.shape[1:] == (224, 224)
    cols, data = EVALUATORS["aclssl"].evaluate(maps, unpad_boxes_of(boxes))
    for i, sid in enumerate(ids):
        for t in THRESHOLDS:
            assert ours[sid][column(t)] == pytest.approx(cols[column(t)][i], abs=TOL)
    for key, value in data.items():
        if key != "n_samples":
            assert m[key] == pytest.approx(value, abs=TOL, nan_ok=True), key

    # (2) against the official evaluator on the official maps of the same clips
    with np.load(GOLDEN / "golden.npz") as g:
        gids = [str(c) for c in json.loads((GOLDEN / "evaluator.json").read_text())["ids"]]
        ref_heat, ref_gt, ref_ciou = g["heatmap"], g["gt_map"], g["ciou"]
    heat = heatmap(maps)
    exact, worst = 0, 0.0
    for i, sid in enumerate(ids):
        k = gids.index(sid)
        np.testing.assert_array_equal(EVALUATORS["aclssl"].gt(unpad_boxes_of(boxes[i:i + 1])), ref_gt[k:k + 1])
        worst = max(worst, float(np.abs(heat[i] - ref_heat[k]).max()))
        assert worst <= MARGIN
        for j, t in enumerate(THRESHOLDS):
            lo, hi = _ciou_bounds(ref_heat[k], ref_gt[k], t)
            assert lo - TOL <= ref_ciou[j, k] <= hi + TOL  # the bounds hold the official value itself
            assert lo - TOL <= ours[sid][column(t)] <= hi + TOL, (sid, t)
            if lo == hi:
                assert abs(ours[sid][column(t)] - ref_ciou[j, k]) <= TOL, (sid, t)
                exact += 1
    assert exact >= len(ids) * len(THRESHOLDS) // 2  # most (clip, threshold) pairs have no pixel in doubt


def test_report_leaderboard_and_compare_read_the_run(native_run, tmp_path):
    """The catalog's native rows (ciou / auc with the evaluator's statistics) work for aclssl runs:
    the leaderboard shows the metrics.json values, and a paired comparison has a statistic."""
    from vssleval.cli import main

    res, out = native_run
    assert main(["report", str(out), "--format", "csv", "--no-maps", "--out", str(tmp_path / "rep")]) == 0
    with open(tmp_path / "rep" / "leaderboard.csv", newline="", encoding="utf-8") as fh:
        (line,) = list(csv.DictReader(fh))
    assert float(line["ciou"]) == pytest.approx(res.metrics["ciou"], abs=1e-12)
    assert float(line["auc"]) == pytest.approx(res.metrics["auc"], abs=1e-12)
    assert line["ap"] == "" and line["max_f1"] == ""  # ACL-SSL's VGG-SS evaluator computes neither
    again = tmp_path / "rescored"  # the same store scored again: a second run of identical samples
    vssleval.rescore(out, again, protocol="native")
    assert main(["report", str(out), str(again), "--compare", "--bootstrap", "50", "--no-maps",
                 "--out", str(tmp_path / "cmp")]) == 0
    with open(tmp_path / "cmp" / "compare.csv", newline="", encoding="utf-8") as fh:
        rows = {r["metric"]: r for r in csv.DictReader(fh)}
    assert set(rows) == {"ciou", "auc"}
    assert all(r["test"] != "not comparable" and float(r["diff"]) == 0 for r in rows.values())


def test_a_yaml_whose_native_map_is_not_the_evaluators_is_refused():
    """The evaluator thresholds a sigmoid map: a native preset recording another normalisation (or
    another upsampling) is refused before any model runs."""
    from vssleval.engine.scoring import prepare_run
    from vssleval.models.registry import load_model_config

    base = load_model_config("aclssl")
    prepare_run({"model_config": base, "model_name": "aclssl", "preset": "native", "negatives": (),
                 "testset": "vggss"}, "native")
    for change, named in (({"normalize": "minmax"}, "applies 'sigmoid'"), ({"upsample": {"positive": "bilinear_ac"}},
                                                                             "upsamples with bicubic")):
        native = {**base["presets"]["native"], "map": {**base["presets"]["native"]["map"], **change}}
        config = {**base, "presets": {**base["presets"], "native": native}}
        with pytest.raises(VsslevalError, match=named):
            prepare_run({"model_config": config, "model_name": "aclssl", "preset": "native", "negatives": (),
                         "testset": "vggss"}, "native")
