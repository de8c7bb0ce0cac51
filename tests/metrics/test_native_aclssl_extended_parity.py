"""Acceptance: ``aclssl_extended`` reproduces ACL-SSL's extended-set evaluator (``Eval.py``
``eval_exvggss_agg`` + ``VGGSS/extend_eval_utils.py`` @ 57f4a6c), recorded by the reference harness
(``scripts/reference/aclssl.py --extended``; tests/fixtures/aclssl/README.md, "Extended VGG-SS"):

* ``extended.npz`` / ``extended.json``: 4 positives and 4 ``non-sounding`` pairs through the official
  extended path: the official confidence, the masks of the official heatmap at the 19 thresholds
  (``levels``), per-sample cIoU, and per threshold the AP, the F1 list as formatted and the printed
  AP / Max-F1;
* ``extended_adversarial.json``: the official evaluator on the 48 adversarial map x GT cases with
  crafted confidences, and on confidence / cIoU / bb lists (ties, all negatives, one and two samples,
  cIoU at 0.5, float32 neighbours, n = 7 ... 1234 around the two step rules).

Per-sample cIoUs are compared exactly; AP to 1e-12 (a sum whose order differs), the F1 list as the
official code formats it, character for character.
"""

from __future__ import annotations

import dataclasses
import json
import re

import numpy as np
import pytest

import shared
from vssleval.engine.scoring import prepare_run, run_facts
from vssleval.errors import VsslevalError
from vssleval.metrics import Accumulator
from vssleval.metrics.protocols import StoreFacts
from vssleval.metrics.protocols.native import EVALUATORS, PROTOCOL
from vssleval.metrics.protocols.native.aclssl import SELECTED, THRESHOLDS, column, sweep
from vssleval.metrics.protocols.native.aclssl_extended import ciou_eps, sweep_row
from vssleval.metrics.protocols.native.slavc import f1_list
from vssleval.models.registry import check_config_sections, load_model_config

FIX = shared.BUNDLE_ROOT / "aclssl"
EV = EVALUATORS["aclssl_extended"]
THR32 = np.array(THRESHOLDS, np.float32)
AP_TOL = 1e-12
parity = pytest.mark.parity


def _golden() -> tuple[dict[str, np.ndarray], dict]:
    with np.load(FIX / "extended.npz") as z:
        g = {k: z[k] for k in z.files}
    return g, json.loads((FIX / "extended.json").read_text())


def heat_from_levels(levels: np.ndarray) -> np.ndarray:
    """A float32 map with the official masks at every sweep threshold: a pixel that passes k
    thresholds holds the k-th threshold's float32 (0 when it passes none); ``>=`` keeps it."""
    return np.where(levels == 0, np.float32(0), THR32[np.maximum(levels.astype(int), 1) - 1]).astype(np.float32)


def formatted_f1(conf, ciou, positive) -> str:
    """The F1 list as ``finalize_stats`` writes it (``%.1f`` of 100 x F1, space separated)."""
    return " ".join(f"{f * 100:.1f}" for f in f1_list(conf, ciou, positive, 0.5))


def _check_row(conf, ciou, positive, want: dict, what) -> None:
    """One threshold (or list case) against the official ``summary``: AP, the F1 list, the printed
    AP / Max-F1, and the AUC of the positives."""
    ap, max_f1 = sweep_row(np.asarray(conf, np.float64), np.asarray(ciou, np.float64), np.asarray(positive, bool))
    assert abs(ap - want["AP-all@50"]) <= AP_TOL, (what, ap, want["AP-all@50"])
    assert abs(100 * ap - want["printed_AP"]) <= 1e-9, what
    assert formatted_f1(conf, ciou, positive) == want["F1-all@50"], what
    assert float(f"{100 * max_f1:.1f}") == want["printed_Max-F1"], what


@parity
def test_golden_per_sample_cious_and_every_threshold():
    """The official run of 8 samples: the GT conversion, every per-sample cIoU of the 19 evaluators
    (exact), and each threshold's AP, F1 list and printed numbers."""
    g, ref = _golden()
    boxes_by_id = {r["file"]: r["bbox"] for r in json.loads((FIX / "extended_data" / "vggss.json").read_text())}
    boxes = [boxes_by_id[str(i)] if b else [] for i, b in zip(g["image_ids"], g["bb"])]
    gt = EV.gt(boxes)
    np.testing.assert_array_equal(gt, g["gt_map"])
    cols = sweep(heat_from_levels(g["levels"]), gt, counts=ciou_eps)
    for k, t in enumerate(THRESHOLDS):
        np.testing.assert_array_equal(cols[column(t)], g["ciou"][k], err_msg=str(t))
    assert (np.array([len(b) for b in boxes]) > 0).tolist() == (g["bb"] == 1).tolist()
    cols.update(conf=g["conf"].astype(np.float64), n_boxes=np.array([len(b) for b in boxes]))
    data = EV.aggregate(cols)
    for k, t in enumerate(THRESHOLDS):
        want = ref["per_threshold"][k]
        _check_row(cols["conf"], cols[column(t)], g["bb"] == 1, want, t)
        assert data[f"AP@{t:g}"] == sweep_row(cols["conf"], cols[column(t)], g["bb"] == 1)[0]
    k = THRESHOLDS.index(0.5)
    assert data["ap"] == data["AP@0.5"] and data["max_f1"] == data["maxF1@0.5"]
    assert abs(data["auc"] - ref["per_threshold"][k]["AUC-all@50"]) <= 1e-12  # computed, not printed, there
    seen = g["ciou"][k][g["bb"] == 1]
    assert data["ciou"] == np.count_nonzero(seen >= 0.5) / len(seen)
    assert set(EV.own_keys) <= set(data) and data["n_positives"] == 4 and data["n_samples"] == 8


