"""``report`` and ``report --compare`` decide "same data" alike, from the runs' fingerprints
(vssleval/report/runs.py ``data_groups``; docs/report.md "Fingerprint of the inputs").

Three runs on 4 synthetic records (one seed, no bootstrap): A on folder D, B on a copy of D (same
data, another folder), then D's boxes are edited in place and C runs on D (same folder, other data).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from vssleval.cli import main
from vssleval.data.synthetic import synth


def _evaluate(model: str, data: Path, out: Path) -> Path:
    assert main(["evaluate", "--model", model, "--data-dir", str(data), "--seeds", "1", "--bootstrap", "0",
                 "--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def three(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("same_data")
    d = synth("vggss", 4, 3, root / "D")
    a = _evaluate("center", d, root / "A")
    d2 = Path(shutil.copytree(d, root / "D2"))
    b = _evaluate("full", d2, root / "B")
    ann = d / "vggss_annotations.json"
    recs = json.loads(ann.read_text())
    for r in recs:
        r["bbox"] = [[0.0, 0.0, 0.1, 0.1]]
    ann.write_text(json.dumps(recs))
    c = _evaluate("full", d, root / "C")
    return {"A": a, "B": b, "C": c, "D": d, "D2": d2}


def _cli(capsys, *argv: str) -> tuple[int, str]:
    capsys.readouterr()
    rc = main(list(argv))
    captured = capsys.readouterr()
    assert "Traceback" not in captured.err
    return rc, captured.err + captured.out


def _data(run: Path) -> str:
    return json.loads((run / "metrics.json").read_text())["fingerprint"]["data"][:12]


def test_report_same_data_in_two_folders_is_one_table(three, tmp_path, capsys):
    rc, text = _cli(capsys, "report", str(three["A"]), str(three["B"]), "--out", str(tmp_path / "r"), "--no-maps")
    assert rc == 0, text
    assert _data(three["A"]) == _data(three["B"])


def test_report_refuses_other_data_in_the_same_folder(three, tmp_path, capsys):
    rc, text = _cli(capsys, "report", str(three["A"]), str(three["C"]), "--out", str(tmp_path / "r"), "--no-maps")
    assert rc == 2, text
    assert "data differs" in text and _data(three["A"]) in text and _data(three["C"]) in text
    assert "--allow-mixed" in text and not (tmp_path / "r").exists()
    rc, text = _cli(capsys, "report", str(three["A"]), str(three["C"]), "--out", str(tmp_path / "r"), "--no-maps",
                    "--allow-mixed")
    assert rc == 0, text
    assert "mixed runs (--allow-mixed): data differs" in (tmp_path / "r" / "report.md").read_text()


def test_compare_decides_same_data_as_report(three, tmp_path, capsys):
    rc, text = _cli(capsys, "report", str(three["A"]), str(three["C"]), "--compare", "--bootstrap", "0",
                    "--out", str(tmp_path / "c"))
    assert rc == 2, text
    assert "--compare needs two runs on the same data: data differs" in text and _data(three["C"]) in text
    assert not (tmp_path / "c").exists()
    rc, text = _cli(capsys, "report", str(three["A"]), str(three["B"]), "--compare", "--bootstrap", "0",
                    "--out", str(tmp_path / "c"))
    assert rc == 0, text
    rc, text = _cli(capsys, "report", str(three["A"]), str(three["C"]), "--compare", "--bootstrap", "0",
                    "--allow-mixed", "--out", str(tmp_path / "c2"))
    assert rc == 0 and "mixed runs (--allow-mixed): data differs" in text, text


def _without_fingerprint(run: Path, dest: Path) -> Path:
    """A copy of ``run`` as an older vssleval wrote it: no fingerprint in metrics.json."""
    shutil.copytree(run, dest)
    metrics = json.loads((dest / "metrics.json").read_text())
    metrics.pop("fingerprint")
    (dest / "metrics.json").write_text(json.dumps(metrics))
    return dest


def test_runs_without_fingerprint_fall_back_on_the_folder_and_say_so(three, tmp_path, capsys):
    old_a = _without_fingerprint(three["A"], tmp_path / "oldA")
    rc, text = _cli(capsys, "report", str(old_a), str(three["C"]), "--out", str(tmp_path / "r"), "--no-maps")
    assert rc == 0, text  # one folder: the same data as far as can be told
    report = (tmp_path / "r" / "report.md").read_text()
    assert f"({old_a}) carries no readable fingerprint of its inputs" in report
    assert "decided by their data folders" in report
    rc, text = _cli(capsys, "report", str(old_a), str(three["B"]), "--compare", "--bootstrap", "0",
                    "--out", str(tmp_path / "c"))
    assert rc == 2 and f"data differs: {three['D']}" in text and str(three["D2"]) in text, text


def test_a_store_from_a_run_on_other_data_is_refused(three, tmp_path, capsys):
    hybrid = Path(shutil.copytree(three["C"], tmp_path / "hybrid"))
    shutil.rmtree(hybrid / "store")
    shutil.copytree(three["B"] / "store", hybrid / "store")  # same model, dataset and preset; other data
    rc, text = _cli(capsys, "report", str(hybrid), "--out", str(tmp_path / "r"), "--overlays", "0")
    assert rc == 2 and "describe different runs (fingerprint: " in text, text


def test_fingerprinted_runs_of_one_folder_stay_apart_beside_an_old_run(three, tmp_path, capsys):
    old_a = _without_fingerprint(three["A"], tmp_path / "oldA")
    rc, text = _cli(capsys, "report", str(three["A"]), str(three["C"]), str(old_a), "--out", str(tmp_path / "r"),
                    "--no-maps")
    assert rc == 2, text  # A and C read different data from one folder: a folder name cannot join them
    assert f"{three['D']} (data {_data(three['A'])})" in text and f"{three['D']} (data {_data(three['C'])})" in text
