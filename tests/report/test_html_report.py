"""``report.html`` in a real browser: headless Chromium opens it from ``file://`` (docs/report.md, "report.html").

One tiny report (two cheap baselines on 10 synthetic VGG-SS samples, one seed) is made once. The page
is read with ``chromium --headless --dump-dom`` (the DOM after its scripts ran): ``#js-status`` says
``ready`` with no error collected (script errors, console errors, images that failed to load), the
sample count, a filter and the orders give what ``per_sample.csv`` says they must, a table sorts by
a URL-hash request, and a screenshot is not blank. Without Chromium the tests skip, naming
``scripts/system_packages.sh``; under ``VSSLEVAL_REQUIRE_FULL_FIXTURES=1`` (CI) they fail instead.
"""

from __future__ import annotations

import csv
import html
import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from vssleval.cli import main
from vssleval.data.synthetic import synth

pytestmark = pytest.mark.slow

N = 10
BROWSERS = ("chromium", "chromium-browser")


def _chromium() -> str:
    """The browser's path; a skip (a failure under VSSLEVAL_REQUIRE_FULL_FIXTURES=1) without one."""
    found = next((p for p in map(shutil.which, BROWSERS) if p), None)
    if found is None:
        why = "no headless Chromium (`chromium`): install it with scripts/system_packages.sh"
        if os.environ.get("VSSLEVAL_REQUIRE_FULL_FIXTURES", "") not in ("", "0"):
            pytest.fail(f"{why} (VSSLEVAL_REQUIRE_FULL_FIXTURES=1: this test must run)")
        pytest.skip(why)
    return found