@parity
def test_golden_numbers_vary_across_the_sweep_and_the_best_is_labelled():
    """The golden set discriminates (AP and max-F1 change along the sweep), and the test-selected
    best is the first threshold reaching the maximum."""
    g, ref = _golden()
    printed = [(r["printed_AP"], r["printed_Max-F1"]) for r in ref["per_threshold"]]
    assert len(set(printed)) >= 3 and max(p[0] for p in printed) > 0
    rst = (FIX / "extended_test_rst.txt").read_text()
    rows = re.findall(r"with thr = ([0-9.]+)\)\nAP=(\S+), Max-F1=(\S+)\n", rst)
    assert [(float(t), float(a), float(f)) for t, a, f in rows] == [
        (t, a, f) for t, (a, f) in zip(THRESHOLDS, printed)]
    cols = sweep(heat_from_levels(g["levels"]), g["gt_map"], counts=ciou_eps)
    cols.update(conf=g["conf"].astype(np.float64), n_boxes=g["bb"])
    data = EV.aggregate(cols)
    aps = [data[f"AP@{t:g}"] for t in THRESHOLDS]
    assert data[f"best_AP_{SELECTED}"] == max(aps)
    assert data[f"best_AP_threshold_{SELECTED}"] == THRESHOLDS[aps.index(max(aps))]
    f1s = [data[f"maxF1@{t:g}"] for t in THRESHOLDS]
    assert data[f"best_maxF1_threshold_{SELECTED}"] == THRESHOLDS[f1s.index(max(f1s))]


@parity
def test_adversarial_map_cases():
    """48 map x GT cases through ``evaluate_batch`` at each threshold: every cIoU (values exactly at
    a threshold, one ulp below, constant maps, an empty GT with and without kept pixels: 0, never
    NaN) and the AP / F1 of the 48 with tied crafted confidences."""
    ref = json.loads((FIX / "extended_adversarial.json").read_text())["map_cases"]
    with np.load(FIX / "adversarial.npz") as z:
        maps, gts = z["maps"], z["gt_maps"]
    heat = np.repeat(maps, len(gts), axis=0)
    gt = np.tile(gts, (len(maps), 1, 1))
    positive = np.array([label != "non-sounding" for label in ref["labels"]])
    cols = sweep(heat, gt, counts=ciou_eps)
    for k, t in enumerate(THRESHOLDS):
        want = ref["per_threshold"][k]
        np.testing.assert_array_equal(cols[column(t)], np.array(want["ciou"]), err_msg=str(t))
        _check_row(ref["conf"], cols[column(t)], positive, want, t)
    assert not np.isnan(cols["ciou"]).any()


@parity
@pytest.mark.parametrize("name", sorted(json.loads((FIX / "extended_adversarial.json").read_text())["list_cases"]))
def test_adversarial_list_cases(name):
    """Lists finalised by the official code: AP (k = max(1, n // 200)), the F1 grid
    (every max(1, n // 10)-th sorted confidence), the printed numbers; and the statistics the
    bootstrap uses equal the dataset values."""
    case = json.loads((FIX / "extended_adversarial.json").read_text())["list_cases"][name]
    conf, ciou, bb = (np.array(case[k], np.float64) for k in ("conf", "ciou", "bb"))
    _check_row(conf, ciou, bb > 0, case, name)
    auc_official = case["AUC-all@50"]
    cols = {"conf": conf, "ciou": ciou, "n_boxes": bb, **{column(t): ciou for t in THRESHOLDS}}
    data = EV.aggregate(cols)
    if np.isnan(auc_official):
        assert np.isnan(data["auc"]) and not bb.any()
    else:
        assert abs(data["auc"] - auc_official) <= 1e-12
    rows = np.arange(len(conf))[None]
    for key in ("ap", "max_f1", "ciou", "auc"):
        got = float(EV.statistics[key](cols, rows)[0])
        assert got == pytest.approx(data[key], abs=1e-12, nan_ok=True), key


