"""Issue 11, D4 and D8 through whole runs: skipped records are counted by reason on the console, at the
top of report.md and in metrics.json, listed in skipped.csv, and refused above --max-skip-fraction;
audio at another rate than the model's is resampled (counted) or, for a preset that reproduces a
reference that never resampled, used as is with a warning and the count."""

from __future__ import annotations

import copy
import json
import shutil

import numpy as np
import pytest
import soundfile as sf
from scipy.signal import resample_poly

import vssleval
from engine_helpers import store_arrays
from vssleval.cli import main
from vssleval.models.registry import load_model_config

RUN = ["--seeds", "1", "--batch-size", "4", "--bootstrap", "0", "--device", "cpu", "--neg", "silence"]


def _evaluate(capsys, *argv) -> tuple[int, str, str]:
    code = main(["evaluate", *map(str, argv)])
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return code, captured.out, captured.err


@pytest.fixture
def holey_set(tmp_path, synthetic_set):
    """A 6-record synthetic VGG-SS copy with two media files missing (one wav, one jpg)."""
    data = tmp_path / "data"
    shutil.copytree(synthetic_set("vggss", 6), data)
    wavs = sorted((data / "audio").glob("*.wav"))
    wavs[1].unlink()
    (data / "frames" / f"{wavs[4].stem}.jpg").unlink()
    return data, wavs[1].stem, wavs[4].stem


def test_skips_are_counted_listed_and_reported(capsys, tmp_path, holey_set):
    data, no_wav, no_jpg = holey_set
    out = tmp_path / "run"
    code, stdout, _ = _evaluate(capsys, "--model", "center", "--dataset", "vggss", "--data-dir", data, "--out", out,
                                *RUN, "--skip-bad", "--max-skip-fraction", "0.5")
    assert code == 0
    counts = "2 of 6 records skipped (missing_audio 1, missing_image 1)"
    assert f"[engine] --skip-bad: {counts}; list in {out / 'skipped.csv'}" in stdout
    assert f"Skipped (--skip-bad): {counts}; the list is in skipped.csv" in stdout.split("[engine] device")[1]
    report = (out / "report.md").read_text()
    head, table = report.split("| metric", 1)  # the note stands above the metrics table
    assert counts in head
    rows = (out / "skipped.csv").read_text().splitlines()
    assert rows[0] == "id,kind,path,reason"
    assert sorted(r.split(",")[:2] for r in rows[1:]) == sorted([[no_wav, "missing_audio"], [no_jpg, "missing_image"]])
    metrics = json.loads((out / "metrics.json").read_text())
    skipped = metrics["run"]["skipped"]
    assert {k: skipped[k] for k in ("samples", "records", "by_reason")} == {
        "samples": 2, "records": 6, "by_reason": {"missing_audio": 1, "missing_image": 1}}
    assert "skipped_samples" not in metrics["run"] and no_wav not in json.dumps(metrics)  # no inlined list
    assert metrics["n_samples"] == 4
    # rescoring into another folder carries the list and the note
    assert main(["report", "--from-store", str(out), "--out", str(tmp_path / "again")]) == 0
    assert (tmp_path / "again" / "skipped.csv").read_text() == (out / "skipped.csv").read_text()
    assert counts in (tmp_path / "again" / "report.md").read_text().split("| metric", 1)[0]


def test_too_many_skips_refuse_the_run_with_the_counts(capsys, tmp_path, holey_set):
    data, no_wav, _ = holey_set
    out = tmp_path / "run"
    code, _, err = _evaluate(capsys, "--model", "center", "--dataset", "vggss", "--data-dir", data, "--out", out,
                             *RUN, "--skip-bad")  # default --max-skip-fraction 0.05
    assert code == 2
    assert "--skip-bad would skip 2 of 6 records (33.3 %), more than --max-skip-fraction 0.05" in err
    assert "(missing_audio 1, missing_image 1)" in err and no_wav in err
    assert not out.exists()
    code, _, err = _evaluate(capsys, "--model", "center", "--dataset", "vggss", "--data-dir", data, "--out", out,
                             *RUN, "--skip-bad", "--max-skip-fraction", "2")
    assert code == 2 and "--max-skip-fraction must be >= 0 and <= 1" in err
    with pytest.raises(vssleval.VsslevalError, match="more than --max-skip-fraction 0.3"):
        vssleval.evaluate("center", "vggss", data_dir=data, out=tmp_path / "api", seeds=1, bootstrap=0,
                          neg="silence", skip_bad=True, max_skip_fraction=0.3, verbose=False)