@pytest.fixture(scope="module")
def report(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("html_report")
    data = synth("vggss", N, 3, root / "data")
    for model in ("center", "random"):
        assert main(["evaluate", "--model", model, "--dataset", "synthetic-vggss", "--data-dir", str(data),
                     "--seeds", "1", "--bootstrap", "0", "--out", str(root / model)]) == 0
    out = root / "report"
    assert main(["report", str(root / "center"), str(root / "random"), "--out", str(out), "--overlays", "0",
                 "--sweep-points", "5", "--format", "md,html"]) == 0
    return out


def _browse(report: Path, tmp_path: Path, fragment: str = "", screenshot: Path | None = None) -> tuple[str, str]:
    """(DOM after the page's scripts ran, Chromium's log) of ``report.html#fragment``."""
    url = (report / "report.html").as_uri() + (f"#{fragment}" if fragment else "")
    what = [f"--screenshot={screenshot}", "--window-size=1280,1600"] if screenshot else ["--dump-dom"]
    cmd = [_chromium(), "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
           f"--user-data-dir={tmp_path / 'profile'}", "--enable-logging=stderr", "--v=0",
           "--virtual-time-budget=3000", *what, url]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stdout, done.stderr


def _status(dom: str) -> tuple[str, str]:
    m = re.search(r'<p id="js-status" data-errors="(\d+)">([^<]*)', dom)
    assert m, "no #js-status in the page"
    return m.group(1), html.unescape(m.group(2))


def _count(dom: str) -> dict[str, str]:
    m = re.search(r'<span id="sample-count"([^>]*)>', dom)
    assert m, "no #sample-count in the page"
    return dict(re.findall(r'(data-[a-z]+)="([^"]*)"', m.group(1)))


def _cards(dom: str) -> list[tuple[str, str]]:
    """(sample id, run label) of each sample card shown, in page order."""
    heads = re.findall(r'<div class="head"><b>([^<]*)</b> · ([^ ·<]+)', dom)
    return [(html.unescape(a), html.unescape(b)) for a, b in heads]


def _first_seed(run: Path) -> list[dict[str, str]]:
    with open(run / "per_sample.csv", newline="") as fh:
        return [r for r in csv.DictReader(fh) if r["seed_index"] == "0"]


def _console_errors(log: str) -> list[str]:
    return [line for line in log.splitlines() if "CONSOLE" in line and re.search(r"error|uncaught", line, re.I)]


def test_page_loads_without_errors_and_counts_the_samples(report, tmp_path):
    dom, log = _browse(report, tmp_path)
    assert _status(dom) == ("0", "ready")
    assert not _console_errors(log)
    count = _count(dom)
    assert count["data-total"] == count["data-count"] == str(2 * N)  # two runs x N samples
    assert len(_cards(dom)) == min(20, 2 * N)
    # every image the browser names is beside the page (a frame per sample, a map tile per run x sample)
    data = json.loads(re.search(r'id="sample-data">(.*?)</script>', dom, re.S).group(1))
    assert len(list((report / "report_files" / "frames").glob("*.jpg"))) == N == sum(data["images"])
    for run in data["runs"]:
        assert run["variants"] == ["positive", "silence", "noise", "offscreen"]
        tiles = {row["tile"] for row in run["rows"]}
        assert tiles == set(range(N))
        assert all((report / "report_files" / "maps" / run["slug"] / f"{t}.png").is_file() for t in tiles)
    # the tables of report.md and the leaderboard are there, sortable
    assert dom.count('class="sortable"') >= 4 and "Calibration of a universal threshold" in dom


def test_filters_and_worst_first_follow_per_sample_csv(report, tmp_path):
    rows = _first_seed(report.parent / "random")
    cls = rows[0]["label"]
    want = [r for r in rows if r["label"] == cls]
    dom, _ = _browse(report, tmp_path, f"model=random&class={cls}&order=worst")
    assert _status(dom)[0] == "0"
    assert _count(dom)["data-count"] == str(len(want))
    # worst first: IoU ascending, ties in dataset order (a stable sort)
    order = [r["sample_id"] for r in sorted(want, key=lambda r: round(float(r["iou_med"]), 4))]
    assert [sid for sid, _ in _cards(dom)] == order
    assert {run for _, run in _cards(dom)} == {"random"}

    failures = [r["sample_id"] for r in _first_seed(report.parent / "center") if float(r["iou_med"]) < 0.5]
    dom, _ = _browse(report, tmp_path, "model=center&outcome=failure&order=best")
    assert _count(dom)["data-count"] == str(len(failures))
    shown = _cards(dom)
    ious = {r["sample_id"]: float(r["iou_med"]) for r in _first_seed(report.parent / "center")}
    assert [ious[s] for s, _ in shown] == sorted((ious[s] for s in failures), reverse=True)


def test_table_sorts_by_the_requested_column(report, tmp_path):
    for direction, key in (("a", sorted), ("d", lambda v: sorted(v, reverse=True))):
        dom, _ = _browse(report, tmp_path, f"sort=0.0.{direction}")
        table = re.search(r'<table class="sortable" data-table="0">(.*?)</table>', dom, re.S).group(1)
        assert re.search(r'<th[^>]*aria-sort="(ascending|descending)"', table)
        names = [html.unescape(re.sub(r"<[^>]+>", "", m)) for m in re.findall(r"<tr><td[^>]*>(.*?)</td>", table)]
        assert len(names) == 2 and names == key(names), names


def test_screenshot_is_not_blank(report, tmp_path):
    from PIL import Image

    shot = tmp_path / "page.png"
    _browse(report, tmp_path, "order=worst", screenshot=shot)
    pixels = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    assert pixels.shape[:2] == (1600, 1280)
    assert (pixels.min(axis=2) < 200).mean() > 0.05  # text, tables and pictures, not an empty page
    # the heat maps and colour bars: strongly coloured pixels (one channel high, another low)
    vivid = (pixels.max(axis=2) > 180) & (pixels.min(axis=2) < 70)
    assert vivid.mean() > 0.01


def test_without_maps_the_page_lists_the_samples_and_a_bad_format_is_named(report, tmp_path, capsys):
    out = tmp_path / "plain"
    assert main(["report", str(report.parent / "center"), "--no-maps", "--format", "html", "--out", str(out)]) == 0
    assert not (out / "leaderboard.md").exists() and (out / "report.md").is_file()
    page = (out / "report.html").read_text(encoding="utf-8")
    data = json.loads(re.search(r'id="sample-data">(.*?)</script>', page, re.S).group(1))
    rows = data["runs"][0]["rows"]
    csv_rows = _first_seed(report.parent / "center")
    assert [r["id"] for r in rows] == [r["sample_id"] for r in csv_rows]
    assert [r["iou"] for r in rows] == [round(float(r["iou_med"]), 4) for r in csv_rows]
    assert [r["max"][0] for r in rows] == [float(f"{float(r['max_positive']):.4g}") for r in csv_rows]
    assert all(r["frame"] == -1 and r["tile"] == -1 for r in rows) and not data["images"]
    assert "report.html lists the samples without maps" in (out / "report.md").read_text(encoding="utf-8")
    assert not list(out.glob(".report_files-*"))  # the temporary folder went into place

    capsys.readouterr()
    assert main(["report", str(report.parent / "center"), "--no-maps", "--format", "md,htm",
                 "--out", str(tmp_path / "bad")]) == 2
    err = capsys.readouterr().err
    assert "'htm'" in err and "html" in err and "Traceback" not in err
