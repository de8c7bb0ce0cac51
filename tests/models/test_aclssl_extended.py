"""``aclssl``'s confidence hook and the extended-set evaluator end to end, against the official
extended VGG-SS path (``tests/fixtures/aclssl/extended.npz``, written by
``scripts/reference/aclssl.py --extended`` on 4 positives and 4 ``non-sounding`` pairs of the fixture
clips, with the weights of the ACL weight rule; README there).

The confidence is a cosine of float32 features: relative error (largest difference over the
largest reference magnitude) at most 1e-4, as every stage of the map. The official per-sample cIoU
lies between ours with the pixels within the map parity of a threshold all out or all in; the
dataset numbers of the run equal the official ones at every threshold where each sample passes
IoU 0.5 as officially (the confidences order the samples as officially, ties included).
"""

from __future__ import annotations

import csv
import json
import os

import numpy as np
import pytest
import torch

import shared
import vssleval
from vssleval.engine.store import HeatmapStore
from vssleval.frontends.pipeline import from_preset
from vssleval.metrics.protocols.native import EVALUATORS
from vssleval.metrics.protocols.native.aclssl import THRESHOLDS, column, heatmap
from vssleval.metrics.protocols.native.protocol import unpad_boxes_of
from vssleval.models import load_model_config
from vssleval.models.aclssl import AclSsl, patch_mask
from test_aclssl_parity import DATA

pytestmark = [pytest.mark.parity, pytest.mark.slow]
FIX = shared.BUNDLE_ROOT / "aclssl"
TOL = 1e-4
MARGIN = 2e-5  # the map parity (docs/models.md §17.7): a pixel this close to a threshold may fall either way


def _golden() -> tuple[dict[str, np.ndarray], dict]:
    with np.load(FIX / "extended.npz") as z:
        g = {k: z[k] for k in z.files}
    return g, json.loads((FIX / "extended.json").read_text())


def _rel(ours, ref) -> float:
    ref = np.asarray(ref, np.float64)
    return float(np.abs(np.asarray(ours, np.float64) - ref).max() / np.abs(ref).max())


def test_the_confidence_matches_the_official_one(pairs):
    g, _ = _golden()
    err = _rel(pairs["conf"], g["conf"])
    assert err <= TOL, f"confidence: relative error {err:.2e}"
    # the self-paired negative ties with its positive, in the official run and here
    assert g["conf"][3] == g["conf"][7] and pairs["conf"][3] == pairs["conf"][7]


@pytest.mark.parametrize("stage,bound", [("embedding", 1e-5), ("dense", 1e-5), ("mask", 1e-4)])
def test_the_confidence_stages_match(pairs, stage, bound):
    """The audio-driven embedding, the MaskCLIP dense features (patch mean and three patch rows) and
    the soft mask at the 22 x 22 patch corners."""
    g, _ = _golden()
    if stage == "dense":
        d = pairs["dense"].flatten(2)  # [N, 512, 484] patches in row-major order
        rows = [t - 1 for t in g["dense_token_index"] if t > 0]  # token 0 is the CLS the code drops
        err = max(_rel(d.mean(2), g["dense_mean"]),
                  _rel(d[:, :, rows].transpose(1, 2), g["dense_rows"][:, 1:]))
    elif stage == "mask":
        err = float(np.abs(pairs["mask"].numpy() - g["feature_mask_patches"]).max())  # in [0, 1]
    else:
        err = _rel(pairs[stage], g[stage])
    assert err <= bound, f"{stage}: {err:.2e}"


@pytest.fixture(scope="module")
def extended_run(release, tmp_path_factory):  # noqa: F811
    """The golden's 8 samples as a vggss_extended folder, evaluated natively (one batch); with the
    model the run built and every ``(input, output)`` of its ``encode_image`` / ``encode_audio``."""
    root = tmp_path_factory.mktemp("aclssl-extended")
    data = root / "data"
    data.mkdir()
    for name in ("vggss.json", "vggss_test_plus_silent.csv"):
        (data / name).write_bytes((FIX / "extended_data" / name).read_bytes())
    for sub in ("frames", "audio"):
        os.symlink(DATA / sub, data / sub)
    models, calls = [], {"encode_image": [], "encode_audio": []}
    mp = pytest.MonkeyPatch()
    for name in calls:
        def spy(self, x, _name=name, _method=getattr(AclSsl, name)):
            out = _method(self, x)
            models.append(self)
            calls[_name].append((x.detach().clone(), out.detach().clone()))
            return out
        mp.setattr(AclSsl, name, spy)
    mp.setenv("HF_HOME", str(release / "hf"))
    try:
        res = vssleval.evaluate("aclssl", "vggss_extended", data_dir=data, checkpoint=release / "ckpt",
                                preset="native", protocol="native", neg="none", seeds=1, out=root / "run",
                                device="cpu", bootstrap=0, verbose=False)
    finally:
        mp.undo()
    assert len({id(m) for m in models}) == 1  # one model, built from the release files
    return res, root / "run", models[0], calls


