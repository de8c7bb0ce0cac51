"""``aclssl``'s confidence hook and the extended-set evaluator end to end, against the official
extended VGG-SS path (``tests/fixtures/aclssl/extended.npz``, written by
``scripts/reference/aclssl.py --extended`` on 4 positives and 4 ``non-sounding`` pairs of the fixture
clips, with the weights of the ACL weight rule; README there).

The confidence is a cosine of float32 features: relative error (largest difference over the
largest reference magnitude) at most 1e-4, as every stage of the map. The official per-sample cIoU
lies between ours with the pixels within the map parity of a threshold all out or all in; the
dataset numbers of the run equal the official ones at every threshold where each sample passes
IoU 0.5 as officially (the confidences order the samples as officially, ties included).

The run is the session's ``aclssl_run`` (tests/models/conftest.py, built once for all workers); the
stage checks read the encodings, dense features, logits and confidences it captured on the way.
"""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest
import torch

import shared
from vssleval.engine.store import HeatmapStore
from vssleval.frontends.pipeline import from_preset
from vssleval.metrics.protocols.native import EVALUATORS
from vssleval.metrics.protocols.native.aclssl import THRESHOLDS, column, heatmap
from vssleval.metrics.protocols.native.protocol import unpad_boxes_of
from vssleval.models import load_model_config
from vssleval.models.aclssl import patch_mask
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
def extended_run(aclssl_run):
    """``(metrics.json, run folder)`` of the golden's 8 samples as a vggss_extended folder, evaluated
    natively (one batch): the session's ``aclssl_run`` (tests/models/conftest.py), whose forwards
    test_aclssl_parity.py reads too."""
    return json.loads((aclssl_run.run / "metrics.json").read_text()), aclssl_run.run


@pytest.fixture(scope="module")
def pairs(aclssl_run):
    """The model's stages on the golden's 8 (image, audio) pairs, as the run above computed them
    (captured as they left the model): the ViT-B/16 at 352 px and BEATs run once for the stage
    checks and the run's. The run's rows are matched to the golden's pairs by their inputs (each
    clip's image and audio through the native preset's front-ends)."""
    g, _ = _golden()
    calls = aclssl_run.calls
    audio, image = from_preset(load_model_config("aclssl")["presets"]["native"])
    images = {i: image.load(DATA / "frames" / f"{i}.jpg") for i in set(map(str, g["image_ids"]))}
    audios = {a: audio.positive(DATA / "audio" / f"{a}.wav") for a in set(map(str, g["audio_ids"]))}
    same = lambda inputs, x: torch.all((inputs == x).flatten(1), dim=1)  # noqa: E731
    rows = []
    for i, a in zip(map(str, g["image_ids"]), map(str, g["audio_ids"])):
        (hits,) = torch.nonzero(same(calls["encode_image_input"], images[i]) & same(calls["encode_audio_input"], audios[a]),
                                as_tuple=True)
        assert len(hits) >= 1, f"the pair ({i}, {a}) is not among the run's"
        rows.append(int(hits[0]))
    mask = patch_mask(calls["logits"][rows], 22, **aclssl_run.model["feature_mask_args"])
    return {"conf": calls["confidence"][rows], "embedding": calls["encode_audio"][rows], "mask": mask,
            "dense": calls["dense"][rows]}


def _official_order(g) -> list[str]:
    """Our sample ids in the official order (positive: the clip id; negative: ``<video>+<audio>``)."""
    return [str(i) if b else f"{i}+{a}" for i, a, b in zip(g["image_ids"], g["audio_ids"], g["bb"])]


def test_the_extended_run_scores_the_stored_confidence(extended_run):
    m, out = extended_run  # metrics.json
    g, ref = _golden()
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
