"""``--protocol native`` end to end: raw files -> engine (``--preset native``) -> store (with the
annotation's boxes) -> each model's own evaluator -> ``metrics.json`` / ``per_sample.csv``.

Two checks per model, on the fixtures' VGG-SS clips:

* the run itself (``vssleval.evaluate(..., preset="native", protocol="native")``): its per-sample
  ``ciou`` is the evaluator applied to the stored maps and boxes, and is within the engine's map
  tolerance of the repository's own values (``native_metrics/<model>_vggss.json``);
* the same store with the *golden* raw maps put in place of ours, rescored
  (``vssleval.rescore(..., protocol="native")``): every per-sample value and every dataset number
  of the repository's evaluator to 1e-9 (the bundle keeps 4 of the 8 clips, so its dataset numbers
  are checked against the evaluator run on the golden maps of those 4).

Refusals come before any model runs: a model whose YAML names no evaluator, a preset other than the
model's own, a test set the evaluator's code does not cover; Flickr's consensus maps at scoring.
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
from vssleval.metrics import Accumulator
from vssleval.metrics.protocols.native import EVALUATORS
from vssleval.metrics.protocols.native.protocol import unpad_boxes_of
from vssleval.metrics.resampling import MIN_RESAMPLES

pytestmark = pytest.mark.parity
FX = shared.BEST
TOL = 1e-9
#: the fewest resamples that give intervals: each evaluator's interval statistics still run (no
#: interval value is compared here), at a fifth of the default 1000's cost
BOOTSTRAP = MIN_RESAMPLES
#: evaluator name -> model (the YAML's native_evaluator); FNAC has no native golden
MODELS = {m: m for m in shared.native_models()}
#: per-sample columns of the fixtures compared besides ciou (where the fixture has them)
COLUMNS = ("inter", "union", "threshold", "ciou_adap", "inter_adap", "union_adap", "threshold_adap", "conf",
           "area")


def _checkpoint(name, official_checkpoint):
    manifests = shared.BEST.native_manifests
    if name == "sacl":  # two bare state dicts, passed as their folder
        official_checkpoint(manifests / "sacl_frame.json", folder="sacl")
        return official_checkpoint(manifests / "sacl_sound.json", folder="sacl").parent
    return official_checkpoint(manifests / f"{name}.json", folder=f"native-{name}")


def _per_sample(run_dir) -> dict[str, dict[str, float]]:
    with open(run_dir / "per_sample.csv", newline="", encoding="utf-8") as fh:
        return {r["sample_id"]: {k: float(v) for k, v in r.items() if k not in ("sample_id", "label")}
                for r in csv.DictReader(fh)}


def _fixture(model):
    ref = json.loads(shared.require(FX.native_metrics / f"{model}_vggss.json").read_text())
    with np.load(shared.require(FX.native / f"{model}.npz")) as z:
        golden = {str(i): z["raw_map"][k] for k, i in enumerate(z["ids"])}
    suffix = "[default_pred_thr_0.5]" if model == "slavc" else ""
    return ref, golden, suffix


def _value(row: dict, key: str, suffix: str):
    v = row.get(key + suffix, row.get(key))
    return np.nan if v is None else float(v)


def _evaluate(model, official_checkpoint, out):
    n = 8 if FX.full else None  # the full set's first 8 annotations are the native clips
    return vssleval.evaluate(model, "vggss", data_dir=shared.require(FX.data_vggss), checkpoint=_checkpoint(
        model, official_checkpoint), preset="native", protocol="native", neg="none", seeds=1, limit=n,
        out=out, device="cpu", bootstrap=BOOTSTRAP, verbose=False)


def _with_golden_maps(run_dir, golden, dest) -> None:
    """A copy of the run's store whose positive maps are the golden raw maps of the same ids."""
    src = HeatmapStore.open(run_dir / "store")
    store = HeatmapStore.create(dest / "store", src.config)
    numbers = src.shard_numbers()
    for k in numbers:
        shard = src.read_shard(k)
        shard["positive"] = np.stack([golden[str(i)] for i in shard["ids"]]).astype(np.float32)
        store.write_shard(k, shard)
    store.mark_complete(len(numbers))