def test_case_sizes_cover_both_step_rules():
    """The list cases reach the F1 step (n >= 20) and the AP step (n >= 400) above 1."""
    sizes = {len(c["conf"]) for c in json.loads((FIX / "extended_adversarial.json").read_text())["list_cases"].values()}
    assert {1, 2} <= sizes and any(n < 10 for n in sizes) and any(20 <= n < 200 for n in sizes)
    assert any(n >= 400 for n in sizes)


# -- the protocol ---------------------------------------------------------------------------------
def _config(testset: str, model: str = "aclssl", **changes) -> dict:
    return {"model_config": {**load_model_config(model), **changes}, "model_name": model, "preset": "native",
            "negatives": (), "testset": testset}


def test_the_layout_picks_the_evaluator():
    """ACL-SSL's YAML names aclssl for VGG-SS / Flickr and aclssl_extended for the extended sets;
    each refuses the other's layouts (a YAML without the per-layout entry gets the refusal);
    SLAVC's evaluator, which its repository runs on the extended sets too, is not restricted."""
    assert prepare_run(_config("extended", "slavc"), "native").settings["evaluator"] == "slavc"
    assert prepare_run(_config("vggss"), "native").settings["evaluator"] == "aclssl"
    assert prepare_run(_config("extended"), "native").settings["evaluator"] == "aclssl_extended"
    with pytest.raises(VsslevalError, match="it scores extended test sets with other code"):
        prepare_run(_config("extended", native_evaluator_by_layout=None), "native")
    with pytest.raises(VsslevalError, match="it scores vggss test sets with other code"):
        prepare_run(_config("vggss", native_evaluator_by_layout={"vggss": "aclssl_extended"}), "native")
    with pytest.raises(VsslevalError, match=r"native_evaluator_by_layout extended: 'nope', which is not one of"):
        prepare_run(_config("extended", native_evaluator_by_layout={"extended": "nope"}), "native")


def test_a_yaml_by_layout_block_must_map_names():
    for bad in (["aclssl_extended"], {"extended": 3}):
        with pytest.raises(VsslevalError, match="`native_evaluator_by_layout:` must map test-set layouts"):
            check_config_sections({"native_evaluator_by_layout": bad}, "model config x.yaml")


def test_a_store_without_confidence_is_refused_in_one_line(tmp_path):
    facts = run_facts(_config("extended"))
    members = frozenset({"index", "ids", "positive", "gt", "groups", "boxes", "labels"})
    with pytest.raises(VsslevalError) as err:
        PROTOCOL.prepare(dataclasses.replace(facts, store=StoreFacts(str(tmp_path), "native", members)))
    msg = str(err.value)
    assert "aclssl_extended" in msg and "confidence" in msg and "evaluate the model again" in msg and "\n" not in msg
    ok = PROTOCOL.prepare(dataclasses.replace(facts, store=StoreFacts(str(tmp_path), "native",
                                                                     members | {"confidence"})))
    assert ok.settings["evaluator"] == "aclssl_extended"
    with pytest.raises(ValueError, match="needs|confidence"):
        EV.evaluate(np.zeros((2, 4, 4), np.float32), gt=np.zeros((2, 224, 224), np.uint8))


def test_the_accumulator_hands_the_confidence_to_the_evaluator():
    """Scoring through the protocol (what a store's shards go through) equals the evaluator on the
    same maps, boxes and confidences; the confidence's length is checked."""
    setup = prepare_run(_config("extended"), "native")
    rng = np.random.default_rng(5)
    raw = rng.normal(0, 2, (6, 11, 11)).astype(np.float32)
    boxes = np.full((6, 1, 4), np.nan)
    boxes[:3, 0] = [[0, 0, 1, 1], [0.1, 0.2, 0.6, 0.9], [0.5, 0, 1, 0.5]]
    conf = np.float32([0.3, 0.1, 0.3, 0.2, 0.05, 0.3])
    acc = Accumulator(protocol="native", upsample=setup.ops, settings=setup.settings, bootstrap=0)
    gt = np.zeros((6, 224, 224), np.float32)
    acc.update(0, [f"s{i}" for i in range(6)], raw, gt=gt, boxes=boxes, confidence=conf)
    result = acc.result()
    _, data = EV.evaluate(raw, [b[:1] if i < 3 else b[:0] for i, b in enumerate(boxes)], confidence=conf)
    for key in ("ap", "max_f1", "ciou", "auc", "AP@0.3", "maxF1@0.7"):
        assert result[key] == pytest.approx(data[key], abs=0, nan_ok=True), key
    with pytest.raises(ValueError, match="confidence has shape"):
        acc.update(0, ["a"], raw[:1], gt=gt[:1], boxes=boxes[:1], confidence=conf)
