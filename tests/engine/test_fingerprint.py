"""A run fingerprints what it read (vssleval/fingerprint.py, docs/report.md "Fingerprint of the inputs"):
``--resume`` refuses a run whose inputs changed, in one line naming what changed and the way out, and
``metrics.json`` carries the fingerprint.

Each run is the ``center`` baseline on a 4-record synthetic set, one seed, no bootstrap (about a
second); the data folder is a fresh copy per test, since the tests change it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from pathlib import Path

import pytest
import torch

import vssleval
from vssleval.cli import main
from vssleval.errors import VsslevalError

N = 4


def file_sha256(path: Path) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


@pytest.fixture
def data(tmp_path, synthetic_set) -> Path:
    """A private copy of a 4-record synthetic VGG-SS set (tests edit it)."""
    return Path(shutil.copytree(synthetic_set("vggss", N), tmp_path / "D"))


def run(capsys, data: Path, out: Path, *extra: str, model: str = "center") -> tuple[int, str]:
    capsys.readouterr()
    rc = main(["evaluate", "--model", model, "--data-dir", str(data), "--seeds", "1", "--bootstrap", "0",
               "--out", str(out), *extra])
    captured = capsys.readouterr()
    return rc, captured.err + captured.out


def refused(capsys, data: Path, out: Path, *extra: str, model: str = "center") -> str:
    """The one-line refusal of ``--resume``; the run's metrics are left as they were."""
    before = (out / "metrics.json").read_bytes()
    rc, text = run(capsys, data, out, "--resume", *extra, model=model)
    assert rc == 2, text
    assert "Traceback" not in text and "already done" not in text
    error = [line for line in text.splitlines() if "error:" in line]
    assert len(error) == 1, text
    assert "cannot be resumed" in error[0] and "start over with a new --out, or pass --overwrite" in error[0]
    assert (out / "metrics.json").read_bytes() == before
    return error[0]


def annotation(data: Path) -> Path:
    return data / "vggss_annotations.json"  # the first name the VGG-SS reader looks for


def records(data: Path) -> list[dict]:
    return json.loads(annotation(data).read_text())


# -- the finding (S2) and its variants ------------------------------------------------------------
def test_resume_refuses_an_edited_annotation(capsys, tmp_path, data):
    out = tmp_path / "R"
    assert run(capsys, data, out)[0] == 0
    recs = records(data)
    for r in recs:
        r["bbox"] = [[0.0, 0.0, 0.05, 0.05]]
    old = file_sha256(annotation(data))
    annotation(data).write_text(json.dumps(recs))
    line = refused(capsys, data, out)
    assert f"the VGG-SS annotation file {annotation(data)} changed since this run started" in line
    assert f"sha256 {old[:12]}… -> {file_sha256(annotation(data))[:12]}…" in line
    assert f"{N} records' annotations differ (boxes, label, ...), first: id {recs[0]['file']}" in line
    # a fresh run on the edited data gives the edited answer
    assert run(capsys, data, tmp_path / "fresh")[0] == 0
    fresh = json.loads((tmp_path / "fresh" / "metrics.json").read_text())
    assert fresh["ciou"] == 0.0 != json.loads((out / "metrics.json").read_text())["ciou"]


def test_resume_refuses_a_replaced_wav(capsys, tmp_path, data):
    out = tmp_path / "R"
    assert run(capsys, data, out)[0] == 0
    ids = [r["file"] for r in records(data)]
    shutil.copyfile(data / "audio" / f"{ids[1]}.wav", data / "audio" / f"{ids[2]}.wav")
    line = refused(capsys, data, out)
    assert f"1 record's media changed since this run started, first: id {ids[2]} audio" in line
    assert str(data / "audio" / f"{ids[2]}.wav") in line


def test_resume_refuses_a_replaced_image(capsys, tmp_path, data):
    out = tmp_path / "R"
    assert run(capsys, data, out)[0] == 0
    ids = [r["file"] for r in records(data)]
    frame = data / "frames" / f"{ids[0]}.jpg"
    old = file_sha256(frame)
    shutil.copyfile(data / "frames" / f"{ids[3]}.jpg", frame)
    line = refused(capsys, data, out)
    assert f"first: id {ids[0]} image {frame} (sha256 {old[:12]}…" in line