@pytest.fixture(scope="module")
def off_rate_sets(tmp_path_factory):
    """A 4-record synthetic VGG-SS set (16 kHz) and a copy whose first two wavs are at 44.1 and 8 kHz."""
    from vssleval.data.synthetic.generate import synth

    root = tmp_path_factory.mktemp("rates")
    base = synth("vggss", 4, 0, root / "base")
    shutil.copytree(base, root / "off")
    wavs = sorted((root / "off" / "audio").glob("*.wav"))
    for wav, (up, down, sr) in zip(wavs, [(441, 160, 44100), (1, 2, 8000)]):
        x, _ = sf.read(str(wav), dtype="float64")
        sf.write(str(wav), resample_poly(x, up, down), sr, subtype="PCM_16")
    return base, root / "off", {w.stem for w in wavs[:2]}


def _maps(data, out, **kw):
    return vssleval.evaluate(kw.pop("model", "synth-ezvsl"), "vggss", data_dir=data, out=out, seeds=1, bootstrap=0,
                             neg="silence", **kw)


def test_off_rate_audio_is_resampled_to_the_preset_rate(capsys, tmp_path, off_rate_sets):
    base, off, _ = off_rate_sets
    argv = ["--model", "synth-ezvsl", "--dataset", "vggss", *RUN]
    assert _evaluate(capsys, *argv, "--data-dir", base, "--out", tmp_path / "ref")[0] == 0
    code, stdout, _ = _evaluate(capsys, *argv, "--data-dir", off, "--out", tmp_path / "off")
    assert code == 0
    ref, res = store_arrays(tmp_path / "ref"), store_arrays(tmp_path / "off")
    # read at 44.1 / 8 kHz the peaks fell from 0.99 to 0.48 / 0.60; resampled they are the 16 kHz maps
    assert np.abs(res["positive"] - ref["positive"]).max() < 1e-3
    assert "[engine] resampled 2 of 4 audio files to 16000 Hz (8000 Hz: 1, 44100 Hz: 1)" in stdout
    metrics = json.loads((tmp_path / "off" / "metrics.json").read_text())
    assert metrics["run"]["audio_rates"] == {"model_rate": 16000, "resampled_to": 16000, "resampled": 2,
                                             "not_resampled": 0, "file_rates": {"8000": 1, "16000": 2, "44100": 1}}
    head = (tmp_path / "off" / "report.md").read_text().split("| metric", 1)[0]
    assert "Resampled: 2 audio file(s) to 16000 Hz (8000 Hz: 1, 44100 Hz: 1)" in head


def test_reference_preset_keeps_the_native_rate_but_warns(capsys, tmp_path, off_rate_sets):
    base, off, resampled = off_rate_sets
    preset = copy.deepcopy(load_model_config("synth-ezvsl")["presets"]["juanola2025"])
    preset["audio"]["read"].update(sample_rate=None, model_rate=16000)  # like the zoo's reference presets
    model = vssleval.load_model("synth-ezvsl")
    ref = _maps(base, tmp_path / "ref", model=model, preset=preset, verbose=False).maps("positive")
    res = _maps(off, tmp_path / "off", model=model, preset=preset)
    stdout = capsys.readouterr().out
    assert "[engine] warning: 2 of 4 audio files are not at the model's 16000 Hz (8000 Hz: 1, 44100 Hz: 1)" in stdout
    changed = np.abs(res.maps("positive") - ref).reshape(4, -1).max(1)
    off_rate = np.array([i in resampled for i in res.ids])
    assert (changed[off_rate] > 0.1).all() and (changed[~off_rate] == 0).all()  # the reference's behaviour
    assert res.metrics["run"]["audio_rates"]["not_resampled"] == 2
    head = (res.out / "report.md").read_text().split("| metric", 1)[0]
    assert "Warning: 2 audio file(s) not at the model's 16000 Hz (8000 Hz: 1, 44100 Hz: 1)" in head


def test_zoo_presets_declare_their_rate():
    """Every audio preset either resamples (read.sample_rate) or names the model's rate (read.model_rate)."""
    from vssleval.models.registry import list_models

    for name in list_models():
        for preset, block in (load_model_config(name).get("presets") or {}).items():
            read = (block.get("audio") or {}).get("read")
            if read is not None:
                assert read.get("sample_rate") or read.get("model_rate"), f"{name}/{preset}"
