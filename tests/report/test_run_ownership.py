"""A folder holding a run belongs to that run (issue 11, D1): no command writes another run's results
into it, and no command writes into a heatmap store.

Every case ends with the victim run byte-for-byte unchanged.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from vssleval.cli import main
from vssleval.engine.store import check_run_folder
from vssleval.errors import VsslevalError


def _copy_run(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def _refused(capsys, *argv: str) -> str:
    capsys.readouterr()
    rc = main([*argv])
    err = capsys.readouterr().err
    assert rc == 2, err
    assert "Traceback" not in err
    return err


def test_from_store_into_another_runs_folder_is_refused_naming_both(runs, tmp_path, capsys):
    run_a = _copy_run(runs["center"], tmp_path / "run-a")  # center on synthetic-is3
    run_b = _copy_run(runs["random_vggss"], tmp_path / "run-b")  # random on synthetic-vggss
    before = _snapshot(run_b)
    err = _refused(capsys, "report", "--from-store", str(run_a), "--out", str(run_b))
    assert str(run_b) in err and "holds another run" in err
    assert "random on synthetic-vggss" in err and "center on synthetic-is3" in err  # both runs named
    assert str(run_a / "store") in err  # where the refused results come from
    assert _snapshot(run_b) == before
    # the run's own folder is its own: rebuilding its metrics there works
    capsys.readouterr()
    assert main(["report", "--from-store", str(run_a), "--out", str(run_a)]) == 0


def test_a_rescored_folder_belongs_to_its_run(runs, tmp_path, capsys):
    out = tmp_path / "rescored"
    assert main(["report", "--from-store", str(runs["center"]), "--out", str(out)]) == 0
    assert main(["report", "--from-store", str(runs["center"]), "--out", str(out)]) == 0  # same run again: fine
    before = _snapshot(out)
    err = _refused(capsys, "report", "--from-store", str(runs["full"]), "--out", str(out))
    assert "full on synthetic-is3" in err and "center on synthetic-is3" in err
    assert _snapshot(out) == before
    # results that no owner marker names (a removed marker) may be any run's: refused, never overwritten
    (out / ".vssleval-run.json").unlink()
    before = _snapshot(out)
    err = _refused(capsys, "report", "--from-store", str(runs["full"]), "--out", str(out))
    assert str(out / "metrics.json") in err and "no owner marker (.vssleval-run.json) names" in err
    assert _snapshot(out) == before


@pytest.mark.parametrize("command", ["evaluate", "infer"])
def test_a_new_run_into_a_rescored_folder_of_another_run(runs, tmp_path, capsys, command):
    out = tmp_path / "rescored"
    assert main(["report", "--from-store", str(runs["center"]), "--out", str(out)]) == 0
    data = json.loads((runs["full"] / "store" / "config.json").read_text())["data_root"]
    argv = [command, "--model", "full", "--dataset", "synthetic-is3", "--data-dir", data, "--seeds", "1",
            "--out", str(out)]
    before = _snapshot(out)
    err = _refused(capsys, *argv)
    assert "center on synthetic-is3" in err and "full on synthetic-is3" in err and "--overwrite" in err
    assert _snapshot(out) == before  # not even a store/ was started
    capsys.readouterr()
    assert main([*argv, "--overwrite"]) == 0  # the way out: replace that run
    if command == "evaluate":
        marker = json.loads((out / ".vssleval-run.json").read_text())
        assert marker["run"]["model_name"] == "full"
    else:  # infer writes no results beside its store: the replaced run's marker is gone
        assert not (out / ".vssleval-run.json").exists()
    err = _refused(capsys, "report", "--from-store", str(runs["center"]), "--out", str(out))
    assert "full on synthetic-is3" in err  # the folder is now the new run's


def test_api_rescore_refuses_like_the_cli(runs, tmp_path):
    from vssleval import VsslevalError, rescore

    run_b = _copy_run(runs["random_vggss"], tmp_path / "run-b")
    with pytest.raises(VsslevalError, match="holds another run, random on synthetic-vggss"):
        rescore(runs["center"], run_b, verbose=False)


def test_comparison_report_and_export_into_another_runs_folder(runs, tmp_path, capsys):
    run_b = _copy_run(runs["random"], tmp_path / "run-b")
    before = _snapshot(run_b)
    err = _refused(capsys, "report", str(runs["center"]), str(runs["full"]), "--out", str(run_b))
    assert str(run_b) in err and "random on synthetic-is3" in err and "report.md" in err
    err = _refused(capsys, "export", str(runs["center"]), str(run_b / "maps.npz"))
    assert "random on synthetic-is3" in err and "center on synthetic-is3" in err
    assert _snapshot(run_b) == before
    capsys.readouterr()
    run_a = _copy_run(runs["center"], tmp_path / "run-a")
    assert main(["export", str(run_a), str(run_a / "maps.npz")]) == 0  # into its own folder: fine


@pytest.mark.parametrize("command", ["report-from-store", "report", "export"])
def test_nothing_is_written_inside_a_store(runs, tmp_path, capsys, command):
    run = _copy_run(runs["center"], tmp_path / "run")
    store = run / "store"
    before = _snapshot(run)
    argv = {"report-from-store": ["report", "--from-store", str(run), "--out", str(store)],
            "report": ["report", str(runs["full"]), "--out", str(store / "rep")],
            "export": ["export", str(run), str(store / "shard-000001.npz"), "--overwrite"]}[command]
    err = _refused(capsys, *argv)
    assert f"inside the heatmap store {store}" in err
    assert _snapshot(run) == before


def test_overwrite_removes_the_replaced_runs_results(tmp_path, capsys):
    """--overwrite replaces a run whole: none of the old run's result files survive to pass for the
    new run's (an `infer --overwrite` writes no metrics.json of its own)."""
    from vssleval.cli import main

    out = tmp_path / "run"
    common = ["--dataset", "synthetic-is3", "--limit", "4", "--seeds", "1", "--out", str(out)]
    assert main(["evaluate", "--model", "center", "--bootstrap", "0", *common]) == 0
    assert (out / "metrics.json").is_file() and (out / "report.md").is_file()
    assert main(["infer", "--model", "full", "--overlays", "0", "--overwrite", *common]) == 0
    left = sorted(p.name for p in out.iterdir())
    assert left == ["offscreen_draws.csv", "store"], left
    assert main(["report", "--from-store", str(out), "--out", str(out), "--bootstrap", "0"]) == 0
    import json

    assert json.loads((out / "metrics.json").read_text())["run"]["model_name"] == "full"


@pytest.mark.parametrize("marker", [{"run": {"model": "center"}}, {"config_hash": 3, "run": {"model": "center"}},
                                    {"config_hash": "ab12", "run": "center"}, ["center"]])
def test_a_marker_that_names_no_run_is_refused(tmp_path, marker):
    """An edited owner marker (no hash, or no run record) names no run: refused, not taken as free."""
    (tmp_path / ".vssleval-run.json").write_text(json.dumps(marker))
    with pytest.raises(VsslevalError, match=r"\.vssleval-run\.json does not name a run"):
        check_run_folder(tmp_path, {"model": "center", "dataset": "synthetic-is3"})
