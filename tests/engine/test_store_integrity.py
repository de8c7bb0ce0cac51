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
from vssleval.engine.store import STORE_FORMAT, HeatmapStore
from vssleval.errors import VsslevalError

REPO = Path(vssleval.__file__).resolve().parents[1]  # the checkout whose vssleval runs the tests
CONFIG = {"model": "center", "dataset": "synthetic-vggss", "seeds": [1, 2], "batch_size": 2, "n_samples": 5,
          "negatives": ["silence", "noise", "offscreen"], "device": "cpu"}


_shard = fake_shard


def _complete(tmp_path) -> HeatmapStore:
    """A complete run of 5 samples in 3 shards of batch size 2."""
    store = HeatmapStore.create(tmp_path / "run" / "store", CONFIG)
    for k, start in enumerate((0, 2, 4)):
        store.write_shard(k, _shard(start, n=2 if start < 4 else 1))
    store.mark_complete(3)
    return store


#: Who catches a changed shard: the manifest when the store is read (``export``), or the checks of
#: the shards themselves when an unfinished store is completed (no manifest to compare with yet).
CHECKED_BY = ["manifest", "completion"]


def _refusal(capsys, tmp_path, store: HeatmapStore, checked_by: str, change) -> str:
    """The error for a store whose shards ``change`` altered, as ``checked_by`` reports it."""
    if checked_by == "completion":
        (store.root / "COMPLETE").unlink()
    change(store)
    if checked_by == "manifest":
        return _export_error(capsys, store, tmp_path / "x.npz")
    with pytest.raises(VsslevalError) as info:
        store.mark_complete(3)
    return str(info.value)


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


def test_copied_shard_beyond_the_count_is_refused(tmp_path, capsys):
    """D10: a copy of shard 1 as shard 3 was read as 2 more samples (ids twice)."""
    store = _complete(tmp_path)
    store.shard_path(3).write_bytes(store.shard_path(1).read_bytes())
    err = _export_error(capsys, store, tmp_path / "x.npz")
    assert "shard-000003.npz is not one of them" in err and "marked complete with 3 shards" in err
    with pytest.raises(VsslevalError, match="shard-000003.npz"):
        store.maps("positive")
    (store.root / "COMPLETE").unlink()  # an unfinished store being completed: the same shard is refused
    with pytest.raises(VsslevalError, match=r"shard-000003\.npz is not a shard of this run \(3 batches\)"):
        store.mark_complete(3)


def test_export_into_the_store_is_refused(tmp_path, capsys):
    """D10: ``export RUN RUN/store/shard-000001.npz`` replaced a shard with an export."""
    store = _complete(tmp_path)
    before = store.shard_path(1).read_bytes()
    capsys.readouterr()
    assert main(["export", str(store.root.parent), str(store.shard_path(1)), "--overwrite"]) == 2
    assert f"inside the heatmap store {store.root}" in capsys.readouterr().err
    assert main(["export", str(store.root.parent), str(store.root / "new.npz")]) == 2
    assert store.shard_path(1).read_bytes() == before and not (store.root / "new.npz").exists()


@pytest.mark.parametrize("checked_by", CHECKED_BY)
@pytest.mark.parametrize("member", ["silence", "boxes", "labels", "index"])
def test_shard_missing_an_array_is_named(tmp_path, capsys, checked_by, member):
    """D11: a shard without 'silence' was a KeyError traceback; every member of the format is
    required (a shard without boxes or labels is not one this vssleval wrote)."""
    store = _complete(tmp_path)

    def drop(store):
        arrays = store.read_shard(1)
        del arrays[member]
        store.write_shard(1, arrays)
    err = _refusal(capsys, tmp_path, store, checked_by, drop)
    assert str(store.shard_path(1)) in err and f"no {member!r} array" in err and "--resume" in err


@pytest.mark.parametrize("checked_by", CHECKED_BY)
@pytest.mark.parametrize("change, message", [
    (lambda a: {**a, "positive": a["positive"][:1]}, "'positive' holds 1 samples, 'ids' holds 2"),
    (lambda a: {**a, "noise": a["noise"][:1]}, "'noise' holds 1 seeds, the run has 2"),
    (lambda a: {k: v[:1] if k not in ("noise", "offscreen", "offscreen_ids") else v[:, :1] for k, v in a.items()},
     "holds 1 samples; batch 1 of this run holds 2"),
])
def test_shard_with_fewer_rows_or_seeds_is_named(tmp_path, capsys, checked_by, change, message):
    """D12: fewer rows or seeds in one shard: a traceback in report, an inconsistent export."""
    store = _complete(tmp_path)
    err = _refusal(capsys, tmp_path, store, checked_by, lambda st: st.write_shard(1, change(st.read_shard(1))))
    assert str(store.shard_path(1)) in err
    if checked_by == "completion":  # no manifest to compare with: the shapes must fit the run
        assert message in err
    else:  # the manifest names what changed
        assert "the manifest in COMPLETE records" in err


@pytest.mark.parametrize("checked_by", CHECKED_BY)
def test_maps_of_another_size_are_refused(tmp_path, capsys, checked_by):
    """D13: a shard of 5x5 maps beside 7x7 ones was scored silently."""
    store = _complete(tmp_path)
    err = _refusal(capsys, tmp_path, store, checked_by, lambda st: st.write_shard(1, _shard(2, h=5)))
    assert str(store.shard_path(1)) in err
    if checked_by == "completion":
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


