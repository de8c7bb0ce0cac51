"""``report.html``: the report as one page to browse (``vssleval report --format html``; docs/report.md,
"report.html").

The page is one file with its styles and scripts inline (package data in ``assets/``) and nothing
fetched from the network. It shows:

* the leaderboard and every section of ``report.md``, rendered from the very Markdown those files
  hold (:mod:`vssleval.report.mdhtml`), each table sortable by a click on its header, each figure
  with its caption;
* the per-sample browser (:mod:`vssleval.report.gallery`): filters by class, size bin, outcome and
  run, four orders (worst IoU first by default), 20 samples a page, its rows inline as JSON and its
  images beside the page in ``report_files/``, loaded only for the page shown;
* each run's provenance (command, versions, fingerprint, timings from ``metrics.json``) in a
  ``<details>`` block.

The page's state (filters, order, page, a table's sort) lives in the URL hash, e.g.
``report.html#class=dog&outcome=failure&page=2&sort=0.3.d`` (table 0 by its column 3, descending).
"""

from __future__ import annotations

import html
import json
import shlex
from pathlib import Path
from typing import Any, Mapping, Sequence

from vssleval import __version__
from vssleval import fingerprint as fp
from vssleval.io_utils import write_text_atomic
from vssleval.report import mdhtml
from vssleval.report.runs import RunRecord
from vssleval.shown_paths import in_folder

HTML_FILE = "report.html"
ASSETS = Path(__file__).resolve().parent / "assets"


def _asset(name: str) -> str:
    return (ASSETS / name).read_text(encoding="utf-8")


def _script_json(obj: Any) -> str:
    """JSON safe inside a ``<script>`` element (no ``</`` that could close it)."""
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).replace("</", "<\\/")


def render(report_md: str, leaderboard_md: str | None, runs: Sequence[RunRecord], samples: Mapping[str, Any],
           out: Path) -> str:
    """The page's text.

    Args:
        report_md: the text of ``report.md``. leaderboard_md: the text of ``leaderboard.md`` (None:
            no leaderboard in this report). runs: the report's runs (provenance).
        samples: the browser's data (:meth:`vssleval.report.gallery.Gallery.payload`).
        out: the report folder (paths are shown relative to it).
    """
    esc = html.escape
    n = sum(len(r["rows"]) for r in samples["runs"])
    nav = [("leaderboard", "Leaderboard")] if leaderboard_md else []
    nav += [("samples", f"Samples ({n})"), ("report", "Tables and figures"), ("provenance", "Provenance")]
    parts = ["<!DOCTYPE html>", '<html lang="en"><head><meta charset="utf-8">',
             '<meta name="viewport" content="width=device-width, initial-scale=1">',
             f"<title>vssleval report: {esc(', '.join(r.label for r in runs))}</title>",
             f"<style>\n{_asset('report.css')}</style>", f"<script>\n{_asset('errors.js')}</script>", "</head><body>",
             "<h1>vssleval report</h1>",
             '<p id="js-status" data-errors="0">loading<noscript> (the filters, sorting and samples need '
             "JavaScript)</noscript></p>",
             "<nav>" + "".join(f'<a href="#{a}">{esc(t)}</a>' for a, t in nav) + "</nav>"]
    if leaderboard_md:
        parts += ['<section id="leaderboard"><h2>Leaderboard</h2>', mdhtml.to_html(leaderboard_md, "lb-"), "</section>"]
    parts += [_browser(samples), '<section id="report"><h2>Tables and figures</h2>', mdhtml.to_html(report_md, "md-"),
              "</section>", _provenance(runs, out),
              f'<script type="application/json" id="sample-data">{_script_json(samples)}</script>',
              f"<script>\n{_asset('report.js')}</script>", "</body></html>", ""]
    return "\n".join(parts)


def _browser(samples: Mapping[str, Any]) -> str:
    """The per-sample browser's controls and empty list (the script fills it)."""
    def select(ident: str, label: str, everything: str) -> str:
        return f'<label>{label} <select id="{ident}"><option value="">{everything}</option></select></label>'

    orders = [("worst", "worst first (lowest IoU)"), ("best", "best first"),
              ("negmax", "highest negative max first"), ("dataset", "dataset order")]
    order = "".join(f'<option value="{k}">{html.escape(t)}</option>' for k, t in orders)
    cut = samples.get("success_iou")
    return "\n".join([
        '<section id="samples"><h2>Samples</h2>',
        "<p>Each sample: the frame with its ground truth (green boxes, or the outline of a mask), then the map "
        "under each audio variant of the run's first seed, blended over the frame on one colour scale per "
        f"sample (the bar on the right: lowest to highest value of its maps). A success is an IoU of at least "
        f"{cut} (the cIoU@0.5 rule); the maxima are the raw maps' maxima, as in <code>per_sample.csv</code>.</p>",
        '<div class="controls">', select("f-model", "run", "all runs"), select("f-class", "class", "all classes"),
        select("f-size", "size", "all sizes"), select("f-outcome", "outcome", "successes and failures"),
        f'<label>order <select id="f-order">{order}</select></label>', "</div>",
        '<div class="controls pager"><span id="sample-count"></span><button id="prev-page" type="button">previous'
        '</button><span id="page-info"></span><button id="next-page" type="button">next</button></div>',
        '<div id="sample-list"></div>', "</section>"])


def _provenance(runs: Sequence[RunRecord], out: Path) -> str:
    """Each run's command, versions, fingerprint and timings, in one collapsed block."""
    esc = html.escape
    blocks = []
    for r in runs:
        m = r.metrics
        command = m.get("command") or {}
        argv = command.get("argv") if isinstance(command, Mapping) else None
        said = shlex.join(map(str, argv)) if isinstance(argv, list) else str(command.get("call") or "not recorded")
        versions = ", ".join(f"{k} {v}" for k, v in (m.get("versions") or {}).items()) or "not recorded"
        summary = m.get("fingerprint")
        digest = fp.short(summary["digest"]) if fp.is_valid(summary) else "none"
        lines = [f"folder: {in_folder(r.path, out)}", f"command: {said}", f"versions: {versions}",
                 f"fingerprint: {digest}"]
        timing = m.get("timing")
        if isinstance(timing, Mapping) and isinstance(timing.get("total"), Mapping):
            total = timing["total"]
            lines.append(f"time: {total.get('wall_s')} s wall, {total.get('cpu_s')} s CPU")
            lines += [f"  {name}: {t.get('wall_s')} s wall, {t.get('cpu_s')} s CPU"
                      for name, t in (timing.get("phases") or {}).items() if isinstance(t, Mapping)]
        blocks.append(f"<h3>{esc(r.label)}</h3><pre>{esc(chr(10).join(lines))}</pre>")
    return ('<section id="provenance"><h2>Provenance</h2><details><summary>How each run was made (command, '
            f"versions, fingerprint, timings); page written by vssleval {esc(__version__)}</summary>"
            + "".join(blocks) + "</details></section>")


def write_html(out: str | Path, report_md: str, leaderboard_md: str | None, runs: Sequence[RunRecord],
               samples: Mapping[str, Any]) -> Path:
    """Write ``out / report.html`` (atomically) and return its path; see :func:`render`."""
    path = Path(out) / HTML_FILE
    write_text_atomic(path, render(report_md, leaderboard_md, runs, samples, Path(out)))
    return path
