"""Acceptance: the ``native`` evaluators reproduce each model repository's own evaluator, per sample.

Targets: ``native_metrics/`` (README there): every evaluator's 35 adversarial cases (7 maps x 5 GTs:
constant maps, ties at the median, a whole-image box, an empty GT; inputs in the npz, expected
values in the json) and the native golden maps of six models through their evaluator
(``<model>_vggss.json``). Per-sample IoU, counts, thresholds (and SLAVC's confidence and area,
SSL-Align's adaptive columns) to 1e-9, NaN where the repository gives NaN; dataset numbers under the
repository's own names (a fixture key ``"label (name)"`` is our key ``name``) and the headline keys.
Runs on the bundle (``tests/fixtures/native_metrics``, whole) and, when present, the full set.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pytest

import shared
from shared import require
from vssleval.metrics.protocols.native import EVALUATORS, HEADLINE
from vssleval.metrics.protocols.native._common import box_pixels

pytestmark = pytest.mark.parity
TOL = 1e-9

#: evaluator -> (fixture stem, per-sample key suffix, dataset block in the adversarial json)
ADVERSARIAL = {
    "ezvsl": ("ezvsl", "", None),
    "fnac": ("fnac", "[validate]", "validate"),
    "fnac_bicubic": ("fnac", "[validate2]", "validate2"),
    "slavc": ("slavc", "[default_pred_thr_0.5]", "default_pred_thr_0.5"),
    "slavc_relative": ("slavc", "[relative_prediction]", "relative_prediction"),
    "lvs": ("lvs", "", None),
    "ssltie": ("ssltie", "", None),
    "sslalign": ("sslalign", "", None),
    "sacl": ("sacl", "", None),
}
#: evaluator -> the native golden model whose maps it scores (FNAC has no native golden)
NATIVE = {"ezvsl": "ezvsl", "slavc": "slavc", "slavc_relative": "slavc", "lvs": "lvs", "ssltie": "ssltie",
          "sslalign": "sslalign", "sacl": "sacl"}
#: per-sample columns compared besides ciou (when the fixture has them)
COLUMNS = ("inter", "union", "threshold", "ciou_adap", "inter_adap", "union_adap", "threshold_adap",
           "conf", "area", "n_boxes")


def own_key(fixture_key: str) -> str:
    """``"cIoU@0.5 (finalize_AP50)"`` -> ``"finalize_AP50"``; ``"precision_at_50()"`` -> ``"precision_at_50"``."""
    m = re.fullmatch(r".* \((\S+)\)", fixture_key)
    return (m.group(1) if m else fixture_key).removesuffix("()")


def close(got, want) -> bool:
    if want is None or (isinstance(want, float) and np.isnan(want)):
        return got is None or (isinstance(got, float) and np.isnan(got))
    if isinstance(want, str):
        return got == want
    return got is not None and abs(float(got) - float(want)) <= TOL


def assert_columns(name, cols, per_sample: dict, order: list, suffix: str) -> None:
    want = {k: np.array([np.nan if per_sample[i].get(k + suffix, per_sample[i].get(k)) is None
                         else per_sample[i].get(k + suffix, per_sample[i].get(k)) for i in order], np.float64)
            for k in ("ciou",) + COLUMNS if (k + suffix) in per_sample[order[0]] or k in per_sample[order[0]]}
    for k, w in want.items():
        got = np.asarray(cols[k], np.float64)
        bad = ~((np.abs(got - w) <= TOL) | (np.isnan(got) & np.isnan(w)))
        assert not bad.any(), (f"{name}: {k} differs at {[order[i] for i in np.flatnonzero(bad)]}: "
                               f"got {got[bad]}, want {w[bad]}")
    if "group" in per_sample[order[0]]:
        assert list(cols["group"]) == [per_sample[i]["group"] for i in order]


def mismatches(got: dict, want: dict) -> dict:
    """``{our key: (got, want)}`` for every fixture number (or F1 string) we do not reproduce."""
    bad = {}
    for key, value in want.items():
        if key in ("n_samples", "ciou_note") or isinstance(value, dict):
            continue
        k = own_key(key)
        if k not in got or not close(got[k], value):
            bad[k] = (got.get(k, "<missing>"), value)
    return bad


def assert_dataset(name, got: dict, want: dict) -> None:
    bad = mismatches(got, want)
    assert not bad, f"{name}: {bad}"
    for k in HEADLINE[:2]:
        assert k in got and np.isfinite(got[k]), f"{name}: headline {k!r} missing"


def load_adversarial(fx, stem):
    base = shared.Fixtures.native_metrics.fget(fx)
    ref = json.loads(require(base / f"adversarial_{stem}.json").read_text())
    with np.load(require(base / f"adversarial_{stem}.npz")) as z:
        arrays = {k: z[k] for k in z.files}
    return ref, arrays


@pytest.mark.parametrize("fx", shared.sources())
@pytest.mark.parametrize("name", list(ADVERSARIAL))
def test_adversarial(fx, name):
    """All 35 cases: per-sample values and the dataset numbers, GT conversion included."""
    stem, suffix, block = ADVERSARIAL[name]
    ref, z = load_adversarial(fx, stem)
    ev = EVALUATORS[name]
    boxes = [b[:n] for b, n in zip(z["boxes_normalized"], z["n_boxes"])]
    names = [str(c) for c in z["case"]]
    assert names == ref["sample_order"] and len(names) == 35
    np.testing.assert_array_equal(ev.gt(boxes), z["gt_map"])
    cols, data = ev.evaluate(z["raw_map"], boxes, names=names)
    assert_columns(name, cols, ref["per_sample"], names, suffix)
    key = "expected_ciou" + (f"_{block}" if block else "")
    np.testing.assert_allclose(cols["ciou"], z[key], rtol=0, atol=TOL, equal_nan=True)
    assert_dataset(name, data, ref["dataset"][block] if block else ref["dataset"])
    assert set(ev.own_keys) <= set(data), set(ev.own_keys) - set(data)
    assert ("ap" in data and "max_f1" in data) == name.startswith("slavc")  # only SLAVC computes them


@pytest.mark.parametrize("fx", shared.sources())
@pytest.mark.parametrize("name", list(NATIVE))
def test_native_goldens(fx, name):
    """The 8 native golden maps of the model through its evaluator. GT: the repository's rule on the
    annotation boxes where the fixture root has them (checked against its integer boxes), else the
    fixture's integer boxes (the bundle keeps 4 of the 8 annotations)."""
    model = NATIVE[name]
    ref = json.loads(require(shared.Fixtures.native_metrics.fget(fx) / f"{model}_vggss.json").read_text())
    with np.load(require(fx.native / f"{model}.npz")) as z:
        ids = [str(i) for i in z["ids"]]
        raw = z["raw_map"]
        names = [str(n) for n in z["dataset_names"]] if "dataset_names" in z.files else ids
    assert ids == ref["sample_order"]
    ev = EVALUATORS[name]
    ann = {r["file"]: r["bbox"] for r in json.loads(require(fx.data_vggss / "vggss_annotations.json").read_text())}
    gts, n_boxes, converted = [], [], 0
    for i in ids:
        px = ref["per_sample"][i]["gt_boxes_px"]
        if i in ann:
            assert box_pixels(ann[i], ev.box_rule) == px, i
            gts.append(ev.gt([ann[i]])[0])
            converted += 1
        else:
            gt = np.zeros((224, 224), np.uint8)
            for x0, y0, x1, y1 in px:
                gt[y0:y1, x0:x1] = 1
            gts.append(gt)
        n_boxes.append(len(px))
    assert converted >= 4
    cols, data = ev.evaluate(raw, gt=np.stack(gts), n_boxes=n_boxes, names=names)
    suffix = {"slavc": "[default_pred_thr_0.5]", "slavc_relative": "[relative_prediction]"}.get(name, "")
    assert_columns(name, cols, ref["per_sample"], ids, suffix)
    if name.startswith("slavc"):
        want = ref["dataset"]["variants"]["default_pred_thr_0.5" if name == "slavc" else "relative_prediction"]
    else:
        want = {k: v for k, v in ref["dataset"].items() if k != "slavc_EvaluatorFull"}
    assert_dataset(name, data, want)


