"""`vssleval infer`: reuses a finished store (no recomputation) and writes overlay figures."""

import shutil

from vssleval.cli import main


def test_infer_resumes_a_store_and_draws_overlays(runs, tmp_path, capsys):
    run = tmp_path / "center"
    shutil.copytree(runs["center"], run)
    data = runs["center"].parent / "data-is3"
    rc = main(["infer", "--model", "center", "--dataset", "synthetic-is3", "--data-dir", str(data), "--seeds", "2",
               "--out", str(run), "--resume", "--overlays", "3"])
    assert rc == 0
    out = capsys.readouterr().out
    assert "0 batches computed" in out
    assert "thresholded at each positive map's adaptive threshold" in out  # the rule of pIA (docs/report.md)
    png, pdf = run / "overlays.png", run / "overlays.pdf"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and pdf.read_bytes()[:5] == b"%PDF-"