@pytest.fixture(scope="module")
def pairs(extended_run):
    """The model's stages on the golden's 8 (image, audio) pairs, from the encodings the run above
    computed (captured as they left the model, with the model itself): the ViT-B/16 at 352 px and
    BEATs run once for both the stage checks and the run's. Each captured input is matched to its
    clip's image or audio through the native preset's front-ends, so the rows are the golden's."""
    g, _ = _golden()
    model, calls = extended_run[2], extended_run[3]
    audio, image = from_preset(load_model_config("aclssl")["presets"]["native"])
    images_in, visual = (torch.cat([c[k] for c in calls["encode_image"]]) for k in (0, 1))
    audio_in, emb = (torch.cat([c[k] for c in calls["encode_audio"]]) for k in (0, 1))

    def row(inputs: torch.Tensor, x: torch.Tensor) -> int:
        (hits,) = torch.nonzero(torch.all((inputs == x).flatten(1), dim=1), as_tuple=True)
        assert len(hits) >= 1, "an input of the golden is not among the run's"
        return int(hits[0])

    iv = {i: row(images_in, image.load(DATA / "frames" / f"{i}.jpg")) for i in sorted(set(map(str, g["image_ids"])))}
    ia = {a: row(audio_in, audio.positive(DATA / "audio" / f"{a}.wav")) for a in sorted(set(map(str, g["audio_ids"])))}
    images = list(iv)
    with torch.no_grad():
        v = visual[[iv[str(i)] for i in g["image_ids"]]]
        e = emb[[ia[str(a)] for a in g["audio_ids"]]]
        dense = model.clipseg.clip.dense_features(model.dense_input(visual[[iv[i] for i in images]]))
        return {"conf": model.confidence(v, e), "embedding": e,
                "mask": patch_mask(model.logits(v, e), 22, **model.feature_mask_args),
                "dense": dense[[images.index(str(i)) for i in g["image_ids"]]]}


def _official_order(g) -> list[str]:
    """Our sample ids in the official order (positive: the clip id; negative: ``<video>+<audio>``)."""
    return [str(i) if b else f"{i}+{a}" for i, a, b in zip(g["image_ids"], g["audio_ids"], g["bb"])]


def test_the_extended_run_scores_the_stored_confidence(extended_run):
    res, out = extended_run[:2]
    g, ref = _golden()
    m = res.metrics
    assert m["native_evaluator"] == "aclssl_extended" and m["n_samples"] == 8
    shards = list(HeatmapStore.open(out / "store").iter_shards())
    arrays = {k: np.concatenate([s[k] for s in shards]) for k in ("ids", "positive", "boxes", "confidence")}
    assert arrays["confidence"].dtype == np.float32
    where = {str(i): k for k, i in enumerate(arrays["ids"])}
    order = [where[i] for i in _official_order(g)]
    conf = arrays["confidence"][order]
    assert _rel(conf, g["conf"]) <= TOL
    # the run's numbers are the evaluator on the stored maps, boxes and confidences
    cols, data = EVALUATORS["aclssl_extended"].evaluate(arrays["positive"], unpad_boxes_of(arrays["boxes"]),
                                                       confidence=arrays["confidence"])
    for key in ("ap", "max_f1", "ciou", "auc", *(f"AP@{t:g}" for t in THRESHOLDS)):
        assert m[key] == pytest.approx(data[key], abs=1e-12), key
    with open(out / "per_sample.csv", newline="", encoding="utf-8") as fh:
        stored = {r["sample_id"]: float(r["conf"]) for r in csv.DictReader(fh)}
    assert [stored[i] for i in _official_order(g)] == conf.astype(np.float64).tolist()

    # against the official values: each official cIoU lies between ours with the pixels in doubt
    # all out or all in; where every sample passes IoU 0.5 or not as officially, AP / max-F1 are equal
    heat = heatmap(arrays["positive"][order])
    gt = EVALUATORS["aclssl_extended"].gt(unpad_boxes_of(arrays["boxes"][order]))
    assert (conf[:, None] < conf[None]).tolist() == (g["conf"][:, None] < g["conf"][None]).tolist()  # same order, ties
    agreed = 0
    for k, t in enumerate(THRESHOLDS):
        lo, hi = _ciou_bounds(heat, gt, t)
        assert (lo - 1e-12 <= g["ciou"][k]).all() and (g["ciou"][k] <= hi + 1e-12).all(), t
        if ((cols[column(t)][order] >= 0.5) == (g["ciou"][k] >= 0.5)).all():
            assert m[f"AP@{t:g}"] == pytest.approx(ref["per_threshold"][k]["AP-all@50"], abs=1e-12), t
            assert float(f"{100 * m[f'maxF1@{t:g}']:.1f}") == ref["per_threshold"][k]["printed_Max-F1"], t
            agreed += 1
    assert agreed >= 17  # a pixel in doubt can move a cIoU across 0.5 only at one or two thresholds


def _ciou_bounds(heat: np.ndarray, gt: np.ndarray, t: float) -> tuple[np.ndarray, np.ndarray]:
    """Per sample, the cIoU (+1e-12) of ``heat >= t`` with every pixel within MARGIN of ``t`` set to
    its worst / best side."""
    sure = heat >= np.float32(t) + MARGIN
    unsure = np.abs(heat - np.float32(t)) < MARGIN
    g = gt != 0
    lo = (sure & g).sum((1, 2)) / (g.sum((1, 2)) + ((sure | unsure) & ~g).sum((1, 2)) + 1e-12)
    hi = ((sure | unsure) & g).sum((1, 2)) / (g.sum((1, 2)) + (sure & ~g).sum((1, 2)) + 1e-12)
    return lo, hi