@pytest.mark.parametrize("fx", shared.sources())
def test_slavc_finalize_stats_lists(fx):
    """SLAVC's finalize_stats on the (n_boxes, cIoU, confidence, area) lists fed straight to it: a
    4-visible + 2-non-visible toy with confidence ties, and a single sample (AP 0, not NaN)."""
    from vssleval.metrics.protocols.native.slavc import finalize_stats

    ref, _ = load_adversarial(fx, "slavc")
    lists = ref["dataset"]["detection_lists"]
    assert len(lists) >= 2
    for case, block in lists.items():
        rows = block["inputs (n_boxes, ciou, conf, area)"]
        n_boxes, ciou, conf, area = (np.array([np.nan if v is None else v for v in col], np.float64)
                                     for col in zip(*rows))
        bad = mismatches(finalize_stats(conf, ciou, n_boxes, area), block["finalize_stats"])
        assert not bad, f"{case}: {bad}"


@pytest.mark.parametrize("fx", shared.sources())
@pytest.mark.parametrize("model", sorted(set(NATIVE.values())))
def test_slavc_finalize_stats_of_other_models(fx, model):
    """The fixtures' ``slavc_EvaluatorFull`` block of every model: SLAVC's finalize_stats fed that
    model's per-sample cIoU, box count, GT area and top-quarter confidence."""
    from vssleval.metrics.protocols.native.slavc import finalize_stats

    ref = json.loads(require(shared.Fixtures.native_metrics.fget(fx) / f"{model}_vggss.json").read_text())
    rows = [ref["per_sample"][i] for i in ref["sample_order"]]
    conf_key = "conf" if model == "slavc" else "conf_top_quarter_of_upsampled_raw"
    got = finalize_stats([r[conf_key] for r in rows], [r["ciou"] for r in rows],
                         [len(r["gt_boxes_px"]) for r in rows], [_union_area(r["gt_boxes_px"]) for r in rows])
    want = ref["dataset"]["slavc_EvaluatorFull"] if model != "slavc" else ref["dataset"]["variants"]["default_pred_thr_0.5"]
    bad = mismatches(got, {k: v for k, v in want.items() if not k.startswith("precision_at")})
    assert not bad, f"{model}: {bad}"


