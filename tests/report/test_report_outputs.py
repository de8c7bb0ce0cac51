"""``vssleval report RUN_DIR ...``: files, figures and the numbers in the tables."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import pytest
from PIL import Image

from vssleval.cli import main

IS3 = ("center", "full", "random")


def assert_png(path: Path) -> None:
    assert path.is_file(), path
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n", path
    with Image.open(path) as im:
        im.verify()
    with Image.open(path) as im:
        assert im.size[0] > 300 and im.size[1] > 200, (path, im.size)


def assert_pdf(path: Path) -> None:
    assert path.is_file(), path
    data = path.read_bytes()
    assert data.startswith(b"%PDF-"), path
    assert data.rstrip().endswith(b"%%EOF"), path
    assert len(data) > 1000, path


@pytest.fixture(scope="module")
def report(runs, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("report") / "rep"
    rc = main(["report", *(str(runs[k]) for k in IS3), "--out", str(out), "--overlays", "2"])
    assert rc == 0
    return out


def test_files_exist_and_are_valid_png_pdf(report):
    for stem in ("maxima", "roc", "threshold_sweep", "overlays/center", "overlays/full", "overlays/random"):
        assert_png(report / f"{stem}.png")
        assert_pdf(report / f"{stem}.pdf")
    md = (report / "report.md").read_text()
    for stem in ("maxima.png", "roc.png", "threshold_sweep.png", "overlays/center.png"):
        assert f"]({stem})" in md, stem  # every figure is linked from report.md
    assert not list(report.rglob(".*.tmp")), "atomic writes left temporary files"


def _tables(md: str) -> dict[str, list[dict[str, str]]]:
    """Markdown tables under each '### ' heading: {heading: [row dicts]}."""
    out: dict[str, list[dict[str, str]]] = {}
    heading = None
    lines = md.splitlines()
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("#"):
            heading = line.lstrip("#").strip()
        if line.startswith("| ") and i + 1 < len(lines) and lines[i + 1].startswith("|:"):
            header = [c.strip() for c in line.strip("|").split("|")]
            rows = []
            i += 2
            while i < len(lines) and lines[i].startswith("| "):
                rows.append(dict(zip(header, (c.strip() for c in lines[i].strip("|").split("|")))))
                i += 1
            out[heading] = rows
            continue
        i += 1
    return out


# label in the table -> key in metrics.json
CLEAN_COLUMNS = {
    "cIoU@0.5": "ciou", "AUC": "auc", "cIoU_adap": "ciou_adap", "AUC_adap": "auc_adap", "AP": "ap",
    "max-F1": "max_f1", "pIA silence": "pia_silence_adap", "pIA noise": "pia_noise_adap",
    "pIA offscreen": "pia_offscreen_adap", "AUROC max": "auroc_max_neg", "med. max positive": "max_positive_median",
    "med. max silence": "max_silence_median", "med. max noise": "max_noise_median",
    "med. max offscreen": "max_offscreen_median",
}


def test_table_holds_the_metrics_json_numbers(report, runs):
    tables = _tables((report / "report.md").read_text())
    loc = tables["Localization under positive audio"]
    neg = tables["Negative audio (silence, noise, offscreen)"]
    assert [r["run"] for r in loc] == list(IS3) == [r["run"] for r in neg]
    checked = 0
    for name in IS3:
        metrics = json.loads((runs[name] / "metrics.json").read_text())
        row = {**next(r for r in loc if r["run"] == name), **next(r for r in neg if r["run"] == name)}
        for label, key in CLEAN_COLUMNS.items():
            # value, ± std over seeds only where it is not zero, [95 % bootstrap interval] when computed
            m = re.fullmatch(r"(-?[\d.]+)(?: ± ([\d.]+))?(?: \[(-?[\d.]+), (-?[\d.]+)\])?", row[label])
            assert m, (name, label, row[label])
            assert float(m.group(1)) == pytest.approx(metrics[key], abs=5.0001e-4), (name, key)
            assert float(m.group(2) or 0) == pytest.approx(metrics[f"{key}_std"], abs=5.0001e-4), (name, key)
            if m.group(3) is not None:
                assert float(m.group(3)) == pytest.approx(metrics[f"{key}_ci95_low"], abs=5.0001e-4), (name, key)
                assert float(m.group(4)) == pytest.approx(metrics[f"{key}_ci95_high"], abs=5.0001e-4), (name, key)
            checked += 1
    assert checked == len(IS3) * len(CLEAN_COLUMNS)
    # summary.csv carries the same numbers at full precision
    rows = list(csv.DictReader(io.StringIO((report / "summary.csv").read_text())))
    for r in rows:
        metrics = json.loads((runs[r["run"]] / "metrics.json").read_text())
        assert float(r["mean"]) == metrics[r["key"]]
        assert float(r["std"]) == metrics[f"{r['key']}_std"]
    assert {r["key"] for r in rows} == set(CLEAN_COLUMNS.values())


def test_calibration_section(report):
    md = (report / "report.md").read_text()
    cal = _tables(md)["Calibration of a universal threshold"]
    # audio-agnostic baselines: positive and negative maxima are identical, nothing separates them
    assert {r["run"] for r in cal} == set(IS3)
    for r in cal:
        assert r["t"] == "none" and r["AUROC (pooled)"] == "0.500" and r["balanced acc."] == "0.500"
    assert "No model has runs on two datasets" in md


def test_mixed_report_with_allow_mixed_has_transfer(runs, tmp_path):
    out = tmp_path / "mixed"
    rc = main(["report", str(runs["random"]), str(runs["random_vggss"]), "--out", str(out),
               "--allow-mixed", "--no-maps"])
    assert rc == 0
    md = (out / "report.md").read_text()
    tables = _tables(md)
    loc = tables["Localization under positive audio"]
    assert [r["dataset"] for r in loc] == ["synthetic-is3", "synthetic-vggss"]  # the column that differs
    assert len({r["run"] for r in loc}) == 2  # labels tell the two random runs apart
    moves = tables["Transfer to another dataset"]
    assert {(r["calibrated on"], r["applied to"]) for r in moves} == {
        ("synthetic-is3", "synthetic-vggss"), ("synthetic-vggss", "synthetic-is3")}
    assert "mixed runs (--allow-mixed): dataset differs" in md
    assert not (out / "threshold_sweep.png").exists()  # --no-maps
    assert_png(out / "maxima.png")
    assert_png(out / "roc.png")


def test_baselines_share_one_figure_panel(runs):
    """The YAML's ``baseline: true`` reaches metrics.json; the three baselines share one panel of
    the maxima and ROC figures, a model run keeps its own (its ``baseline`` flag cleared here)."""
    from vssleval.report.figures import panels
    from vssleval.report.runs import assign_labels, load_run

    recs = [load_run(runs[k]) for k in ("center", "full", "random")]
    assert all(r.run["baseline"] is True for r in recs)
    model = load_run(runs["random"])
    model.metrics["run"] = {**model.run, "baseline": False, "model_name": "a-model"}
    assign_labels([model, *recs])
    groups = panels([recs[0], model, recs[1], recs[2]])
    assert [(title, [r.label for r in members]) for title, members in groups] == [
        ("a-model", ["a-model"]), ("baselines (audio-agnostic)", ["center", "full", "random"])]
    assert panels(recs[:1]) == [("center", recs[:1])]  # one baseline alone keeps its name
