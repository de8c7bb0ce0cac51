"""A heatmap store is verified before it is trusted (issue 11, D10-D14, D24).

``COMPLETE`` lists every shard with its sha256, arrays and shapes; reading a store (scoring,
``export``, ``maps``) and resuming one check that list first and name the first mismatch. A full
disk is a clear error with the bytes needed; a start that wrote no shard leaves no run behind.
"""

from __future__ import annotations

import errno
import json
import os
import resource
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import vssleval
from engine_helpers import fake_shard
from vssleval.cli import main
from vssleval.engine.store import HeatmapStore
from vssleval.errors import VsslevalError

REPO = Path(vssleval.__file__).resolve().parents[1]  # the checkout whose vssleval runs the tests
CONFIG = {"model": "center", "dataset": "synthetic-vggss", "seeds": [1, 2], "batch_size": 2, "n_samples": 5,
          "negatives": ["silence", "noise", "offscreen"], "device": "cpu"}


_shard = fake_shard


def _complete(tmp_path, legacy=False) -> HeatmapStore:
    """A complete run of 5 samples in 3 shards of batch size 2; ``legacy``: the marker an older
    vssleval wrote (only the shard count)."""
    store = HeatmapStore.create(tmp_path / "run" / "store", CONFIG)
    for k, start in enumerate((0, 2, 4)):
        store.write_shard(k, _shard(start, n=2 if start < 4 else 1))
    store.mark_complete(3)
    if legacy:
        (store.root / "COMPLETE").write_text("3\n")
    return store


