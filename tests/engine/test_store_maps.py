"""A store that keeps resized maps and 12-bit negatives (``map.store``, docs/models.md §2.8):
the preset entry, the reduction of a batch's raw maps (vssleval/engine/store/reduce.py) and the
encoded shard members (vssleval/engine/store/shards.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from engine_helpers import fake_shard
from vssleval.engine.store import HeatmapStore
from vssleval.engine.store import codec
from vssleval.engine.store.reduce import StoreMaps, raw_extremes
from vssleval.engine.store.shards import logical_headers
from vssleval.errors import VsslevalError
from vssleval.metrics.upsample import upsample, upsample_into
from vssleval.models.maps import MapRule

CONFIG = {"model": "aclssl", "seeds": [1, 2], "batch_size": 2, "device": "cpu"}
BICUBIC = StoreMaps(224, "bicubic", "float12")
MAP = {"raw": "identity", "upsample": {"positive": "bicubic"}, "store": {"size": 224, "negatives": "float12"}}


# -- the preset entry ---------------------------------------------------------------------------------
def test_the_entry_is_parsed_and_recorded():
    rule = MapRule.from_config(MAP)
    assert rule.store is not None and rule.store.record() == {"size": 224, "negatives": "float12"}
    assert StoreMaps.of(rule, "vggss").record() == {"size": 224, "op": "bicubic", "negatives": "float12"}
    assert StoreMaps.of(MapRule.from_config({"upsample": {"positive": "none"}, "store": {"size": 224}}),
                        None) == StoreMaps(224, "bilinear", "float32")  # 'none': the metrics' name
    assert StoreMaps.of(MapRule.from_config({"raw": "identity"}), "vggss") is None
    assert StoreMaps(224, "bicubic", "float32").codes() == {}
    assert BICUBIC.codes() == {"silence": "float12", "noise": "float12", "offscreen": "float12"}


@pytest.mark.parametrize("store, message", [
    ({"size": 352, "negatives": "float12"}, "map.store.size must be 224"),
    ({"size": 224.0}, "map.store.size must be 224"),
    ({"size": True}, "map.store.size must be 224"),
    ({"size": 224, "negatives": "float16"}, "map.store.negatives must be one of"),
    ({"size": 224, "codec": "float12"}, r"unknown keys in map.store: \['codec'\]"),
    ("float12", "map.store must be a mapping"),
])
def test_a_bad_entry_is_refused_in_one_line(store, message):
    with pytest.raises(VsslevalError, match=message):
        MapRule.from_config({**MAP, "store": store})


def test_every_stored_variant_must_share_the_positive_op():
    """The store resizes every map with the positive's op: a preset naming another op for a negative
    (vssl_eval's interpolation mismatch) would be scored with the wrong one, so it is refused."""
    with pytest.raises(VsslevalError, match=r"map.upsample.noise is 'cv2_linear'"):
        MapRule.from_config({**MAP, "upsample": {"positive": "bicubic", "noise": "cv2_linear"}})
    MapRule.from_config({**MAP, "upsample": {"positive": "bicubic", "ogl": "bilinear_ac", "noise": "bicubic"}})


# -- reducing a batch -----------------------------------------------------------------------------------
def _raw_batch(n: int = 2, S: int = 2, h: int = 35) -> dict[str, np.ndarray]:
    """A shard of raw ``h x h`` maps in a logit-like range."""
    shard = fake_shard(0, n=n, S=S, h=h)
    for k in ("positive", "silence", "noise", "offscreen"):
        shard[k] = (shard[k] * 6 - 3).astype(np.float32)
    return shard


def test_maps_are_resized_by_the_scoring_call_and_keep_their_raw_extremes():
    raw = _raw_batch()
    out = BICUBIC.reduce(raw)
    for name in ("positive", "silence", "noise", "offscreen"):
        assert out[name].shape == raw[name].shape[:-2] + (224, 224) and out[name].dtype == np.float32
        flat = raw[name].reshape(-1, 35, 35)
        # bit for bit what the protocols compute from the raw map (the clean protocol writes into a buffer)
        assert out[name].reshape(-1, 224, 224).tobytes() == upsample(flat, "bicubic").tobytes()
        buf = np.empty((len(flat), 224, 224), np.float32)
        assert out[name].reshape(-1, 224, 224).tobytes() == upsample_into(flat, "bicubic", buf).tobytes()
        ext = out[name + "_extremes"]
        assert ext.shape == raw[name].shape[:-2] + (2,) and ext.dtype == np.float32
        np.testing.assert_array_equal(ext[..., 0], raw[name].max(axis=(-2, -1)))
        np.testing.assert_array_equal(ext[..., 1], raw[name].min(axis=(-2, -1)))
    # one map alone gives the same bits as in its batch
    alone = BICUBIC.resize(raw["noise"][1, 0][None])
    assert alone[0].tobytes() == out["noise"][1, 0].tobytes()
    assert {k: v for k, v in out.items() if not k.endswith("_extremes") and k not in raw} == {}


def test_a_flat_raw_map_is_stored_as_its_constant():
    """float32 bicubic of a constant is not constant (docs/protocols.md §8.3); the store keeps the constant."""
    raw = np.full((1, 352, 352), 0.1, np.float32)
    assert len(np.unique(upsample(raw, "bicubic"))) > 1  # why the rule exists
    out = BICUBIC.resize(raw)
    assert np.all(out == np.float32(0.1))
    np.testing.assert_array_equal(raw_extremes(raw), [[np.float32(0.1), np.float32(0.1)]])


def test_a_nonfinite_raw_map_stays_nonfinite():
    """A 3x bilinear downscale never reads pixel (0, 0): the NaN would vanish, so the map is stored as NaN."""
    raw = np.zeros((2, 672, 672), np.float32)
    raw[0, 0, 0] = np.nan
    raw[1, 100, 100] = np.inf
    assert np.isfinite(upsample(raw[:1], "bilinear")).all()  # what a plain resize would do
    out = StoreMaps(224, "bilinear", "float12").resize(raw)
    assert np.isnan(out[0]).all() and not np.isfinite(out[1]).all()
    ext = raw_extremes(raw)
    assert np.isnan(ext[0]).all() and ext[1, 0] == np.inf


# -- encoded shard members -----------------------------------------------------------------------------
def test_negatives_are_stored_encoded_and_read_back_decoded(tmp_path):
    raw = _raw_batch()
    raw["silence"] = raw["positive"].copy()  # audio-agnostic silence: shared first, then nothing to encode
    shard = BICUBIC.reduce(raw)
    store = HeatmapStore.create(tmp_path / "store", CONFIG)
    store.write_shard(0, shard, BICUBIC.codes())
    with np.load(store.shard_path(0)) as z:
        assert {"silence=positive", "noise~float12", "offscreen~float12", "positive"} <= set(z.files)
        assert not {"noise", "offscreen", "silence", "silence~float12"} & set(z.files)
        assert z["noise~float12"].dtype == np.uint8 and z["noise~float12"].shape == (2, 2, 224, 336)
        assert z["positive"].dtype == np.float32 and z["positive"].shape == (2, 224, 224)
        headers = logical_headers({k: (z[k].dtype.str, z[k].shape) for k in z.files})
    assert headers["noise"] == ("<f4", (2, 2, 224, 224)) and headers["silence"] == ("<f4", (2, 224, 224))
    back = store.read_shard(0)
    assert set(back) == set(shard)
    assert back["positive"].tobytes() == shard["positive"].tobytes()  # float32, untouched
    assert back["silence"].tobytes() == shard["positive"].tobytes()
    for name in ("noise", "offscreen"):
        assert back[name].dtype == np.float32
        np.testing.assert_array_equal(back[name], codec.decode(codec.encode(shard[name])))
        assert np.abs(back[name] - shard[name]).max() <= 2.0 ** -8 * np.abs(shard[name]).max()
    store.mark_complete(1)
    manifest = json.loads((store.root / "COMPLETE").read_text())
    assert manifest["shards"][0]["arrays"]["noise"] == ["<f4", [2, 2, 224, 224]]  # as readers get it
    assert HeatmapStore.open(tmp_path / "store").verify() == [0]
    exported = store.arrays()
    assert exported["noise"].shape == (2, 2, 224, 224) and exported["noise_extremes"].shape == (2, 2, 2)
    np.testing.assert_array_equal(exported["positive_extremes"], shard["positive_extremes"])


@pytest.mark.parametrize("name, value", [
    ("noise~float12", np.zeros((2, 2, 224, 335), np.uint8)),      # not the packed width of positive's w
    ("noise~float12", np.zeros((2, 2, 224, 336), np.float32)),    # not bytes
    ("noise~float16", np.zeros((2, 2, 224, 336), np.uint8)),      # a code this version does not read
    ("positive~float12", np.zeros((2, 224, 336), np.uint8)),      # the positive is never encoded
])
def test_an_encoded_member_this_version_cannot_read_is_a_clear_error(tmp_path, name, value):
    shard = BICUBIC.reduce(_raw_batch())
    del shard["noise"]
    shard[name] = value
    store = HeatmapStore.create(tmp_path / "store", CONFIG)
    np.savez(store.shard_path(0), **shard)
    with pytest.raises(VsslevalError, match=rf"shard-000000\.npz.*{name}.*--resume"):
        store.read_shard(0)
