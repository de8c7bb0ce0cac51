"""Bad input through the CLI (issue 5): a clear ``vssleval: error: ...``, exit code 2, no traceback,
and never a corrupt or half-written file; a killed run resumes to the identical result."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from engine_helpers import store_arrays
from vssleval import timing
from vssleval.cli import main
from vssleval.engine.store import HeatmapStore

FAST = ["--model", "center", "--dataset", "synthetic-vggss", "--seeds", "1", "--batch-size", "2",
        "--bootstrap", "0", "--device", "cpu"]


def _cli(capsys, *argv) -> tuple[int, str]:
    code = main(["evaluate", *map(str, argv)])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return code, captured.err


def _fast(data_dir, out, *extra):
    return [*FAST, "--data-dir", data_dir, "--out", out, *extra]


def _files(folder) -> list[str]:
    return sorted(p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file())


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_cuda_requested_without_cuda(capsys, tmp_path, synthetic_set):
    code, err = _cli(capsys, *_fast(synthetic_set("vggss", 6), tmp_path / "run"), "--device", "cuda")
    assert code == 2
    assert err.startswith("vssleval: error: --device cuda was requested but") and "--device cpu" in err
    assert not (tmp_path / "run").exists()


def test_missing_checkpoint_data_dir_and_ogl_weights(capsys, tmp_path, synthetic_set):
    data = synthetic_set("vggss", 6)
    code, err = _cli(capsys, *_fast(data, tmp_path / "a"), "--checkpoint", tmp_path / "nope.pth")
    assert code == 2 and f"--checkpoint {tmp_path / 'nope.pth'} does not exist" in err
    code, err = _cli(capsys, *_fast(tmp_path / "no-data", tmp_path / "b"))
    assert code == 2 and f"--data-dir {tmp_path / 'no-data'} does not exist" in err
    (tmp_path / "file").write_text("not a folder")
    code, err = _cli(capsys, *_fast(tmp_path / "file", tmp_path / "b"))
    assert code == 2 and f"--data-dir {tmp_path / 'file'} is a file, not a folder" in err
    code, err = _cli(capsys, "--model", "ezvsl", "--dataset", "synthetic-vggss", "--data-dir", data,
                     "--out", tmp_path / "c")  # a zoo model without its weights
    assert code == 2 and err.startswith("vssleval: error:") and "checkpoint" in err
    code, err = _cli(capsys, *_fast(data, tmp_path / "d"), "--protocol", "juanola2025", "--neg", "all")
    assert code == 2 and "--ogl-weights" in err
    assert not any((tmp_path / d).exists() for d in "abcd")


def test_juanola2025_without_every_negative_is_refused_before_inference(capsys, tmp_path, synthetic_set):
    code, err = _cli(capsys, *_fast(synthetic_set("vggss", 6), tmp_path / "run"), "--protocol", "juanola2025",
                     "--neg", "silence")
    assert code == 2 and "lacks noise, offscreen" in err
    assert not (tmp_path / "run").exists()


def test_output_dir_with_another_configuration(capsys, tmp_path, synthetic_set):
    data, out = synthetic_set("vggss", 6), tmp_path / "run"
    assert _cli(capsys, *_fast(data, out))[0] == 0
    before = {p: (out / p).read_bytes() for p in _files(out)}
    for extra in ([], ["--resume"]):  # another configuration is refused, resume or not
        code, err = _cli(capsys, *_fast(data, out, "--seeds", "2", *extra))
        assert code == 2 and "holds another run" in err and "(seeds: [1234] -> [1234, 2345])" in err
        assert "--overwrite" in err
        assert {p: (out / p).read_bytes() for p in _files(out)} == before  # nothing touched
    code, err = _cli(capsys, *_fast(data, out))  # the same configuration again: say how to go on
    assert code == 2 and "--resume" in err and "--overwrite" in err
    assert _cli(capsys, *_fast(data, out, "--workers", "1", "--resume"))[0] == 0  # workers do not change maps
    assert _cli(capsys, *_fast(data, out, "--seeds", "2", "--overwrite"))[0] == 0
    assert HeatmapStore.open(out).config["seeds"] == [1234, 2345]
    assert json.loads((out / "metrics.json").read_text())["seeds"] == [1234, 2345]


@pytest.fixture
def ezvsl_args(synthetic_set, ezvsl_checkpoint):
    """A run of two shards (4 samples in batches of 2), the fewest a kill during the second shard's
    write leaves something to resume from."""
    def make(out):
        return ["--model", "ezvsl", "--checkpoint", ezvsl_checkpoint, "--dataset", "synthetic-vggss",
                "--data-dir", synthetic_set("vggss", 4), "--seeds", "2", "--batch-size", "2", "--bootstrap", "0",
                "--device", "cpu", "--out", out]
    return make


def _same_run(a, b) -> None:
    maps_a, maps_b = store_arrays(HeatmapStore.open(a)), store_arrays(HeatmapStore.open(b))
    for key in ("positive", "silence", "noise", "offscreen", "offscreen_ids"):
        assert (maps_a[key] == maps_b[key]).all(), key
    ma, mb = (json.loads((d / "metrics.json").read_text()) for d in (a, b))
    for m in (ma, mb):  # the data folder, and the process's own timing and command line, differ
        m["run"].pop("data_root")
        for key in timing.PROCESS_KEYS:
            m.pop(key)
    assert ma == mb


@pytest.mark.slow
def test_killed_run_resumes_to_the_identical_result(capsys, tmp_path, ezvsl_args, monkeypatch):
    clean = tmp_path / "clean"
    assert _cli(capsys, *ezvsl_args(clean))[0] == 0

    # 1) a run that dies while writing its second shard (the exception stands in for a kill)
    out = tmp_path / "killed"
    real_savez = np.savez
    calls = {"n": 0}

    def dying_savez(fh, **arrays):
        calls["n"] += 1
        if calls["n"] == 2:
            fh.write(b"PK\x03\x04 half a zip")  # bytes reach the temp file, never the shard
            raise KeyboardInterrupt
        return real_savez(fh, **arrays)

    monkeypatch.setattr(np, "savez", dying_savez)
    code, err = _cli(capsys, *ezvsl_args(out))
    monkeypatch.undo()
    assert code == 130 and "interrupted" in err
    store = HeatmapStore.open(out)
    assert store.shard_numbers() == [0] and not store.is_complete()
    # no temp file, no COMPLETE, no metrics
    assert _files(out) == ["offscreen_draws.csv", "store/config.json", "store/inputs.json", "store/shard-000000.npz"]
    store.read_shard(0)  # what is there is readable
    code, err = _cli(capsys, "--workers", "0", *ezvsl_args(out))  # not without --resume
    assert code == 2 and "unfinished run" in err and "--resume" in err
    assert main(["export", str(out), str(tmp_path / "x.npz")]) == 2 and "unfinished" in capsys.readouterr().err
    assert _cli(capsys, *ezvsl_args(out), "--resume")[0] == 0
    _same_run(out, clean)

    # 2) a run killed after some shards: COMPLETE and one shard gone, a stale temp file left behind
    (out / "store" / "COMPLETE").unlink()
    (out / "store" / "shard-000001.npz").unlink()
    (out / "store" / ".shard-000001.npz.abc123.tmp").write_bytes(b"PK\x03\x04 torn")
    (out / "metrics.json").unlink()
    assert _cli(capsys, *ezvsl_args(out), "--resume")[0] == 0
    assert not list((out / "store").glob(".*.tmp"))
    _same_run(out, clean)


@pytest.mark.parametrize("extra, message", [
    (["--limit", "0"], "--limit must be >= 1"),
    (["--limit", "-3"], "--limit must be >= 1"),  # was: silently every sample but the last 3
    (["--workers", "-1"], "--workers must be >= 0"),
    (["--bootstrap", "-1"], "--bootstrap must be >= 0"),
])
def test_bad_numbers_refused_before_any_output(capsys, tmp_path, synthetic_set, extra, message):
    code, err = _cli(capsys, *_fast(synthetic_set("vggss", 6), tmp_path / "run"), *extra)
    assert code == 2 and message in err
    assert not (tmp_path / "run").exists()


@pytest.mark.skipif(torch.cuda.is_available(), reason="needs a machine without CUDA")
def test_amp_without_bf16_hardware_leaves_no_store(capsys, tmp_path, synthetic_set, monkeypatch):
    from vssleval.engine import device

    monkeypatch.setattr(device, "cpu_flags", lambda *a: {"avx2", "fma"})  # a CPU without native bf16
    data, out = synthetic_set("vggss", 6), tmp_path / "run"
    code, err = _cli(capsys, *_fast(data, out), "--amp", "bf16")
    assert code == 2 and "--amp bf16 on cpu: this CPU has neither AVX-512 BF16 nor AMX" in err
    assert not out.exists()  # a leftover store would refuse the corrected run (amp differs)
    code, _ = _cli(capsys, *_fast(data, out))
    assert code == 0


def test_model_file_needs_path_and_class(capsys, tmp_path, synthetic_set):
    data = synthetic_set("vggss", 6)
    (tmp_path / "mine.py").write_text("x = 1\n")
    base = ["--dataset", "synthetic-vggss", "--data-dir", data, "--seeds", "1", "--out", tmp_path / "run"]
    code, err = _cli(capsys, "--model-file", tmp_path / "mine.py", *base)
    assert code == 2 and "--model-file expects PATH.py:CLASS" in err
    code, err = _cli(capsys, "--model", "center", "--model-file", f"{tmp_path / 'mine.py'}:Mine", *base)
    assert code == 2 and "not both" in err
    assert not (tmp_path / "run").exists()


def test_out_is_an_existing_file(capsys, tmp_path, synthetic_set):
    out = tmp_path / "run"
    out.write_text("keep me")
    code, err = _cli(capsys, *_fast(synthetic_set("vggss", 6), out))
    assert code == 2 and f"{out} is a file, not a folder" in err and "--out" in err
    assert out.read_text() == "keep me"
