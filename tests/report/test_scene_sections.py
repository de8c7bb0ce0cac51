"""Scene metrics only where there are scenes (docs/metrics.md §3.4, docs/report.md "Breakdowns"):
an IS3 run has ``iiou``/``iauc`` (and ``_adap``) and a "Scene pairs (IS3)" section; a VGG-SS run,
whose records have no scene, has neither, also when rescored from its store; a store written before
scenes were optional (an id per sample in ``groups``) is still scored with them."""

from __future__ import annotations

import json

import numpy as np

from vssleval.cli import main
from vssleval.engine.scoring import score_store
from vssleval.engine.store import HeatmapStore
from vssleval.metrics import Accumulator
from vssleval.metrics.curves import instance_iou

SCENE_KEYS = ("iiou", "iauc", "iiou_adap", "iauc_adap")
SECTION = "### Scene pairs (IS3)"


def _metrics(run) -> dict:
    return json.loads((run / "metrics.json").read_text())


def test_is3_run_has_the_scene_metrics_and_section(runs):
    metrics = _metrics(runs["random"])
    assert all(k in metrics for k in SCENE_KEYS)
    assert 0.0 <= metrics["iiou"] <= metrics["ciou"]  # a scene succeeds only when both records do
    assert SECTION in (runs["random"] / "report.md").read_text()


def test_vggss_run_has_no_scene_metrics_nor_section(runs):
    metrics = _metrics(runs["random_vggss"])
    assert not [k for k in metrics if k.startswith(("iiou", "iauc"))]
    assert SECTION not in (runs["random_vggss"] / "report.md").read_text()
    store = HeatmapStore.open(runs["random_vggss"] / "store")
    assert {str(g) for shard in store.iter_shards() for g in shard["groups"]} == {""}


def test_rescore_keeps_no_scene_metrics(runs, tmp_path):
    out = tmp_path / "again"
    assert main(["rescore", str(runs["random_vggss"]), "--out", str(out)]) == 0
    again = _metrics(out)
    assert not [k for k in again if k.startswith(("iiou", "iauc"))]
    assert again["ciou"] == _metrics(runs["random_vggss"])["ciou"]
    assert SECTION not in (out / "report.md").read_text()


def test_store_with_an_id_per_sample_is_scored_with_scenes(runs):
    """A store from before scenes were optional held the sample id in ``groups``: it is scored as
    it was, every record its own scene, so iIoU equals cIoU@0.5."""

    class OldStore(HeatmapStore):  # the same store, its groups as an older vssleval wrote them
        def iter_shards(self):
            for shard in super().iter_shards():
                yield {**shard, "groups": np.array([str(i) for i in shard["ids"]])}

    acc = score_store(OldStore(runs["random_vggss"] / "store"), progress=False)
    seed = acc.seed_records()[0]
    assert seed.groups == seed.ids
    result = acc.result()
    assert result["iiou"] == result["ciou"] and result["iiou_adap"] == result["ciou_adap"]


def test_groups_given_for_some_batches_only_are_dropped():
    """A groups column that does not cover every record of a seed would not line up with it."""
    rng = np.random.default_rng(0)
    acc = Accumulator(protocol="vssleval", thresholds={}, seeds=[0], upsample="bilinear")
    gt = np.zeros((2, 224, 224), np.float32)
    gt[:, 50:150, 50:150] = 1
    acc.update(0, ["a", "b"], rng.random((2, 7, 7), dtype=np.float32), gt=gt, groups=["s", "s"])
    acc.update(0, ["c", "d"], rng.random((2, 7, 7), dtype=np.float32), gt=gt, groups=None)
    assert acc.seed_records()[0].groups is None
    assert "iiou" not in acc.result()
    whole = Accumulator(protocol="vssleval", thresholds={}, seeds=[0], upsample="bilinear")
    whole.update(0, ["a", "b"], rng.random((2, 7, 7), dtype=np.float32), gt=gt, groups=["s", "s"])
    iou = whole.seed_records()[0].records["iou_med"]
    assert whole.result()["iiou"] == instance_iou(np.nan_to_num(iou), ["s", "s"])
