"""scripts/main_job.py's worker tasks: an audio model's runs together (its later runs take the noise
features of its first, vssleval/engine/noise_memo.py), each baseline run alone, the baselines on the
last dataset first; exit statuses come back in the order of the commands."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _job(monkeypatch):
    spec = importlib.util.spec_from_file_location("main_job_tasks_under_test", ROOT / "scripts" / "main_job.py")
    job = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, job)  # the worker pool pickles its functions by module name
    spec.loader.exec_module(job)
    return job


def test_audio_models_grouped_baselines_alone_other_dataset_first(monkeypatch):
    job = _job(monkeypatch)
    models = ["synth-ezvsl", "center", "full", "random", "lvs"]
    runs = [(m, None, d, None) for m in models for d in ("synthetic-vggss", "synthetic-is3")]
    named = [[(runs[i][0], runs[i][2][10:]) for i in task] for task in job.tasks(runs)]
    assert named == [
        [("synth-ezvsl", "vggss"), ("synth-ezvsl", "is3")], [("lvs", "vggss"), ("lvs", "is3")],
        [("center", "is3")], [("full", "is3")], [("random", "is3")],
        [("center", "vggss")], [("full", "vggss")], [("random", "vggss")]]
    assert sorted(i for task in job.tasks(runs) for i in task) == list(range(len(runs)))  # each run once


def test_statuses_in_command_order(monkeypatch):
    """Tasks finish in task order, but the caller gets one status per command, in command order."""
    job = _job(monkeypatch)
    monkeypatch.setattr(job, "preload", lambda models=(): None)
    monkeypatch.setattr(job, "run_captured", lambda cmd: (int(cmd[0]), f"ran {cmd[0]}\n"))
    cmds = [["0"], ["1"], ["2"], ["3"]]
    assert job.run_all(cmds, 2, groups=[[3, 0], [1], [2]]) == [0, 1, 2, 3]