def _export_error(capsys, store: HeatmapStore, out: Path) -> str:
    capsys.readouterr()
    assert main(["export", str(store.root.parent), str(out)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and not out.exists()
    return err


def test_complete_marks_a_manifest_of_every_shard(tmp_path):
    store = _complete(tmp_path)
    manifest = json.loads((store.root / "COMPLETE").read_text())
    assert manifest["n_shards"] == 3 and manifest["n_samples"] == 5
    names = [e["name"] for e in manifest["shards"]]
    assert names == ["shard-000000.npz", "shard-000001.npz", "shard-000002.npz"]
    import hashlib
    assert manifest["shards"][1]["sha256"] == hashlib.sha256(store.shard_path(1).read_bytes()).hexdigest()
    assert manifest["shards"][2]["arrays"]["noise"] == ["<f4", [2, 1, 7, 7]]
    assert store.maps("noise").shape == (2, 5, 7, 7)


@pytest.mark.parametrize("legacy", [False, True])
def test_copied_shard_beyond_the_count_is_refused(tmp_path, capsys, legacy):
    """D10: a copy of shard 1 as shard 3 was read as 2 more samples (ids twice)."""
    store = _complete(tmp_path, legacy)
    store.shard_path(3).write_bytes(store.shard_path(1).read_bytes())
    err = _export_error(capsys, store, tmp_path / "x.npz")
    assert "shard-000003.npz is not one of them" in err and "marked complete with 3 shards" in err
    with pytest.raises(VsslevalError, match="shard-000003.npz"):
        store.maps("positive")


def test_export_into_the_store_is_refused(tmp_path, capsys):
    """D10: ``export RUN RUN/store/shard-000001.npz`` replaced a shard with an export."""
    store = _complete(tmp_path)
    before = store.shard_path(1).read_bytes()
    capsys.readouterr()
    assert main(["export", str(store.root.parent), str(store.shard_path(1)), "--overwrite"]) == 2
    assert f"inside the heatmap store {store.root}" in capsys.readouterr().err
    assert main(["export", str(store.root.parent), str(store.root / "new.npz")]) == 2
    assert store.shard_path(1).read_bytes() == before and not (store.root / "new.npz").exists()


@pytest.mark.parametrize("legacy", [False, True])
def test_shard_missing_an_array_is_named(tmp_path, capsys, legacy):
    """D11: a shard without 'silence' was a KeyError traceback."""
    store = _complete(tmp_path, legacy)
    arrays = store.read_shard(1)
    del arrays["silence"]
    store.write_shard(1, arrays)
    err = _export_error(capsys, store, tmp_path / "x.npz")
    assert str(store.shard_path(1)) in err and "no 'silence' array" in err and "--resume" in err


@pytest.mark.parametrize("legacy", [False, True])
@pytest.mark.parametrize("change, message", [
    (lambda a: {**a, "positive": a["positive"][:1]}, "'positive' holds 1 samples, 'ids' holds 2"),
    (lambda a: {**a, "noise": a["noise"][:1]}, "'noise' holds 1 seeds, the run has 2"),
    (lambda a: {k: v[:1] if k not in ("noise", "offscreen", "offscreen_ids") else v[:, :1] for k, v in a.items()},
     "holds 1 samples; batch 1 of this run holds 2"),
])
def test_shard_with_fewer_rows_or_seeds_is_named(tmp_path, capsys, legacy, change, message):
    """D12: fewer rows or seeds in one shard: a traceback in report, an inconsistent export."""
    store = _complete(tmp_path, legacy)
    store.write_shard(1, change(store.read_shard(1)))
    err = _export_error(capsys, store, tmp_path / "x.npz")
    assert str(store.shard_path(1)) in err
    if legacy:  # no manifest to compare with: the shapes must fit the run
        assert message in err
    else:  # the manifest names what changed
        assert "the manifest in COMPLETE records" in err


@pytest.mark.parametrize("legacy", [False, True])
def test_maps_of_another_size_are_refused(tmp_path, capsys, legacy):
    """D13: a shard of 5x5 maps beside 7x7 ones was scored silently."""
    store = _complete(tmp_path, legacy)
    store.write_shard(1, _shard(2, h=5))
    err = _export_error(capsys, store, tmp_path / "x.npz")
    assert str(store.shard_path(1)) in err
    if legacy:
        assert "maps are 5x5" in err and "are 7x7" in err
    else:
        assert "float32 [2, 5, 5]" in err and "records float32 [2, 7, 7]" in err
    with pytest.raises(VsslevalError, match="shard-000001.npz"):
        store.maps("positive")


def test_same_shapes_other_bytes_fail_the_hash(tmp_path, capsys):
    store = _complete(tmp_path)
    arrays = store.read_shard(2)
    arrays["positive"] = arrays["positive"] + 1.0  # same arrays and shapes, other numbers
    store.write_shard(2, arrays)
    err = _export_error(capsys, store, tmp_path / "x.npz")
    assert str(store.shard_path(2)) in err and "has changed since its run completed" in err and "sha256" in err


def test_legacy_store_duplicate_ids_refused(tmp_path, capsys):
    """An older store (no hashes): a shard replaced by a copy of another shows as repeated ids."""
    store = _complete(tmp_path, legacy=True)
    store.write_shard(1, _shard(0))  # batch 1 now holds s0, s1 again
    err = _export_error(capsys, store, tmp_path / "x.npz")
    assert "sample 's0'" in err and "shard-000000.npz too" in err


def test_legacy_store_is_read_and_upgraded_by_resume(tmp_path):
    store = _complete(tmp_path, legacy=True)
    expected = store.maps("positive")
    np.testing.assert_array_equal(HeatmapStore(store.root).maps("positive"), expected)  # still readable
    resumed = HeatmapStore.create(store.root, CONFIG, resume=True)
    resumed.mark_complete(3)  # what a resumed run with nothing left to compute does
    assert json.loads((store.root / "COMPLETE").read_text())["format"] == 2
    np.testing.assert_array_equal(resumed.maps("positive"), expected)


def test_resume_checks_the_shards_it_keeps(tmp_path):
    store = _complete(tmp_path)
    arrays = store.read_shard(0)
    arrays["positive"] = arrays["positive"] * 0.5
    store.write_shard(0, arrays)
    with pytest.raises(VsslevalError, match=r"shard-000000\.npz has changed since its run completed"):
        HeatmapStore.create(store.root, CONFIG, resume=True)
    store.shard_path(0).unlink()  # the way out the message gives
    resumed = HeatmapStore.create(store.root, CONFIG, resume=True)
    assert not resumed.is_complete()  # complete again once shard 0 is back
    store.shard_path(7).write_bytes(store.shard_path(1).read_bytes())
    with pytest.raises(VsslevalError, match=r"shard-000007\.npz is not a shard of this run \(3 batches\)"):
        HeatmapStore.create(store.root, CONFIG, resume=True)
    store.shard_path(7).unlink()
    store.write_shard(0, _shard(0, h=5))  # an unfinished store: the kept shards must fit each other
    with pytest.raises(VsslevalError, match="maps are"):
        HeatmapStore.create(store.root, CONFIG, resume=True)


def test_unreadable_or_foreign_manifest(tmp_path, capsys):
    store = _complete(tmp_path)
    (store.root / "COMPLETE").write_text('{"format": 2, "shards": "all of them"}')
    err = _export_error(capsys, store, tmp_path / "x.npz")
    assert str(store.root / "COMPLETE") in err and "does not hold a shard manifest" in err


# -- D14: a full disk --------------------------------------------------------------------------
@pytest.mark.parametrize("code", [errno.ENOSPC, errno.EFBIG])
def test_full_disk_while_writing_a_shard(tmp_path, monkeypatch, code):
    store = HeatmapStore.create(tmp_path / "store", CONFIG)

    def full(fh, **arrays):
        fh.write(b"PK\x03\x04 part of a shard")
        raise OSError(code, os.strerror(code))

    monkeypatch.setattr(np, "savez", full)
    with pytest.raises(VsslevalError) as info:
        store.write_shard(0, _shard(0))
    msg = str(info.value)
    assert str(store.shard_path(0)) in msg and "bytes) needed" in msg and "free there" in msg
    assert ("file size limit" if code == errno.EFBIG else "disk is full") in msg
    needed = sum(v.nbytes for v in _shard(0).values())
    assert int(msg.split(" bytes) needed")[0].rsplit("(", 1)[1]) >= needed
    assert store.shard_numbers() == [] and not list(store.root.glob(".*.tmp"))


def test_file_size_limit_in_a_real_process(tmp_path):
    """``ulimit -f``: the export stops with a message, no traceback and no partial file."""
    store = HeatmapStore.create(tmp_path / "run" / "store", {**CONFIG, "n_samples": 64, "batch_size": 64})
    big = _shard(0, n=64, h=48)  # ~2.4 MB of random maps: no compression gets that under the limit
    store.write_shard(0, big)
    store.mark_complete(1)
    out = tmp_path / "maps.npz"
    limit = 256 * 1024

    def small_files():
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

    proc = subprocess.run([sys.executable, "-m", "vssleval", "export", str(store.root.parent), str(out)],
                          cwd=REPO, capture_output=True, text=True, preexec_fn=small_files, timeout=300,
                          env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "OMP_NUM_THREADS": "1"})
    assert proc.returncode == 2, proc.stderr
    assert "Traceback" not in proc.stderr
    assert f"cannot write {out}" in proc.stderr and "file size limit" in proc.stderr
    assert "bytes) needed" in proc.stderr
    assert not out.exists() and not list(tmp_path.glob(".*.tmp"))


# -- D24: a failed start ---------------------------------------------------------------------------
def test_store_without_shards_is_started_afresh(tmp_path):
    HeatmapStore.create(tmp_path / "store", CONFIG)  # a start that failed before its first shard
    again = HeatmapStore.create(tmp_path / "store", CONFIG)  # no --resume needed
    assert again.shard_numbers() == []
    other = HeatmapStore.create(tmp_path / "store", {**CONFIG, "seeds": [9]})  # nothing to protect
    assert other.config["seeds"] == [9]


def test_failed_start_then_the_same_command_works(tmp_path, capsys, synthetic_set):
    data, out = synthetic_set("vggss", 4), tmp_path / "run"
    argv = ["evaluate", "--model", "center", "--dataset", "synthetic-vggss", "--data-dir", str(data), "--seeds", "1",
            "--batch-size", "2", "--bootstrap", "0", "--device", "cpu", "--out", str(out)]
    (out / "offscreen_draws.csv").mkdir(parents=True)  # the run folder cannot take its first file
    capsys.readouterr()
    assert main(argv) == 2
    assert "offscreen_draws.csv" in capsys.readouterr().err
    (out / "offscreen_draws.csv").rmdir()
    assert main(argv) == 0, capsys.readouterr().err  # not "pass --resume to continue it"
    assert HeatmapStore.open(out).verify() == [0, 1]