@pytest.mark.slow
@pytest.mark.parametrize("evaluator", list(MODELS))
def test_native_protocol_end_to_end(evaluator, official_checkpoint, tmp_path):
    model = MODELS[evaluator]
    ref, golden, suffix = _fixture(model)
    res = _evaluate(model, official_checkpoint, tmp_path / "run")
    m = res.metrics
    assert m["protocol"] == "native" and m["native_evaluator"] == evaluator
    assert {"ciou", "auc"} <= set(m) and ("ap" in m) == evaluator.startswith("slavc")
    assert m["bootstrap"]["resamples"] == BOOTSTRAP and "ciou_ci95_low" in m
    ours = _per_sample(tmp_path / "run")
    assert set(ours) <= set(golden) and len(ours) == (8 if FX.full else 4)

    # (1) the run: our maps through the evaluator, near the repository's numbers on its own maps
    shards = list(HeatmapStore.open(tmp_path / "run" / "store").iter_shards())
    maps, boxes = (np.concatenate([s[k] for s in shards]) for k in ("positive", "boxes"))
    ids = [str(i) for s in shards for i in s["ids"]]
    assert boxes.dtype == np.float64  # the annotation's values, not rounded
    direct = EVALUATORS[evaluator].samples(maps, unpad_boxes_of(boxes))
    for i, sid in enumerate(ids):
        assert ours[sid]["ciou"] == pytest.approx(direct["ciou"][i], abs=TOL, nan_ok=True)
        want = _value(ref["per_sample"][sid], "ciou", suffix)
        assert abs(ours[sid]["ciou"] - want) <= 0.02 or (np.isnan(want) and np.isnan(ours[sid]["ciou"]))

    # (2) the golden maps in the same store, rescored: the repository's values to 1e-9
    _with_golden_maps(tmp_path / "run", golden, tmp_path / "golden")
    res2 = vssleval.rescore(tmp_path / "golden", tmp_path / "golden-out", protocol="native", bootstrap=BOOTSTRAP)
    exact = _per_sample(tmp_path / "golden-out")
    for sid, row in exact.items():
        fixture_row = ref["per_sample"][sid]
        for key in ("ciou",) + COLUMNS:
            if key in row and (key + suffix in fixture_row or key in fixture_row):
                want, got = _value(fixture_row, key, suffix), row[key]
                assert (np.isnan(want) and np.isnan(got)) or abs(got - want) <= TOL, (sid, key, got, want)
    # dataset numbers: the evaluator on the golden maps of the clips in the run
    cols, data = EVALUATORS[evaluator].evaluate(
        np.stack([golden[s] for s in ids]), unpad_boxes_of(boxes),
        names=[EVALUATORS[evaluator].sample_name(s) for s in ids])
    for key, want in data.items():
        if isinstance(want, (int, float)) and key != "n_samples":
            got = res2.metrics[key]
            assert (np.isnan(want) and np.isnan(got)) or abs(got - want) <= TOL, (key, got, want)
    if FX.full:  # all 8 clips: the repository's own printed numbers
        want = ref["dataset"]["variants"]["default_pred_thr_0.5"] if model == "slavc" else ref["dataset"]
        for key, value in want.items():
            if isinstance(value, (int, float)) and key != "n_samples":
                k = key.rsplit(" (", 1)[-1].rstrip(")") if " (" in key else key.removesuffix("()")
                if k in res2.metrics:
                    got = res2.metrics[k]
                    assert (np.isnan(value) and np.isnan(got)) or abs(got - value) <= TOL, (k, got, value)


def test_refusals_before_any_model_runs(tmp_path):
    data = shared.require(FX.data_vggss)
    never_read = tmp_path / "never-read.pth"  # the refusals come before any checkpoint is opened
    never_read.write_bytes(b"")
    with pytest.raises(VsslevalError, match="native_evaluator"):
        vssleval.evaluate("center", "vggss", data_dir=data, preset="native", protocol="native", neg="none",
                          seeds=1, out=tmp_path / "a", verbose=False)
    with pytest.raises(VsslevalError, match="--preset native"):
        vssleval.evaluate("ezvsl", "vggss", data_dir=data, checkpoint=never_read, preset="juanola2025",
                          protocol="native", neg="none", seeds=1, out=tmp_path / "b", verbose=False)
    # SSL-Align's IS3 branch upsamples with torch bilinear; the reproduced evaluator is its VGG-SS one
    with pytest.raises(VsslevalError, match="upsamples with cv2_linear"):
        vssleval.evaluate("sslalign", "is3", data_dir=shared.require(FX.data_is3), checkpoint=never_read,
                          preset="native", protocol="native", neg="none", seeds=1, out=tmp_path / "c",
                          verbose=False)
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_consensus_ground_truth_is_refused():
    acc = Accumulator("native", settings={"evaluator": "lvs", "map": {}}, upsample="cv2_linear", bootstrap=0)
    gt = np.zeros((1, 224, 224), np.float32)
    gt[0, :10, :10] = 0.5  # one annotator's box only: Flickr's consensus map
    boxes = np.array([[[0.0, 0.0, 0.1, 0.1]]])
    with pytest.raises(VsslevalError, match="consensus"):  # a refusal: the CLI's one-line error
        acc.update(0, ["a"], np.zeros((1, 14, 14), np.float32), gt=gt, boxes=boxes)
    with pytest.raises(ValueError, match="needs boxes"):
        acc.update(0, ["a"], np.zeros((1, 14, 14), np.float32), gt=np.zeros((1, 224, 224), np.float32))


