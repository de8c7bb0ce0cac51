"""Acceptance: the juanola2025 protocol reproduces the official vssl_eval outputs exactly.

Inputs: raw maps captured from the official 10-seed run (``captured_raw.npz``) and the
seed-1234 golden maps; targets: ``metrics_full.json`` (164 values, <= 1e-9), the 2-decimal text
file (byte for byte), the 8 max/min dumps, and ``metrics_<model>_<set>.json`` ``raw_mode``.
Thresholds and the upsampling ops come from ``configs/models/<model>.yaml`` (so the config is
under test too: :func:`test_golden_raw_mode` checks the YAML's ops against the official run's).

Each test runs on one fixture root (``shared.FX``, docs/testing.md): the full set when present (the
10-seed run of all 12 model x set pairs), else the committed bundle (the golden raw maps of all 12
pairs, the 10-seed run of six of them). The engine's end-to-end parity test compares maps, not
metrics, so this level runs in CI too.
"""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
import yaml

import shared
from shared import ROOT, require
from vssleval.engine.scoring import upsample_plan_for
from vssleval.metrics import Accumulator, upsample
from vssleval.metrics.protocols import juanola2025 as J

MODELS = shared.juanola_models()
SETS = ("vggss", "is3")  # the fixtures' test-set names are the dataset layout names the YAML keys by
CASES = [(m, s) for m in MODELS for s in SETS]
pytestmark = pytest.mark.parity


def captured_cases() -> list:
    """The 10-seed run: all 12 pairs from the full set, the bundle's six on a bare clone."""
    fx = shared.FX
    pairs = [(m, s) for m, s in CASES if fx.full or (fx.metrics / f"{m}_{s}" / "captured_raw.npz").is_file()]
    return [pytest.param(fx, m, s, id=f"{fx.name}-{m}-{s}") for m, s in pairs]


def golden_cases() -> list:
    return [pytest.param(shared.FX, m, s, id=f"{shared.FX.name}-{m}-{s}") for m, s in CASES]


# how the golden files name the ops (meta.upsample) -> our op names
GOLDEN_OP = {"torch.nn.functional.interpolate": "bilinear_ac", "cv2.resize": "cv2_linear"}


def thresholds(model: str) -> dict:
    cfg = yaml.safe_load((ROOT / "configs" / "models" / f"{model}.yaml").read_text())
    return cfg["thresholds"]


def compare(ref: dict, got: dict) -> list:
    assert list(got) == list(ref), "key order differs"
    return [(k, ref[k], got[k]) for k in ref
            if not (abs(ref[k] - got[k]) <= 1e-9 or (np.isnan(ref[k]) and np.isnan(got[k])))]


@pytest.mark.parametrize("fx,model,testset", captured_cases())
def test_captured_ten_seeds(fx, model, testset, tmp_path):
    d = require(fx.metrics / f"{model}_{testset}")
    z = np.load(d / "captured_raw.npz")
    acc = Accumulator("juanola2025", thresholds=thresholds(model), upsample=upsample_plan_for(model, testset),
                      seeds=list(range(10)))
    for s in range(z["pos"].shape[0]):  # the fixtures spell the positive "pos"
        for part in (slice(0, 7), slice(7, None)):  # two batches: order within a seed is kept
            acc.update(s, list(z["names"][part]), z["pos"][s][part], z["silence"][s][part],
                       z["noise"][s][part], z["offscreen"][s][part], z["gt"][part], ogl=z["ogl"][s][part])
    res = acc.result()
    ref = json.loads((d / "metrics_full.json").read_text())
    got = {k: res[k] for k in J.metric_keys()}
    assert compare(ref, got) == []
    from vssleval.report.compat import write_compat_outputs

    paths = write_compat_outputs(acc, tmp_path, model, testset)
    assert paths[0].read_bytes() == (d / f"{model}_{testset}.txt").read_bytes()
    assert len(paths) == 9
    for p in paths[1:]:
        ref_arr = np.load(d / "max_min" / p.name)
        arr = np.load(p)
        assert arr.dtype == ref_arr.dtype == np.float64 and np.array_equal(arr, ref_arr), p.name


@pytest.mark.parametrize("fx,model,testset", golden_cases())
def test_golden_raw_mode(fx, model, testset):
    g = np.load(require(fx.models / f"{model}_{testset}.npz"))
    meta = json.loads(str(g["meta"]))
    th = thresholds(model)
    assert [th["max"], th["max10"], th["maxq3"]] == meta["thresholds_max_max10_maxq3"]
    official = {v: GOLDEN_OP[op.split("(")[0]] for v, op in meta["upsample"].items()}
    ops = {"positive": official["pos"], "ogl": official["ogl"], "neg": official["silence"]}
    assert official["noise"] == official["offscreen"] == ops["neg"], "negatives upsampled differently"
    # the one check that the YAML's upsampling facts (interpolation mismatch included) are vssl_eval's
    assert ops == upsample_plan_for(model, testset), "model YAML's juanola2025 map.upsample disagrees with meta"
    acc = Accumulator("juanola2025", thresholds=th, upsample=ops)
    acc.update(0, list(g["names"]), g["raw_pos"], g["raw_silence"], g["raw_noise"], g["raw_offscreen"],
               g["gt_map"], ogl=g["raw_ogl"])
    res = acc.result()
    ref = json.loads(require(fx.metrics / f"metrics_{model}_{testset}.json").read_text())["raw_mode"]
    assert compare(ref, {k: res[k] for k in J.metric_keys()}) == []


@pytest.mark.parametrize("fx,model,testset", golden_cases())
def test_upsampling_bit_exact(fx, model, testset):
    """Every 224 map of the golden run (float32 sha256) is regenerated bit for bit."""
    g = np.load(require(fx.models / f"{model}_{testset}.npz"))
    meta = json.loads(str(g["meta"]))
    for v in ("pos", "silence", "noise", "offscreen", "ogl"):  # the fixtures' spelling
        op = GOLDEN_OP[meta["upsample"][v].split("(")[0]]
        up = upsample(g[f"raw_{v}"], op)
        assert up.dtype == np.float32 and up.shape == (24, 224, 224)
        digest = hashlib.sha256(np.ascontiguousarray(up).tobytes()).hexdigest()
        assert digest == str(g[f"sha256_up_{v}_float32"]), (v, op)


@pytest.mark.parametrize("fx", shared.sources())
def test_key_list_is_the_reference_list(fx):
    ref = json.loads((require(fx.metrics / "ezvsl_vggss" / "metrics_full.json")).read_text())
    assert J.metric_keys() == list(ref) and len(ref) == 164
