"""Issue 24 item 3: sweeps in one command (``vssleval evaluate --model a,b --dataset x,y``,
:func:`vssleval.evaluate_many`; docs/api.md §9).

One scenario, built once for the module (:func:`scenario`): three tiny models, the ``center``
baseline and two plug-ins derived from it (``flaky``: stopped by a ``KeyboardInterrupt``, as Ctrl-C
stops a run, at its second batch while ``$SWEEP_TEST_STOP`` is set; ``boom``: raises at its first
batch), on the embedded ``synthetic-is3`` and on ``is3`` pointed at an empty folder (the data missing
on disk: a folder that does not exist at all is refused before any pair starts).

1. ``evaluate_many`` (API) is stopped inside ``flaky``'s pair: the pairs before it are recorded, ``flaky``'s
   run folder holds one shard of two.
2. The same sweep again from the command line with ``--resume``: the finished pair is kept (its
   files untouched), ``flaky`` resumes from its shard (kept) and finishes, the failing pairs fail
   again without stopping the others, the exit status is 1 and one combined report is written.
"""

from __future__ import annotations

import json
import os
import textwrap
from pathlib import Path

import pytest

from vssleval.cli import main
from vssleval.errors import VsslevalError

pytestmark = pytest.mark.slow  # five tiny runs and one report: about 10 CPU-s with torch's import

PLUGINS = '''
import os

from vssleval.models.baselines import CenterPrior


class Flaky(CenterPrior):
    """The centre prior, interrupted at its second batch while $SWEEP_TEST_STOP is set."""

    calls = 0

    def encode_image(self, images):
        self.calls += 1
        if self.calls == 2 and os.environ.get("SWEEP_TEST_STOP"):
            raise KeyboardInterrupt
        return super().encode_image(images)


class Boom(CenterPrior):
    def encode_image(self, images):
        raise RuntimeError("boom at the first batch")
'''
# the centre prior's own YAML: flaky's maps are center's, so are its metrics
PLUGINS_YAML = """\
model: {size: 224, sigma: 0.25}
checkpoint: {}
presets:
  juanola2025:
    audio: {}
    image: {}
    map: {raw: identity, upsample: {positive: none}, normalize: none}
"""
#: every pair's options: 4 samples in two batches, one seed, no bootstrap
OPTIONS = {"limit": 4, "batch_size": 2, "seeds": 1, "bootstrap": 0, "device": "cpu"}
CLI_OPTIONS = ["--limit", "4", "--batch-size", "2", "--seeds", "1", "--bootstrap", "0", "--device", "cpu"]


