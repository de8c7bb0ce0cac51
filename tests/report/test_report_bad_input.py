"""Bad input to ``vssleval report``: mixed runs, missing or partial run directories."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from vssleval.cli import main


def report_error(capsys, *argv: str) -> str:
    capsys.readouterr()
    rc = main(["report", *argv])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert "Traceback" not in err
    return err


def test_different_datasets_refused_naming_runs_and_field(runs, tmp_path, capsys):
    out = tmp_path / "rep"
    err = report_error(capsys, str(runs["center"]), str(runs["random_vggss"]), "--out", str(out))
    assert "dataset differs" in err
    assert "synthetic-is3" in err and "synthetic-vggss" in err
    assert str(runs["center"]) in err and str(runs["random_vggss"]) in err
    assert "--allow-mixed" in err
    assert not out.exists()  # refused before writing anything


def test_different_presets_refused(runs, tmp_path, capsys):
    err = report_error(capsys, str(runs["center"]), str(runs["full"]), str(runs["center_native"]),
                       "--out", str(tmp_path / "rep"))
    assert "preset differs" in err
    assert "native" in err and "juanola2025" in err
    assert str(runs["center_native"]) in err
    assert "dataset differs" not in err


def _copy_run(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def test_different_protocols_refused(runs, tmp_path, capsys):
    other = _copy_run(runs["full"], tmp_path / "full-compat")
    m = json.loads((other / "metrics.json").read_text())
    m["run"]["protocol"] = m["protocol"] = "juanola2025"
    (other / "metrics.json").write_text(json.dumps(m))
    err = report_error(capsys, str(runs["center"]), str(other), "--out", str(tmp_path / "rep"), "--no-maps")
    assert "protocol differs" in err and "juanola2025" in err and str(other) in err


def test_missing_run_directory(tmp_path, capsys):
    missing = tmp_path / "nope"
    err = report_error(capsys, str(missing), "--out", str(tmp_path / "rep"))
    assert "run directory not found" in err and str(missing) in err


@pytest.mark.parametrize("name", ["metrics.json", "per_sample.csv"])
def test_missing_metric_file_named(runs, tmp_path, capsys, name):
    run = _copy_run(runs["center"], tmp_path / "run")
    (run / name).unlink()
    err = report_error(capsys, str(run), "--out", str(tmp_path / "rep"))
    assert str(run / name) in err and "missing" in err


def test_corrupt_metrics_json_named(runs, tmp_path, capsys):
    run = _copy_run(runs["center"], tmp_path / "run")
    text = (run / "metrics.json").read_text()
    (run / "metrics.json").write_text(text[: len(text) // 2])
    err = report_error(capsys, str(run), "--out", str(tmp_path / "rep"))
    assert str(run / "metrics.json") in err and "not valid JSON" in err


def test_truncated_per_sample_named(runs, tmp_path, capsys):
    run = _copy_run(runs["center"], tmp_path / "run")
    lines = (run / "per_sample.csv").read_text().splitlines(keepends=True)
    (run / "per_sample.csv").write_text("".join(lines[:-3]))  # whole rows lost
    err = report_error(capsys, str(run), "--out", str(tmp_path / "rep"))
    assert str(run / "per_sample.csv") in err and "rows" in err
    (run / "per_sample.csv").write_text("".join(lines[:-1]) + lines[-1][:20])  # cut mid-row
    err = report_error(capsys, str(run), "--out", str(tmp_path / "rep"))
    assert str(run / "per_sample.csv") in err and "wrong number of fields" in err


def test_store_missing_or_unfinished_named(runs, tmp_path, capsys):
    run = _copy_run(runs["center"], tmp_path / "run")
    (run / "store" / "COMPLETE").unlink()
    err = report_error(capsys, str(run), "--out", str(tmp_path / "rep"))
    assert str(run / "store" / "COMPLETE") in err and "unfinished" in err
    shutil.rmtree(run / "store")
    err = report_error(capsys, str(run), "--out", str(tmp_path / "rep"))
    assert str(run / "store" / "config.json") in err and "--no-maps" in err
    capsys.readouterr()
    assert main(["report", str(run), "--out", str(tmp_path / "rep"), "--no-maps"]) == 0  # the way out works


def test_out_must_not_be_a_run_directory(runs, tmp_path, capsys):
    run = _copy_run(runs["center"], tmp_path / "run")
    err = report_error(capsys, str(run), "--out", str(run))
    assert "report.md" in err and str(run) in err


def test_from_store_argument_errors(runs, tmp_path, capsys):
    err = report_error(capsys, "--from-store", str(runs["center"]), str(runs["full"]), "--out", str(tmp_path / "x"))
    assert "--from-store takes one run" in err
    err = report_error(capsys, "--from-store", str(tmp_path / "none"), "--out", str(tmp_path / "x"))
    assert "no heatmap store" in err
    err = report_error(capsys, str(runs["center"]), "--protocol", "juanola2025", "--out", str(tmp_path / "x"))
    assert "`vssleval rescore`" in err


def test_deleted_or_truncated_shard_named(runs, tmp_path, capsys):
    run = _copy_run(runs["center"], tmp_path / "run")
    shard = sorted((run / "store").glob("shard-*.npz"))[-1]
    shard.unlink()  # COMPLETE stays: the store used to be scored on the remaining shards
    for argv in ([str(run)], ["--from-store", str(run)]):
        err = report_error(capsys, *argv, "--out", str(tmp_path / "rep"))
        assert shard.name in err and "are missing" in err and "--resume" in err
    shutil.copyfile(runs["center"] / "store" / shard.name, shard)
    shard.write_bytes(shard.read_bytes()[:200])
    err = report_error(capsys, "--from-store", str(run), "--out", str(tmp_path / "rep"))
    assert str(shard) in err and "delete it and rerun with --resume" in err
    assert not (tmp_path / "rep" / "metrics.json").exists()


@pytest.mark.parametrize("flag, value", [("--sweep-samples", "-1"), ("--sweep-points", "1"), ("--bootstrap", "-1")])
def test_bad_numbers_refused(runs, tmp_path, capsys, flag, value):
    err = report_error(capsys, str(runs["center"]), "--out", str(tmp_path / "rep"), flag, value)
    assert f"{flag} must be >=" in err
    assert not (tmp_path / "rep").exists()


def test_out_under_a_file_stops_before_any_output(runs, tmp_path, capsys):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    err = report_error(capsys, str(runs["center"]), str(runs["full"]), "--out", str(blocker / "rep"))
    assert f"{blocker} is a file, not a folder" in err
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a-file"]  # no figure or report anywhere
    err = report_error(capsys, "--from-store", str(runs["center"]), "--out", str(blocker / "rep"))
    assert f"{blocker} is a file, not a folder" in err