def test_sslalign_sample_names_are_its_loader_names():
    """SSL-Align groups iIoU by its loader's file names; our VGG-SS ids map onto them."""
    with np.load(shared.require(FX.native / "sslalign.npz")) as z:
        ids, names = [str(i) for i in z["ids"]], [str(n) for n in z["dataset_names"]]
    assert [EVALUATORS["sslalign"].sample_name(i) for i in ids] == names
    assert EVALUATORS["sslalign"].sample_name("IS3_scene_12") == "IS3_scene_12"


def test_every_yaml_evaluator_agrees_with_its_native_preset():
    """Each zoo YAML's ``native`` map block (the record of the model's own pipeline) upsamples VGG-SS
    maps with the op its evaluator's code uses, so ``--preset native --protocol native`` is accepted;
    the evaluator's own box rule and upsampling are then the ones the parity tests pin down."""
    from vssleval.engine.scoring import prepare_run
    from vssleval.models.registry import get_entry, list_models, load_model_config

    named = {}
    for name in list_models():
        if get_entry(name).source != "builtin":
            continue
        config = load_model_config(name)
        if config.get("native_evaluator"):
            named[name] = config["native_evaluator"]
            prepare_run({"model_config": config, "model_name": name, "preset": "native", "negatives": (),
                         "testset": "vggss"}, "native")
    assert named == {"ezvsl": "ezvsl", "fnac": "fnac", "slavc": "slavc", "lvs": "lvs", "ssltie": "ssltie",
                     "sslalign": "sslalign", "sacl": "sacl", "aclssl": "aclssl"}
    # the check can fail: FNAC's validate2 (bicubic) against the YAML's record of validate (bilinear)
    config = {**load_model_config("fnac"), "native_evaluator": "fnac_bicubic"}
    with pytest.raises(VsslevalError, match="upsamples with bicubic"):
        prepare_run({"model_config": config, "model_name": "fnac", "preset": "native", "negatives": (),
                     "testset": "vggss"}, "native")


def test_native_runs_compute_no_negatives_unless_asked(tmp_path):
    """The protocol's default negatives (``vssleval.infer`` stores maps without scoring them): none
    under native (no repository scores them), all three under the others; an explicit ``neg`` wins."""
    def negatives(protocol, **kw):
        res = vssleval.infer("center", "synthetic-vggss", protocol=protocol, seeds=1, limit=2, overlays=0,
                             out=tmp_path / f"{protocol}-{len(kw)}", verbose=False, **kw)
        return tuple(res.config["negatives"])

    assert negatives("native") == ()
    assert negatives("vssleval") == ("silence", "noise", "offscreen")
    assert negatives("native", neg="silence") == ("silence",)


NO_NATIVE_PLUGIN = '''
from vssleval.models.baselines import CenterPrior


class OnlyCompat(CenterPrior):
    pass
'''


def test_a_model_without_a_native_preset_is_not_told_to_use_one(tmp_path, capsys):
    """Issue 19: the refusal used to suggest --preset native, which is then refused for a model whose
    YAML has no such preset. It now names only what works."""
    (tmp_path / "onlycompat.py").write_text(NO_NATIVE_PLUGIN)
    (tmp_path / "onlycompat.yaml").write_text(
        "model: {size: 7}\nnative_evaluator: ezvsl\npresets:\n  juanola2025:\n    audio: {}\n    image: {}\n"
        "    map: {raw: identity, upsample: {positive: bilinear}, normalize: none}\n")
    from vssleval.cli import main

    argv = ["evaluate", "--model-file", f"{tmp_path / 'onlycompat.py'}:OnlyCompat", "--protocol", "native",
            "--limit", "2", "--seeds", "1", "--device", "cpu", "--out", str(tmp_path / "run")]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert "--preset native" not in err
    assert "has none (presets: juanola2025). Add a `native` preset" in err
    assert "evaluate it under --protocol vssleval" in err
    assert main([*argv[:-2], "--protocol", "vssleval", "--out", str(tmp_path / "run")]) == 0  # the advice works