def _files(folder: Path) -> dict[str, tuple[int, int]]:
    """``{relative path: (inode, mtime_ns)}`` of every file under ``folder``."""
    return {p.relative_to(folder).as_posix(): (p.stat().st_ino, p.stat().st_mtime_ns)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _statuses(out: Path) -> dict[tuple[str, str], dict]:
    record = json.loads((out / "sweep.json").read_text(encoding="utf-8"))
    return {(Path(r["model"]).name if ":" in r["model"] else r["model"], r["dataset"]): r for r in record["pairs"]}


@pytest.fixture(scope="module")
def scenario(tmp_path_factory):
    import vssleval

    root = tmp_path_factory.mktemp("sweep")
    (root / "plugins.py").write_text(textwrap.dedent(PLUGINS))
    (root / "plugins.yaml").write_text(PLUGINS_YAML)
    models = ["center", f"{root / 'plugins.py'}:Boom", f"{root / 'plugins.py'}:Flaky"]
    datasets = ["synthetic-is3", "is3"]
    missing = root / "empty"
    missing.mkdir()
    out = root / "out"
    os.environ["SWEEP_TEST_STOP"] = "1"
    try:
        with pytest.raises(KeyboardInterrupt):
            vssleval.evaluate_many(models, datasets, out=out, data_dir={"is3": missing}, verbose=False, **OPTIONS)
    finally:
        del os.environ["SWEEP_TEST_STOP"]
    first = {"statuses": _statuses(out), "center": _files(out / "center__synthetic-is3"),
             "flaky": _files(out / "flaky__synthetic-is3")}
    rc = main(["evaluate", "--model", ",".join(models), "--dataset", ",".join(datasets), "--data-dir",
               f"is3={missing}", *CLI_OPTIONS, "--out", str(out), "--resume"])
    return {"out": out, "first": first, "rc": rc, "statuses": _statuses(out)}


def test_a_stopped_sweep_records_where_it_stopped(scenario):
    first = scenario["first"]["statuses"]
    assert {k: r["status"] for k, r in first.items()} == {
        ("center", "synthetic-is3"): "done", ("center", "is3"): "failed",
        ("plugins.py:Boom", "synthetic-is3"): "failed", ("plugins.py:Boom", "is3"): "failed",
        ("plugins.py:Flaky", "synthetic-is3"): "running", ("plugins.py:Flaky", "is3"): "pending"}
    assert str(scenario["out"].parent / "empty") in first[("center", "is3")]["error"]
    assert "IS3 annotation file not found" in first[("center", "is3")]["error"]
    assert first[("plugins.py:Boom", "synthetic-is3")]["error"].startswith(
        "model 'boom': encode_image raised RuntimeError: boom at the first batch")
    flaky = scenario["first"]["flaky"]
    assert "store/shard-000000.npz" in flaky and "store/shard-000001.npz" not in flaky
    assert "store/COMPLETE" not in flaky and "metrics.json" not in flaky


def test_resuming_keeps_the_finished_pair_and_finishes_the_stopped_one(scenario):
    out, first = scenario["out"], scenario["first"]
    statuses = scenario["statuses"]
    assert statuses[("center", "synthetic-is3")]["status"] == "reused"
    assert _files(out / "center__synthetic-is3") == first["center"]  # not one file rewritten
    assert statuses[("plugins.py:Flaky", "synthetic-is3")]["status"] == "done"
    now = _files(out / "flaky__synthetic-is3")
    assert now["store/shard-000000.npz"] == first["flaky"]["store/shard-000000.npz"]  # the shard kept
    assert "store/shard-000001.npz" in now and "store/COMPLETE" in now
    # the resumed run has center's maps, so center's numbers, sample by sample and in the headline
    center, flaky = (out / f"{m}__synthetic-is3" for m in ("center", "flaky"))
    assert (flaky / "per_sample.csv").read_text() == (center / "per_sample.csv").read_text()
    c, f = (json.loads((run / "metrics.json").read_text()) for run in (center, flaky))
    assert c["auc"] == pytest.approx(0.325) and c["pia_silence_adap"] > 0.3  # not a trivial equality of zeros
    for key in ("ciou", "auc", "pia_silence_adap", "pia_noise_adap", "auroc_max_neg"):
        assert f[key] == c[key], key
    # each pair records the call that ran it, and its own seconds (not the sweep's so far)
    assert c["command"]["call"].startswith("vssleval.evaluate_many(['center', ")
    assert f["command"]["argv"][:2] == ["vssleval", "evaluate"] and "--resume" in f["command"]["argv"]
    assert "start-up" not in f["timing"]["phases"]  # its own timer, not the command's


def test_failing_pairs_do_not_stop_the_others_and_set_the_exit_status(scenario):
    statuses = scenario["statuses"]
    assert scenario["rc"] == 1
    assert {k for k, r in statuses.items() if r["status"] == "failed"} == {
        ("center", "is3"), ("plugins.py:Boom", "synthetic-is3"), ("plugins.py:Boom", "is3"), ("plugins.py:Flaky", "is3")}
    for row in statuses.values():
        assert (row["error"] is None) == (row["status"] != "failed")
        assert (scenario["out"] / row["folder"]).name == row["folder"]


def test_one_combined_leaderboard(scenario):
    out = scenario["out"]
    record = json.loads((out / "sweep.json").read_text(encoding="utf-8"))
    assert record["report"] == "report/report.md" and (out / "report" / "report.md").is_file()
    board = (out / "report" / "leaderboard.md").read_text(encoding="utf-8")
    assert board.count("## ") == 1 and "## synthetic-is3" in board  # no pair on is3 finished
    rows = [line.split("|")[1].strip() for line in board.splitlines() if line.startswith("| ") and "---" not in line]
    assert rows[1:] == ["flaky †", "center † (baseline)"]


def test_a_bad_model_name_is_refused_before_anything_runs(tmp_path, capsys):
    rc = main(["evaluate", "--model", "center,no-such-model", "--dataset", "synthetic-is3", "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert rc == 2 and "unknown model 'no-such-model'" in err and "Traceback" not in err
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("argv, message", [
    (["--model", "center,full"], "name their folder with --out"),
    (["--model", "center,,full", "--out", "o"], "an empty name in the list"),
    (["--model", "center", "--dataset", "synthetic-is3,is3", "--data-dir", "d", "--out", "o"], "NAME=DIR,NAME=DIR"),
    (["--model", "center,full", "--checkpoint", "c.pth", "--out", "o"], "--checkpoint names one model's weights"),
])
def test_sweep_arguments_are_checked_first(tmp_path, monkeypatch, capsys, argv, message):
    monkeypatch.chdir(tmp_path)
    assert main(["evaluate", *argv]) == 2
    assert message in capsys.readouterr().err
    assert list(tmp_path.iterdir()) == []


def test_a_sweep_under_torchrun_is_refused(tmp_path, monkeypatch):
    import vssleval

    monkeypatch.setenv("WORLD_SIZE", "2")
    with pytest.raises(VsslevalError, match="under torchrun, evaluate one pair per command"):
        vssleval.evaluate_many(["center", "full"], "synthetic-is3", out=tmp_path / "o")
    assert not (tmp_path / "o").exists()


def test_the_api_refuses_a_list_where_one_name_goes():
    import vssleval

    with pytest.raises(VsslevalError, match=r"vssleval\.evaluate_many\(models, datasets, out=\.\.\.\)"):
        vssleval.evaluate(["center", "full"], "synthetic-is3")
    with pytest.raises(VsslevalError, match="has no option 'model'"):
        vssleval.evaluate_many(["center"], out="o", model="full")


def test_one_model_on_one_dataset_is_the_plain_run(monkeypatch):
    """No sweep: ``evaluate`` gets the keywords it always got, the default ``--out`` included."""
    import vssleval.api
    import vssleval.api.sweeps

    calls = []
    monkeypatch.setattr(vssleval.api, "evaluate", lambda **kw: calls.append(kw))
    monkeypatch.setattr(vssleval.api.sweeps, "evaluate_many", lambda *a, **kw: pytest.fail("a sweep was started"))
    assert main(["evaluate", "--model", "center", "--dataset", "synthetic-is3", "--limit", "4"]) == 0
    [kw] = calls
    assert kw["model"] == "center" and kw["dataset"] == "synthetic-is3" and kw["limit"] == 4
    assert kw["out"] == Path("runs") / "center-synthetic-is3-juanola2025-vssleval"


def test_docs_state_the_sweep_file_and_exit_status_as_written(scenario):
    """docs/api.md §9 names every key of sweep.json, every status and the exit status a failure gives."""
    from vssleval.api.sweeps import STATUSES, SWEEP_FORMAT
    from vssleval.commands.evaluate import SWEEP_FAILED

    from shared import ROOT

    text = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    section = " ".join(text[text.index("## 9. Sweeps"):].split())
    record = json.loads((scenario["out"] / "sweep.json").read_text(encoding="utf-8"))
    [row] = [line for line in text.splitlines() if line.startswith("| `sweep.json` |")]
    assert f"`format` ({SWEEP_FORMAT})" in row and record["format"] == SWEEP_FORMAT
    for key in [*record, *record["pairs"][0]]:
        assert f"`{key}`" in row, key
    sentence = section[section.index("A pair's `status` is"):].split(". ")[0]
    positions = [sentence.index(f"`{s}`") for s in STATUSES]  # each status, in the code's order
    assert positions == sorted(positions)
    assert f"the exit status is {SWEEP_FAILED} when a pair failed" in section