def test_resume_refuses_a_changed_checkpoint(capsys, tmp_path, data):
    ckpt = tmp_path / "w.pth"
    shutil.copyfile(Path(vssleval.__file__).parents[1] / "checkpoints" / "synth-ezvsl.pth", ckpt)
    out = tmp_path / "R"
    assert run(capsys, data, out, "--checkpoint", str(ckpt), "--neg", "silence", model="synth-ezvsl")[0] == 0
    old = file_sha256(ckpt)
    state = torch.load(ckpt, weights_only=True)
    first = next(iter(state["model"]))
    state["model"][first] = state["model"][first] + 0.5  # same file, other weights
    torch.save(state, ckpt)
    line = refused(capsys, data, out, "--checkpoint", str(ckpt), "--neg", "silence", model="synth-ezvsl")
    new = file_sha256(ckpt)
    assert f"the checkpoint {ckpt} changed since this run started (sha256 {old[:12]}… -> {new[:12]}…)" in line


def test_api_resume_refuses_changed_media(tmp_path, data):
    out = tmp_path / "R"
    vssleval.evaluate("center", data_dir=data, seeds=1, bootstrap=0, out=out, verbose=False)
    ids = [r["file"] for r in records(data)]
    shutil.copyfile(data / "audio" / f"{ids[0]}.wav", data / "audio" / f"{ids[3]}.wav")
    with pytest.raises(VsslevalError, match=f"cannot be resumed: 1 record's media changed .* id {ids[3]} audio"):
        vssleval.evaluate("center", data_dir=data, seeds=1, bootstrap=0, out=out, resume=True, verbose=False)


# -- what may resume ----------------------------------------------------------------------------------
def test_unchanged_touched_or_moved_data_resumes(capsys, tmp_path, data):
    out = tmp_path / "R"
    assert run(capsys, data, out)[0] == 0
    rc, text = run(capsys, data, out, "--resume")
    assert rc == 0 and "(1 already done)" in text
    for path in data.rglob("*"):  # same bytes, new modification times
        os.utime(path, ns=(1, 1))
    rc, text = run(capsys, data, out, "--resume")
    assert rc == 0 and "(1 already done)" in text
    moved = data.rename(tmp_path / "moved")  # the same content in another folder is the same run
    rc, text = run(capsys, moved, out, "--resume")
    assert rc == 0 and "(1 already done)" in text, text
    assert json.loads((out / "store" / "config.json").read_text())["data_root"] == str(moved)


def test_metrics_json_carries_the_fingerprint(capsys, tmp_path, data):
    out = tmp_path / "R"
    assert run(capsys, data, out)[0] == 0
    metrics = json.loads((out / "metrics.json").read_text())
    config = json.loads((out / "store" / "config.json").read_text())
    fp = metrics["fingerprint"]
    assert fp == config["fingerprint"] and len(fp["digest"]) == 64 and len(fp["data"]) == 64
    parts = fp["parts"]
    assert set(parts) == {"metadata", "records", "media", "evaluated", "offscreen", "checkpoint", "ogl", "preset",
                          "protocol"}
    assert parts["metadata"]["files"] == {
        "vggss_annotations.json": file_sha256(annotation(data)),
        "vggss_class_files_dict.json": file_sha256(data / "vggss_class_files_dict.json")}
    assert parts["records"]["count"] == parts["evaluated"]["count"] == N and parts["media"]["files"] == 2 * N
    assert parts["preset"]["name"] == "juanola2025" and parts["protocol"]["name"] == "vssleval"
    detail = json.loads((out / "store" / "inputs.json").read_text())
    wav = f"audio/{records(data)[0]['file']}.wav"
    assert detail["files"][wav]["sha256"] == file_sha256(data / wav)
    assert detail["files"][wav]["bytes"] == (data / wav).stat().st_size


