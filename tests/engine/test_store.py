"""The heatmap store: atomic shards, resume/overwrite rules, export format."""

import json

import numpy as np
import pytest

from engine_helpers import fake_shard
from vssleval.engine.store import HeatmapStore, pack_gt, unpack_gt
from vssleval.errors import VsslevalError

CONFIG = {"model": "center", "seeds": [1, 2], "batch_size": 2, "device": "cpu"}


_shard = fake_shard


def test_roundtrip_and_export(tmp_path):
    store = HeatmapStore.create(tmp_path / "store", CONFIG)
    shards = [_shard(0), _shard(2, n=1)]
    for k, sh in enumerate(shards):
        store.write_shard(k, sh)
    store.mark_complete(2)
    out = store.export_npz(tmp_path / "run.npz")
    with np.load(out) as z:
        assert z["positive"].shape == (3, 7, 7) and z["positive"].dtype == np.float32
        assert z["noise"].shape == (2, 3, 7, 7)
        assert list(z["ids"]) == ["s0", "s1", "s2"]
        assert z["offscreen_ids"][1, 2] == "o10"
        np.testing.assert_array_equal(z["noise"][:, 2], shards[1]["noise"][:, 0])
        np.testing.assert_array_equal(z["seeds"], [1, 2])
        assert json.loads(str(z["config"]))["model"] == "center"


def test_existing_run_needs_resume_or_overwrite(tmp_path):
    store = HeatmapStore.create(tmp_path, CONFIG)
    store.write_shard(0, _shard(0))
    with pytest.raises(VsslevalError, match="--resume"):
        HeatmapStore.create(tmp_path, CONFIG)
    resumed = HeatmapStore.create(tmp_path, {**CONFIG, "device": "cuda"}, resume=True)  # device is volatile
    assert resumed.shard_numbers() == [0]
    with pytest.raises(VsslevalError, match="seeds"):
        HeatmapStore.create(tmp_path, {**CONFIG, "seeds": [7]}, resume=True)
    fresh = HeatmapStore.create(tmp_path, {**CONFIG, "seeds": [7]}, overwrite=True)
    assert fresh.shard_numbers() == [] and fresh.config["seeds"] == [7]
    # both flags: the same configuration is resumed, another one replaced
    fresh.write_shard(0, _shard(0, S=1))  # one seed, as its configuration says
    kept = HeatmapStore.create(tmp_path, {**CONFIG, "seeds": [7]}, resume=True, overwrite=True)
    assert kept.shard_numbers() == [0]
    replaced = HeatmapStore.create(tmp_path, CONFIG, resume=True, overwrite=True)
    assert replaced.shard_numbers() == [] and replaced.config["seeds"] == CONFIG["seeds"]


def test_incomplete_store_refuses_export_and_completion(tmp_path):
    store = HeatmapStore.create(tmp_path / "store", CONFIG)
    store.write_shard(1, _shard(2))
    with pytest.raises(VsslevalError, match="missing shards"):
        store.mark_complete(2)
    with pytest.raises(VsslevalError, match="unfinished"):
        store.export_npz(tmp_path / "x.npz")
    assert not (tmp_path / "x.npz").exists()


def test_failed_write_leaves_no_file(tmp_path):
    store = HeatmapStore.create(tmp_path, CONFIG)
    with pytest.raises(TypeError):
        store.write_shard(0, {"bad": object()})  # np.savez cannot pickle-free save an object
    assert store.shard_numbers() == []
    assert not list(tmp_path.glob("*.tmp"))


def test_open_accepts_run_dir(tmp_path):
    HeatmapStore.create(tmp_path / "run" / "store", CONFIG)
    assert HeatmapStore.open(tmp_path / "run").config["model"] == "center"
    with pytest.raises(VsslevalError, match="no heatmap store"):
        HeatmapStore.open(tmp_path / "nowhere")


def _complete_store(tmp_path, shards):
    store = HeatmapStore.create(tmp_path / "store", CONFIG)
    for k, sh in enumerate(shards):
        store.write_shard(k, sh)
    store.mark_complete(len(shards))
    return store


