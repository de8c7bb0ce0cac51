"""Accumulator API: bad input, NaN/inf handling, result schema, streaming (no maps kept)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from vssleval.metrics import Accumulator, calibrate_threshold, transfer, auroc

TH = {"max": 0.6, "max10": 0.66, "maxq3": 0.63}
#: a juanola2025 upsampling plan (any valid one: these tests exercise the API, not a model)
OPS = {"positive": "bilinear_ac", "ogl": "bilinear_ac", "neg": "cv2_linear"}


def batch(rng, b=6, side=7, shift=0.0):
    pos = rng.random((b, side, side)).astype(np.float32) * 0.2 + 0.5 + shift
    negs = [rng.random((b, side, side)).astype(np.float32) * 0.2 + 0.45 for _ in range(3)]
    gt = np.zeros((b, 224, 224), np.uint8)
    gt[:, 50:150, 60:170] = 1
    return pos, negs, gt


def test_shape_mismatch_names_both_shapes():
    rng = np.random.default_rng(0)
    pos, negs, gt = batch(rng)
    acc = Accumulator(thresholds=TH)
    with pytest.raises(ValueError, match=r"positive \(6, 7, 7\).*gt \(5, 224, 224\)"):
        acc.update(0, [str(i) for i in range(6)], pos, *negs, gt[:5])
    with pytest.raises(ValueError, match="sample_ids has length 5"):
        acc.update(0, ["a"] * 5, pos, *negs, gt)
    with pytest.raises(ValueError, match="3-d"):
        acc.update(0, ["a"] * 6, pos[0], *negs, gt)
    with pytest.raises(ValueError, match="unknown protocol"):
        Accumulator(protocol="lvs")
    with pytest.raises(ValueError, match="ogl"):
        Accumulator("juanola2025", thresholds=TH, upsample=OPS).update(0, ["a"] * 6, pos, *negs, gt)
    with pytest.raises(ValueError, match=r"upsample=\{positive, ogl, neg\}"):
        Accumulator("juanola2025", thresholds=TH)
    with pytest.raises(ValueError, match=r"upsample=\{positive, ogl, neg\}"):
        Accumulator("juanola2025", thresholds=TH, upsample="bilinear_ac")


def test_nonfinite_maps_are_counted_and_scored_worst_case():
    rng = np.random.default_rng(1)
    pos, negs, gt = batch(rng)
    pos[2, 3, 3] = np.nan
    negs[0][1, 0, 0] = np.inf
    acc = Accumulator(thresholds=TH, bootstrap=0)
    acc.update(0, [str(i) for i in range(6)], pos, *negs, gt)
    r = acc.result()
    assert r["nonfinite_positive"] == 1 and r["nonfinite_silence"] == 1 and r["nonfinite_noise"] == 0
    rows = acc.per_sample_rows()
    assert rows[2]["iou_med"] == 0.0 and rows[2]["conf_positive"] == -np.inf
    assert rows[1]["pia_silence_max"] == 1.0
    assert all(np.isfinite(r[k]) for k in ("ciou", "auc", "max_positive_mean"))


def test_result_schema_and_seed_std():
    rng = np.random.default_rng(2)
    acc = Accumulator(thresholds=TH, seeds=[1234, 2345], upsample="bilinear_ac")
    for s in range(2):
        for _ in range(2):  # two batches per seed
            pos, negs, gt = batch(rng)
            acc.update(s, [f"id{i}" for i in range(6)], torch.from_numpy(pos), *negs, gt,
                       groups=[f"g{i // 2}" for i in range(6)], ogl=rng.random((6, 7, 7)).astype(np.float32))
    r = acc.result()
    for k in ("ciou", "auc", "ciou_adap", "auc_adap", "ap", "max_f1"):
        assert k in r and f"{k}_std" in r and 0 <= r[k] <= 1
    assert r["schema_version"] == 1 and r["protocol"] == "vssleval" and r["seeds"] == [1234, 2345]
    assert r["n_seeds"] == 2 and r["n_samples"] == 12 and "torch" in r["versions"]
    assert {"iiou_adap", "ciou_ogl", "auroc_max_neg", "ciou_ci95_low"} <= set(r)
    assert r["ciou_ci95_low"] <= r["ciou_ci95_high"]
    assert len(acc.per_sample_rows()) == 24


def test_streaming_keeps_no_maps():
    rng = np.random.default_rng(3)
    acc = Accumulator(thresholds=TH, bootstrap=0)
    for i in range(3):
        pos, negs, gt = batch(rng)
        acc.update(0, [f"{i}_{j}" for j in range(6)], pos, *negs, gt)
    arrays = [a for recs in acc._records.values() for rec in recs for a in rec.values()]
    assert all(a.ndim == 1 and a.size == 6 for a in arrays)  # per-sample scalars only


def test_records_of_another_accumulator_give_its_result():
    """add_records: one process's seed_records added to another accumulator give the same result;
    records of another length or with other fields are refused."""
    rng = np.random.default_rng(4)
    acc = Accumulator(thresholds=TH, bootstrap=0)
    pos, negs, gt = batch(rng)
    acc.update(0, [str(j) for j in range(6)], pos, *negs, gt, groups=list("aabbcc"))
    (seed,) = acc.seed_records()
    again = Accumulator(thresholds=TH, bootstrap=0)
    again.add_records(0, seed.ids[:2], {k: v[:2] for k, v in seed.records.items()}, seed.groups[:2])
    again.add_records(0, seed.ids[2:], {k: v[2:] for k, v in seed.records.items()}, seed.groups[2:])
    assert json.dumps(again.result()) == json.dumps(acc.result())
    with pytest.raises(ValueError, match=r"records must be \[n=5, \.\.\.\]"):
        again.add_records(0, seed.ids[:5], seed.records)
    with pytest.raises(ValueError, match=r"records hold fields \['area'\] that the seed's other batches"):
        again.add_records(0, seed.ids, {k: v for k, v in seed.records.items() if k != "area"})


def test_report_writers(tmp_path):
    from vssleval.report.compat import write_metrics

    rng = np.random.default_rng(4)
    acc = Accumulator(thresholds=TH, bootstrap=0)
    pos, negs, gt = batch(rng)
    acc.update(0, [f"s{i}" for i in range(6)], pos, *negs, gt)
    paths = write_metrics(acc.result(), acc.per_sample_rows(), tmp_path)
    data = json.loads(paths[0].read_text())
    assert data["protocol"] == "vssleval" and "ciou" in data
    assert paths[1].read_text().startswith("key,value\n")
    assert paths[2].read_text().count("\n") == 7


def test_calibration():
    pos = np.array([0.7, 0.8, 0.9, 0.65])
    neg = np.array([0.5, 0.55, 0.6, 0.66])
    assert auroc(pos, neg) == pytest.approx(15 / 16)
    assert auroc(pos, pos) == pytest.approx(0.5)
    cal = calibrate_threshold(pos, neg)
    assert 0.6 < cal["threshold"] < 0.65 and cal["tpr"] == 1.0 and cal["fpr"] == 0.25
    eer = calibrate_threshold(pos, neg, rule="eer")
    assert eer["fpr"] == pytest.approx(1 - eer["tpr"])
    tr = transfer(cal["threshold"], pos + 0.1, neg + 0.1)
    assert tr["tpr"] == 1.0 and tr["fpr"] == 0.75


@pytest.mark.parametrize("protocol", ["vssleval", "juanola2025"])
def test_update_seeds_equals_one_update_per_seed(protocol):
    """All seeds of a batch at once (what the engine's scorer does) give the result and the
    per-sample rows of one ``update`` per seed, under the protocol that scores shared maps once
    and under one that keeps the default (one ``sample_records`` per seed)."""
    rng = np.random.default_rng(7)
    kw = {"thresholds": TH} | ({"upsample": OPS} if protocol == "juanola2025" else {})
    one, many = Accumulator(protocol, seeds=[1, 2, 3], bootstrap=0, **kw), Accumulator(protocol, seeds=[1, 2, 3],
                                                                                      bootstrap=0, **kw)
    for b in range(2):
        pos, (silence, _, _), gt = batch(rng, b=10)
        ids = [f"s{b}_{i}" for i in range(10)]
        noise = np.stack([batch(rng, b=10)[1][1] for _ in range(3)])  # [S, B, h, w]
        offscreen = np.stack([batch(rng, b=10)[1][2] for _ in range(3)])
        offscreen[1] = pos  # an offscreen map equal to the positive (scored by the positive's state)
        ogl = rng.random((10, 7, 7)).astype(np.float32) if protocol == "juanola2025" else None
        for s in range(3):
            one.update(s, ids, pos, silence, noise[s], offscreen[s], gt, ogl=ogl)
        many.update_seeds(range(3), ids, pos, silence, noise, offscreen, gt, ogl=ogl)
    assert json.dumps(one.result(), sort_keys=True) == json.dumps(many.result(), sort_keys=True)
    assert one.per_sample_rows() == many.per_sample_rows()
    with pytest.raises(ValueError, match="noise has 2 maps for 3 seeds"):
        many.update_seeds(range(3), ids, pos, silence, noise[:2], offscreen, gt, ogl=ogl)


def test_update_seeds_with_known_extremes_equals_one_update_per_seed():
    """Maps given with their raw (max, min) (a store keeping resized maps): the per-seed extremes
    of noise and offscreen reach their own seed, the shared ones every seed, and a negative equal
    to the positive in values but not in extremes is not scored as the positive."""
    rng = np.random.default_rng(11)
    one, many = (Accumulator("vssleval", seeds=[1, 2], bootstrap=0, thresholds=TH) for _ in range(2))
    pos, (silence, _, _), gt = batch(rng, b=6)
    ids = [f"s{i}" for i in range(6)]
    noise = np.stack([batch(rng, b=6)[1][1] for _ in range(2)])
    offscreen = np.stack([pos, pos])  # values of the positive ...
    ext = {v: np.stack([m.max(axis=(-1, -2)), m.min(axis=(-1, -2))], -1) + 5.0 for v, m in
           (("positive", pos), ("silence", silence))}
    ext["noise"] = np.stack([np.stack([m.max(axis=(-1, -2)), m.min(axis=(-1, -2))], -1) + 10.0 * (s + 1)
                             for s, m in enumerate(noise)])
    ext["offscreen"] = ext["noise"] - 3.0  # ... but other raw extremes
    for s in range(2):
        one.update(s, ids, pos, silence, noise[s], offscreen[s], gt,
                   extremes={k: e[s] if k in ("noise", "offscreen") else e for k, e in ext.items()})
    many.update_seeds(range(2), ids, pos, silence, noise, offscreen, gt, extremes=ext)
    assert one.per_sample_rows() == many.per_sample_rows()
    rows = many.per_sample_rows()
    by_seed = {int(r["seed_index"]) + 1: r for r in rows if r["sample_id"] == "s0"}
    assert by_seed[1]["max_noise"] == pytest.approx(float(ext["noise"][0, 0, 0]))
    assert by_seed[2]["max_noise"] == pytest.approx(float(ext["noise"][1, 0, 0]))
    assert by_seed[2]["max_offscreen"] == pytest.approx(float(ext["offscreen"][1, 0, 0]))
    with pytest.raises(ValueError, match=r"extremes\['noise'\] must be .* one per seed"):
        many.update_seeds(range(2), ids, pos, silence, noise, offscreen, gt,
                          extremes={"noise": ext["noise"][:1]})