# -- hostile cases ------------------------------------------------------------------------------------
def test_resume_refuses_a_removed_record_naming_it(capsys, tmp_path, data):
    out = tmp_path / "R"
    assert run(capsys, data, out)[0] == 0
    recs = records(data)
    gone = recs.pop(1)
    annotation(data).write_text(json.dumps(recs))
    line = refused(capsys, data, out)  # not "another run (offscreen_reuse: ...)": the data changed
    assert f"1 record no longer read, first: id {gone['file']}" in line


@pytest.mark.parametrize("fingerprint", [None, "garbage", "parts"])
def test_resume_refuses_a_run_without_a_readable_fingerprint(capsys, tmp_path, data, fingerprint):
    out = tmp_path / "R"
    assert run(capsys, data, out)[0] == 0
    path = out / "store" / "config.json"
    config = json.loads(path.read_text())
    if fingerprint is None:  # an edited record: nothing says what the run read
        config.pop("fingerprint")
    elif fingerprint == "parts":
        config["fingerprint"]["parts"]["media"] = "x"
    else:
        config["fingerprint"] = fingerprint
    path.write_text(json.dumps(config))
    line = refused(capsys, data, out)
    assert (f"{path} records no fingerprint" if fingerprint is None else f"recorded in {path} is not readable") in line
    assert run(capsys, data, out, "--overwrite")[0] == 0  # the way out works


def test_other_settings_are_still_named_and_unchanged_reruns_reuse(capsys, tmp_path, data):
    out = tmp_path / "R"
    assert run(capsys, data, out)[0] == 0
    rc, text = run(capsys, data, out, "--resume", "--seeds", "2")
    assert rc == 2 and "seeds: [1234] -> [1234, 2345]" in text and "fingerprint" not in text
    recs = records(data)
    recs[0]["bbox"] = [[0.0, 0.0, 0.5, 0.5]]
    annotation(data).write_text(json.dumps(recs))
    rc, text = run(capsys, data, out)  # no --resume: the data line, not "pass --resume"
    assert rc == 2 and "cannot be reused: the VGG-SS annotation file" in text and "pass --resume" not in text


def test_rescore_says_it_uses_the_stored_ground_truth(capsys, tmp_path, data):
    out = tmp_path / "R"
    assert run(capsys, data, out)[0] == 0
    before = json.loads((out / "metrics.json").read_text())
    recs = records(data)
    for r in recs:
        r["bbox"] = [[0.0, 0.0, 0.05, 0.05]]
    annotation(data).write_text(json.dumps(recs))
    capsys.readouterr()
    assert main(["report", "--from-store", str(out), "--out", str(out), "--bootstrap", "0"]) == 0
    assert "scored against the ground truth stored with the maps" in capsys.readouterr().out
    after = json.loads((out / "metrics.json").read_text())
    assert after["ciou"] == before["ciou"] and after["fingerprint"] == before["fingerprint"]
    assert any("ground truth stored with the maps" in n for n in after["notes"])


def test_resume_refuses_changed_ogl_weights(capsys, tmp_path, data):
    from vssleval.models import build_model

    weights = tmp_path / "ogl.pth"  # a stand-in ResNet-18 file: only its bytes matter here
    torch.save(build_model("ogl", random_init=True).net.state_dict(), weights)
    args = ("--protocol", "juanola2025", "--ogl-weights", str(weights))
    out = tmp_path / "R"
    assert run(capsys, data, out, *args)[0] == 0
    parts = json.loads((out / "metrics.json").read_text())["fingerprint"]["parts"]
    old = file_sha256(weights)
    assert parts["ogl"]["sha256"] == old and parts["protocol"]["name"] == "juanola2025"
    state = torch.load(weights, weights_only=True)
    key = next(iter(state))
    state[key] = state[key] + 1.0
    torch.save(state, weights)
    line = refused(capsys, data, out, *args)
    assert f"the OGL weights {weights} changed since this run started (sha256 {old[:12]}…" in line