@pytest.mark.parametrize("member", ["index", "gt", "groups", "boxes", "labels"])
def test_a_store_without_a_member_of_the_format_is_never_completed(tmp_path, member):
    """Every shard holds the members of the format, whatever the run: a store whose shards all lack
    one (as stores written before ``boxes`` and ``labels`` existed) is not one this vssleval wrote,
    so readers need no branch for it."""
    store = HeatmapStore.create(tmp_path / "run" / "store", CONFIG)
    for k, start in enumerate((0, 2, 4)):
        store.write_shard(k, {a: v for a, v in _shard(start, n=2 if start < 4 else 1).items() if a != member})
    with pytest.raises(VsslevalError, match=rf"shard-000000\.npz has no {member!r} array"):
        store.mark_complete(3)
    assert not store.is_complete()


def test_duplicate_ids_refused_before_completion(tmp_path, capsys):
    """Before the manifest is written: a shard replaced by a copy of another shows as repeated ids."""
    store = _complete(tmp_path)
    err = _refusal(capsys, tmp_path, store, "completion", lambda st: st.write_shard(1, _shard(0)))
    assert "sample 's0'" in err and "shard-000000.npz too" in err


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
    manifest = json.loads((store.root / "COMPLETE").read_text())
    (store.root / "COMPLETE").write_text(json.dumps({**manifest, "shards": "all of them"}))
    err = _export_error(capsys, store, tmp_path / "x.npz")
    assert str(store.root / "COMPLETE") in err and "does not hold a shard manifest" in err


# -- one store format ------------------------------------------------------------------------
def _set_format(store: HeatmapStore, where: str, record) -> None:
    """Write ``record`` as the ``store_format`` of the store's ``config.json`` or ``COMPLETE``
    (``None``: no record at all, as every store written before the format was recorded)."""
    path = store.root / ("config.json" if where == "config" else "COMPLETE")
    data = json.loads(path.read_text())
    data.pop("store_format")
    if record is not None:
        data["store_format"] = record
    path.write_text(json.dumps(data))


@pytest.mark.parametrize("where, record, writer", [
    ("config", None, "vssleval 0.0.9"),  # no format: the writer named by the recorded versions
    ("config", {"version": STORE_FORMAT + 1, "vssleval": "0.3.0"}, "vssleval 0.3.0"),
    ("config", {"version": 1, "vssleval": "0.1.0"}, "vssleval 0.1.0"),  # format 1: no encoded maps
    ("config", {"version": 0}, "vssleval 0.0.9"),
    ("config", STORE_FORMAT, "vssleval 0.0.9"),  # the number alone is not this format's record
    ("config", {"version": True}, "vssleval 0.0.9"),  # a bool is not a format number
    ("config", {"version": float(STORE_FORMAT)}, "vssleval 0.0.9"),  # 2.0 == 2 in Python: not the int
    ("complete", STORE_FORMAT + 1, "this one"),  # the manifest names the vssleval that completed the store
    ("complete", None, "this one"),
])
def test_store_of_another_format_is_refused_in_one_line(tmp_path, capsys, where, record, writer):
    """A store whose ``store_format`` is not this vssleval's is never read: one line names the
    vssleval that wrote it and says to evaluate again (issue 20: no compatibility branches)."""
    store = _complete(tmp_path)
    config = json.loads((store.root / "config.json").read_text())
    (store.root / "config.json").write_text(json.dumps({**config, "versions": {"vssleval": "0.0.9"}}))
    _set_format(store, where, record)
    writer = f"vssleval {vssleval.__version__}" if writer == "this one" else writer
    for command in (["export", str(store.root.parent), str(tmp_path / "x.npz")],
                    ["rescore", str(store.root.parent), "--out", str(tmp_path / "rescored")]):
        capsys.readouterr()
        assert main(command) == 2
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "Traceback" not in err, err
        assert f"was written by {writer}" in err
        assert f"vssleval {vssleval.__version__} reads store format {STORE_FORMAT} only" in err
        assert "evaluate the model again with this version" in err
    assert not (tmp_path / "x.npz").exists() and not (tmp_path / "rescored" / "metrics.json").exists()
    with pytest.raises(VsslevalError, match=f"reads store format {STORE_FORMAT} only"):
        HeatmapStore(store.root).maps("positive")


def test_the_documented_refusal_is_the_one_written():
    """docs/report.md "One store format" quotes the refusal of a store with no format record."""
    from vssleval.engine.store.manifest import check_format
    with pytest.raises(VsslevalError) as info:
        check_format(None, Path("R/store/config.json"), {"vssleval": "0.0.9"})
    docs = (REPO / "docs" / "report.md").read_text(encoding="utf-8")
    assert f"\n{info.value}\n" in docs


def test_resume_of_another_format_is_refused_and_overwrite_replaces(tmp_path):
    store = _complete(tmp_path)
    _set_format(store, "config", None)
    with pytest.raises(VsslevalError, match=f"reads store format {STORE_FORMAT} only"):
        HeatmapStore.create(store.root, CONFIG, resume=True)
    fresh = HeatmapStore.create(store.root, CONFIG, overwrite=True)  # the way out the line gives
    assert fresh.shard_numbers() == [] and fresh.config["store_format"]["version"] == STORE_FORMAT


def test_the_format_is_recorded_in_the_config_and_the_manifest(tmp_path):
    store = _complete(tmp_path)
    config = json.loads((store.root / "config.json").read_text())
    manifest = json.loads((store.root / "COMPLETE").read_text())
    assert STORE_FORMAT == 2  # 2: encoded maps and raw extremes (map.store, docs/models.md §2.8)
    assert config["store_format"] == {"version": STORE_FORMAT, "vssleval": vssleval.__version__}
    assert manifest["store_format"] == STORE_FORMAT and manifest["vssleval"] == vssleval.__version__


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
