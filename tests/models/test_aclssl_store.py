"""ACL-SSL's store (``map.store: {size: 224, negatives: float12}`` in configs/models/aclssl.yaml;
docs/models.md §2.8 and §17.8): what it keeps of the 352 x 352 logit maps, what that costs on disk
for VGG-SS, and what it changes in the metrics, against a full-precision store of the same raw maps
(the checks of tests/store_bounds.py: positive metrics identical, negative ones within the code's
bound), under the clean protocol and ACL-SSL's own evaluator.

Two sources of maps: the committed golden logits of the official code (clip 0 of
``tests/fixtures/aclssl/golden.npz``, whole, at 352) and maps built from them, scored without a
model (fast). The real run of the model (2 fixture clips, all negatives, 2 seeds, the weights of
the ACL weight rule) is checked against the same bounds in ``test_aclssl_negatives.py``, which
makes that run once for both checks.
"""

from __future__ import annotations

import zipfile

import numpy as np
import pytest

import shared
import store_bounds
from vssleval.data import gt_map, load_dataset
from vssleval.engine.store import PER_SEED, HeatmapStore, pack_gt, pad_boxes
from vssleval.engine.store.reduce import StoreMaps
from vssleval.engine.store.shards import ENCODED_SEP
from vssleval.models import load_model_config
from vssleval.models.maps import MapRule
from test_aclssl_parity import DATA

GOLDEN = shared.BUNDLE_ROOT / "aclssl" / "golden.npz"
#: VGG-SS test set and the run the budget is for (docs/models.md §17.8)
VGGSS_CLIPS, VGGSS_SEEDS, BUDGET = 5158, 10, 10e9


def _rule() -> StoreMaps:
    config = load_model_config("aclssl")
    for preset in ("native", "juanola2025"):  # both presets store the same way
        assert MapRule.from_config(config["presets"][preset]["map"]).store.record() == {
            "size": 224, "negatives": "float12"}
    return StoreMaps.of(MapRule.from_config(config["presets"]["native"]["map"]), "vggss")


def _config(n: int, negatives: list[str], rule: StoreMaps) -> dict:
    return {"model": "aclssl", "model_name": "aclssl", "model_config": load_model_config("aclssl"),
            "preset": "native", "protocol": "vssleval", "dataset": "vggss", "testset": "vggss",
            "negatives": negatives, "seeds": [1], "batch_size": n, "n_samples": n, "store_maps": rule.record()}


@pytest.mark.slow
def test_the_golden_logits_score_identically_from_the_store(tmp_path):
    """The official logits of clip 0 and maps built from them (a transposed, a shifted, a flat one)
    as positives of the 4 fixture clips; negatives built from them too. Stored as the run stores
    them, then scored: every positive metric (clean protocol and ACL-SSL's evaluator) equals the
    full-precision one, every negative one lies within the code's bound."""
    rule = _rule()
    with np.load(GOLDEN) as g:
        logits = g["logits352_first"].reshape(352, 352).astype(np.float32)
    samples = load_dataset("vggss", DATA).samples[:4]
    positive = np.stack([logits, logits.T.copy(), logits + np.float32(0.7), np.full_like(logits, 0.25)])
    raw = {"index": np.arange(4), "ids": np.array([s.id for s in samples]), "positive": positive,
           "silence": np.roll(positive, 40, axis=-1), "noise": (positive * np.float32(-0.5))[None],
           "offscreen": (positive[::-1] + np.float32(0.3))[None],
           "offscreen_ids": np.array([[s.id for s in samples[::-1]]]),
           "gt": pack_gt(np.stack([gt_map(s) for s in samples])), "groups": np.array([s.id for s in samples]),
           "boxes": pad_boxes([s.frame_boxes() for s in samples], max(len(s.frame_boxes()) for s in samples)),
           "labels": np.array([s.label for s in samples])}
    config = _config(4, ["silence", "noise", "offscreen"], rule)
    store = HeatmapStore.create(tmp_path / "stored", config)
    store.write_shard(0, rule.reduce(raw), rule.codes())
    store.mark_complete(1)
    for protocol in ("vssleval", "native"):
        measured = store_bounds.compare_with_full_precision(store, [raw], tmp_path, protocol)
        if protocol == "native":
            assert measured["metrics"] == {} and measured["records"] == {}  # positives only: all identical


def bytes_per_clip(store: HeatmapStore, n_seeds: int) -> float:
    """Bytes of the store per clip for a run of ``n_seeds`` seeds, from the files of ``store``: every
    file of the store (shards, configuration, manifest, inputs) counts, the data of the per-seed
    members scaled from the run's seeds to ``n_seeds`` (the other bytes do not grow with seeds)."""
    seeds = len(store.config["seeds"])
    total = sum(p.stat().st_size for p in store.root.iterdir() if p.is_file())
    per_seed = 0
    for k in store.shard_numbers():
        with zipfile.ZipFile(store.shard_path(k)) as zf:
            per_seed += sum(i.file_size for i in zf.infolist()
                            if i.filename[:-4].partition(ENCODED_SEP)[0].split("=")[0] in PER_SEED)
    return (total - per_seed + per_seed * n_seeds / seeds) / store.config["n_samples"]