def test_truncated_shard_is_a_clear_error(tmp_path):
    store = _complete_store(tmp_path, [_shard(0), _shard(2)])
    path = store.shard_path(1)
    path.write_bytes(path.read_bytes()[:100])  # a disk error despite the atomic write
    with pytest.raises(VsslevalError, match=r"shard-000001\.npz.*delete it and rerun with --resume"):
        store.export_npz(tmp_path / "x.npz")
    assert not (tmp_path / "x.npz").exists()


def test_complete_store_with_a_deleted_shard_is_refused(tmp_path):
    store = _complete_store(tmp_path, [_shard(0), _shard(2), _shard(4)])
    store.shard_path(1).unlink()
    with pytest.raises(VsslevalError, match=r"shards \[1\] are missing.*--resume"):
        store.require_complete()
    with pytest.raises(VsslevalError, match="are missing"):
        store.export_npz(tmp_path / "x.npz")  # not a silent export of 4 of 6 samples
    assert not (tmp_path / "x.npz").exists()


def test_export_of_a_run_without_noise_and_offscreen(tmp_path):
    shard = {k: v for k, v in _shard(0).items() if k not in ("noise", "offscreen", "offscreen_ids")}
    out = _complete_store(tmp_path, [shard]).export_npz(tmp_path / "run.npz")
    with np.load(out) as z:
        assert sorted(z.files) == ["config", "dataset", "format", "format_version", "ids", "positive", "producer",
                                   "scale", "seeds", "silence"]  # the header: docs/maps-format.md


def test_export_command_refuses_existing_file_and_directory(tmp_path, capsys):
    from vssleval.cli import main

    _complete_store(tmp_path, [_shard(0)])
    target = tmp_path / "maps.npz"
    target.write_bytes(b"precious")
    assert main(["export", str(tmp_path), str(target)]) == 2
    err = capsys.readouterr().err
    assert str(target) in err and "--overwrite" in err and "Traceback" not in err
    assert target.read_bytes() == b"precious"
    assert main(["export", str(tmp_path), str(target), "--overwrite"]) == 0
    assert np.load(target)["positive"].shape == (2, 7, 7)
    assert main(["export", str(tmp_path), str(tmp_path / "store")]) == 2
    assert "is a directory" in capsys.readouterr().err


def test_run_folder_that_is_a_file_is_a_clear_error(tmp_path):
    (tmp_path / "run").write_text("not a folder")
    with pytest.raises(VsslevalError, match=f"{tmp_path / 'run'} is a file, not a folder.*--out"):
        HeatmapStore.create(tmp_path / "run" / "store", CONFIG)
    assert (tmp_path / "run").read_text() == "not a folder"


def test_gt_bit_planes_round_trip():
    """A shard's ``gt``: two bit planes of 6272 bytes per sample, giving back {0, 0.5, 1} exactly."""
    rng = np.random.default_rng(3)
    gt = rng.choice(np.array([0.0, 0.5, 1.0], np.float32), size=(3, 224, 224))
    packed = pack_gt(gt)
    assert packed.dtype == np.uint8 and packed.shape == (3, 2, 6272)
    back = unpack_gt(packed)
    assert back.dtype == np.float32 and np.array_equal(back, gt)


