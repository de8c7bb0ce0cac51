"""Every run records what it cost and how it was called (docs/metrics.md §7.1): ``metrics.json``
holds ``timing`` (wall and CPU seconds per phase and in all), ``command`` and ``versions``, and the
console's last line sums it up. Checked on real runs (the report fixtures' CLI runs, plus an API
run, a rescore and an infer); no test compares a time with a bound, only the records' shape and sums.
"""

from __future__ import annotations

import importlib.metadata
import json
import re
from pathlib import Path

import numpy
import torch

import vssleval
from vssleval import timing
from vssleval.cli import main

#: Rounding slack of a sum of phases against the total (each value has 3 decimals).
SLACK = 0.01
SUMMARY = re.compile(r"^done in \d+\.\d s wall, \d+\.\d s CPU(: [a-z-]+ \d+\.\d s(, [a-z-]+ \d+\.\d s)*)?$")


def _check_timing(rec: dict, expected_phases: set[str]) -> None:
    """Non-negative floats; known phases, in order; each sum of phases within the total."""
    total = rec["total"]
    assert set(total) == {"wall_s", "cpu_s"} and all(isinstance(v, float) and v >= 0 for v in total.values())
    phases = rec["phases"]
    assert list(phases) == [p for p in timing.PHASES if p in phases]  # only declared phases, in their order
    assert expected_phases <= set(phases), phases
    for t in phases.values():
        assert set(t) == {"wall_s", "cpu_s"} and all(isinstance(v, float) and v >= 0 for v in t.values())
    for key in ("wall_s", "cpu_s"):
        assert sum(t[key] for t in phases.values()) <= total[key] + SLACK


def _metrics(run: Path) -> dict:
    return json.loads((run / "metrics.json").read_text(encoding="utf-8"))


def test_a_cli_run_records_timing_command_and_versions(runs):
    m = _metrics(runs["center"])
    _check_timing(m["timing"], {"start-up", "data", "model", "store", "scoring", "bootstrap"})
    assert m["command"] == {"argv": ["vssleval", "evaluate", "--model", "center", "--dataset", "synthetic-is3",
                                     "--data-dir", m["run"]["data_root"], "--seeds", "2",
                                     "--out", str(runs["center"])]}
    assert m["versions"]["vssleval"] == vssleval.__version__ == importlib.metadata.version("vssleval")
    assert m["versions"]["torch"] == torch.__version__ and m["versions"]["numpy"] == numpy.__version__


def test_a_rescore_records_its_own_run(runs, tmp_path, capsys):
    out = tmp_path / "rescored"
    assert main(["rescore", str(runs["center"]), "--out", str(out), "--bootstrap", "0"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert SUMMARY.match(lines[-1]), lines[-1]
    m = _metrics(out)
    _check_timing(m["timing"], {"scoring"})
    assert not {"data", "model", "front-end", "bootstrap"} & set(m["timing"]["phases"])  # no model ran
    assert m["command"] == {"argv": ["vssleval", "rescore", str(runs["center"]), "--out", str(out), "--bootstrap", "0"]}
    assert m["timing"] != _metrics(runs["center"])["timing"]


def test_an_api_run_records_its_call_and_prints_the_summary(runs, tmp_path, capsys):
    data = _metrics(runs["center"])["run"]["data_root"]
    res = vssleval.evaluate("full", "synthetic-is3", data_dir=Path(data), seeds=1, bootstrap=0, out=tmp_path / "api")
    lines = capsys.readouterr().out.splitlines()
    assert SUMMARY.match(lines[-1]), lines[-1]
    assert res.metrics["command"] == {"call": f"vssleval.evaluate('full', 'synthetic-is3', data_dir={data!r}, "
                                              f"seeds=1, bootstrap=0, out={str(tmp_path / 'api')!r})"}
    _check_timing(res.metrics["timing"], {"data", "model", "scoring"})
    assert "start-up" not in res.metrics["timing"]["phases"]  # nothing was imported on its behalf
    assert _metrics(tmp_path / "api")["timing"] == res.metrics["timing"]


def test_infer_prints_the_summary(runs, tmp_path, capsys):
    data = _metrics(runs["center"])["run"]["data_root"]
    assert main(["infer", "--model", "center", "--dataset", "synthetic-is3", "--data-dir", data, "--seeds", "1",
                 "--limit", "2", "--overlays", "0", "--out", str(tmp_path / "inf")]) == 0
    last = capsys.readouterr().out.splitlines()[-1]
    assert SUMMARY.match(last), last