def _union_area(px_boxes) -> int:
    gt = np.zeros((224, 224), np.uint8)
    for x0, y0, x1, y1 in px_boxes:
        gt[y0:y1, x0:x1] = 1
    return int(gt.sum())


def _lerp_fma_cv2(maps):
    """OpenCV INTER_LINEAR as opencv-python 5.0 computes it through IPP on an AVX-512 CPU (the CPU
    the native fixtures were made on): each pass ``v0 + (v1 - v0) * w1`` with one FMA, where the
    project's ``cv2_linear`` computes ``w0*v0 + w1*v1`` rounded once. The two differ by one ulp on
    about 9 % of the fixtures' upsampled pixels (docs/protocols.md §11.2)."""
    from vssleval.metrics.upsample import cv2_linear_taps

    x = np.asarray(maps, np.float32)
    r0, r1, _, a1 = cv2_linear_taps(x.shape[-2], 224)
    c0, c1, _, b1 = cv2_linear_taps(x.shape[-1], 224)

    def lerp(v0, v1, t):
        return (v0.astype(np.float64) + (v1 - v0).astype(np.float64) * t.astype(np.float64)).astype(np.float32)

    h = lerp(x[..., c0], x[..., c1], b1)
    return lerp(h[:, r0, :], h[:, r1, :], a1[:, None])


@pytest.mark.parametrize("fx", shared.sources())
@pytest.mark.parametrize("name", ["lvs", "ssltie", "sslalign", "sacl"])
def test_opencv_path_changes_no_native_value(fx, name, monkeypatch):
    """docs/protocols.md §11.2: the one-ulp OpenCV path difference moves no mask, threshold or IoU
    of the native fixtures (the upsampled maps do differ)."""
    import importlib

    ref, z = load_adversarial(fx, ADVERSARIAL[name][0])
    boxes = [b[:n] for b, n in zip(z["boxes_normalized"], z["n_boxes"])]
    names = [str(c) for c in z["case"]]
    ev = EVALUATORS[name]
    base = ev.samples(z["raw_map"], boxes, names=names)
    from vssleval.metrics import upsample

    assert (upsample(z["raw_map"], "cv2_linear") != _lerp_fma_cv2(z["raw_map"])).mean() > 0.05
    module = importlib.import_module(ev.per_sample.__module__)
    monkeypatch.setattr(module, "cv2_linear", _lerp_fma_cv2)
    other = ev.samples(z["raw_map"], boxes, names=names)
    for k in ("ciou", "inter", "union", "threshold", "ciou_adap", "threshold_adap"):
        if k in base:
            np.testing.assert_array_equal(base[k], other[k], err_msg=f"{name}: {k}")


def test_model_yamls_name_their_native_evaluator():
    """Every model with a repository evaluator names it (``native_evaluator`` in its YAML), and
    every name given is registered; baselines name none."""
    import yaml

    named = {}
    for path in sorted((shared.ROOT / "configs" / "models").glob("*.yaml")):
        cfg = yaml.safe_load(path.read_text())
        if "native_evaluator" in cfg:
            assert cfg["native_evaluator"] in EVALUATORS, path
            named[cfg["name"]] = cfg["native_evaluator"]
    assert named == {"ezvsl": "ezvsl", "fnac": "fnac", "slavc": "slavc", "lvs": "lvs", "ssltie": "ssltie",
                     "sslalign": "sslalign", "sacl": "sacl", "aclssl": "aclssl"}