def test_negative_maps_equal_to_the_positive_are_stored_once(tmp_path):
    """An audio-agnostic model's negatives are the positive map bit for bit: the shard holds them
    once and every reader still gets the full arrays (docs: the shard format in engine/store/shards.py)."""
    shard = _shard(0, n=3, S=2)
    shard["silence"] = shard["positive"].copy()
    shard["noise"] = np.stack([shard["positive"]] * 2)
    shard["offscreen"][1, 2] = shard["positive"][2]  # equal for one seed and sample only: kept
    store = HeatmapStore.create(tmp_path / "store", CONFIG)
    store.write_shard(0, shard)
    with np.load(store.shard_path(0)) as z:  # what is on disk
        assert {"silence=positive", "noise=positive", "offscreen"} <= set(z.files)
        assert "silence" not in z.files and "noise" not in z.files
        assert z["noise=positive"].shape == (2, 3, 0) and z["silence=positive"].shape == (3, 0)
    back = store.read_shard(0)
    assert set(back) == set(shard)
    for name, value in shard.items():
        assert back[name].shape == value.shape and back[name].dtype == value.dtype
        np.testing.assert_array_equal(back[name], value)
    back["noise"][0, 0, 0, 0] = -1.0  # an array of its own, like any other member
    assert back["positive"][0, 0, 0] == shard["positive"][0, 0, 0]
    store.mark_complete(1)
    assert HeatmapStore.open(tmp_path / "store").verify() == [0]  # manifest lists the logical shapes
    np.testing.assert_array_equal(store.maps("noise"), shard["noise"])


def test_only_bitwise_equal_maps_are_shared(tmp_path):
    """-0.0 == 0.0 numerically, but storing it as shared would change its sign bit; NaN maps that
    match bit for bit are shared and come back as NaN."""
    shard = _shard(0, n=2, S=1)
    shard["positive"][0, 0, 0] = 0.0
    shard["silence"] = shard["positive"].copy()
    shard["silence"][0, 0, 0] = -0.0
    shard["positive"][1, 3, 3] = np.nan
    shard["noise"] = shard["positive"][None].copy()
    store = HeatmapStore.create(tmp_path / "store", CONFIG)
    store.write_shard(0, shard)
    with np.load(store.shard_path(0)) as z:
        assert "silence" in z.files and "noise=positive" in z.files
    back = store.read_shard(0)
    assert np.signbit(back["silence"][0, 0, 0]) and np.isnan(back["noise"][0, 1, 3, 3])


def test_views_of_the_positive_are_shared_without_comparing(tmp_path, monkeypatch):
    """What the engine hands over for an audio-agnostic model -- the positive array itself and
    read-only ``broadcast_to`` views of it -- is shared on identity alone (no S x n copy to
    compare); a view of another part of memory, or a transposed one, still goes through the
    bitwise comparison."""
    from vssleval.engine.store import shards

    shard = _shard(0, n=3, S=2)
    pos = shard["positive"]
    assert shards._views_of(pos, pos) and shards._views_of(np.broadcast_to(pos, (2, *pos.shape)), pos)
    assert not shards._views_of(pos.copy(), pos)
    assert not shards._views_of(np.broadcast_to(pos[::-1], (2, *pos.shape)), pos)
    assert not shards._views_of(np.broadcast_to(pos.transpose(0, 2, 1), (2, *pos.shape)), pos)  # same start
    shard["silence"], shard["noise"] = pos, np.broadcast_to(pos, (2, *pos.shape))
    compared = []
    monkeypatch.setattr(shards, "_bits", lambda a: compared.append(a.shape) or np.ascontiguousarray(a).view("u4"))
    store = HeatmapStore.create(tmp_path / "store", CONFIG)
    store.write_shard(0, shard)
    assert compared == [shard["offscreen"].shape, pos.shape]  # only offscreen (a map of its own) compared
    with np.load(store.shard_path(0)) as z:
        assert {"silence=positive", "noise=positive", "offscreen"} <= set(z.files)
    np.testing.assert_array_equal(store.read_shard(0)["noise"], np.broadcast_to(pos, (2, *pos.shape)))


def test_unreadable_shared_member_is_a_clear_error(tmp_path):
    store = HeatmapStore.create(tmp_path / "store", CONFIG)
    shard = _shard(0)
    del shard["noise"]
    shard["noise=positive"] = np.zeros((2, 2, 5), dtype=np.float32)  # not an empty placeholder
    np.savez(store.shard_path(0), **shard)
    with pytest.raises(VsslevalError, match=r"shard-000000\.npz.*noise=positive.*--resume"):
        store.read_shard(0)
