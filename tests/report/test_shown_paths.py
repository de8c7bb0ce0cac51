"""No local path in what people share (vssleval/shown_paths.py, docs/report.md "Paths in the outputs"):
report.md, the leaderboard files, summary.csv, compare.csv and offscreen_draws.csv name paths
relative to their folder (a data folder by name); console lines name paths under the current
directory relative to it."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest

from vssleval.cli import main
from vssleval.data.synthetic import synth
from vssleval.shown_paths import by_name, for_console, in_folder

SHARED = ("report.md", "leaderboard.md", "leaderboard.csv", "leaderboard.tex", "summary.csv")


def test_in_folder_is_relative_to_the_folder(tmp_path):
    assert in_folder(tmp_path / "run" / "store", tmp_path / "run") == "store"
    assert in_folder(tmp_path / "runs" / "a", tmp_path / "report") == "../runs/a"
    assert in_folder(tmp_path / "run", tmp_path / "run") == "."


def test_for_console_is_relative_under_the_current_directory(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path / ".")
    assert for_console(tmp_path / "runs" / "a") == os.path.join("runs", "a")
    assert for_console(Path("runs/a")) == os.path.join("runs", "a")
    assert for_console(tmp_path) == "."
    outside = tmp_path.parent / "elsewhere"
    assert for_console(outside) == str(outside)  # outside the current directory: as it is


def test_by_name():
    assert by_name("/home/someone/data/vggss") == "vggss" and by_name("ckpt/best.pth") == "best.pth"
    assert by_name(None) == ""


def test_report_and_compare_files_name_no_local_path(runs, tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    a, b = runs["center"], runs["random"]
    assert main(["report", "--out", str(tmp_path / "rep"), "--no-maps", str(a), str(b)]) == 0
    assert main(["compare", "--out", str(tmp_path / "cmp"), str(a), str(b)]) == 0
    console = capsys.readouterr().out
    assert "report: rep/report.md (2 runs" in console and "compare: cmp/compare.csv" in console
    local = (str(tmp_path), str(a.parent))
    for path in [tmp_path / "rep" / name for name in SHARED] + [tmp_path / "cmp" / "compare.csv"]:
        text = path.read_text()
        assert not [p for p in local if p in text], path.name
    with open(tmp_path / "rep" / "leaderboard.csv", newline="") as fh:
        dirs = {row["model"]: row["run_dir"] for row in csv.DictReader(fh)}
    assert Path(tmp_path / "rep" / dirs["center"]).resolve() == a.resolve()  # relative to the report folder
    with open(tmp_path / "cmp" / "compare.csv", newline="") as fh:
        row = next(csv.DictReader(fh))
    assert (tmp_path / "cmp" / row["run_a"]).resolve() == a.resolve()
    assert f"| {in_folder(a, tmp_path / 'rep')} |" in (tmp_path / "rep" / "report.md").read_text()


@pytest.mark.slow
def test_run_outputs_and_console_name_no_local_path(tmp_path, monkeypatch, capsys):
    """evaluate, rescore and export with absolute paths, run from the folder that holds them."""
    data = synth("is3", 4, 7, tmp_path / "data")
    monkeypatch.chdir(tmp_path)
    capsys.readouterr()
    run, again = tmp_path / "run", tmp_path / "again"
    assert main(["evaluate", "--model", "center", "--dataset", "synthetic-is3", "--data-dir", str(data),
                 "--seeds", "1", "--bootstrap", "0", "--out", str(run)]) == 0
    assert main(["rescore", str(run), "--out", str(again), "--bootstrap", "0"]) == 0
    assert main(["export", str(run), str(tmp_path / "maps.npz")]) == 0
    console = capsys.readouterr().out
    assert str(tmp_path) not in console
    assert "outputs in run/ (" in console and "outputs in again/ (" in console and "wrote maps.npz" in console
    for path in (run / "report.md", run / "offscreen_draws.csv", again / "report.md"):
        assert str(tmp_path) not in path.read_text(), path
    notes = (again / "report.md").read_text()
    assert "heatmap store ../run/store" in notes and "the data folder data is not read again" in notes
