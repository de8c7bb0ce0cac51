"""Issue 20, item 1: one metric catalog per protocol, and what derives from it.

Real runs under every protocol on a tiny synthetic set (12 samples), made once per module:

* ``vssleval``: the conftest's baselines (``center``, ``full``);
* ``juanola2025``: ``center`` and ``random`` with their ``juanola2025`` preset (2 seeds: the protocol
  pools them), the OGL prior on the fixtures' rule weights;
* ``native``: two ``--model-file`` plug-ins scored by EZ-VSL's evaluator (a 7 x 7 random map and a
  7 x 7 centre prior) and one by SLAVC's (which adds ``ap`` / ``max_f1``).
"""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import numpy as np
import pytest
import torch

import shared
from vssleval.cli import main
from vssleval.metrics import resampling as rs
from vssleval.metrics.catalog import Metric, StatContext, markdown, needs
from vssleval.metrics.protocols import PROTOCOLS, Protocol
from vssleval.report.text import tex as tex_text

N = 12
ROOT = Path(__file__).resolve().parents[2]

#: a plug-in model whose YAML names a native evaluator (the baselines name none)
PLUGIN = '''from vssleval.models.baselines import {base}


class {cls}({base}):
    model_name = "{name}"
'''
PLUGIN_YAML = '''name: {name}
model: {{size: 7}}
checkpoint: {{}}
thresholds: {{}}
native_evaluator: {evaluator}
presets:
  native:
    audio: {{}}
    image: {{}}
    map: {{raw: identity, upsample: {{positive: {op}}}, normalize: none}}
'''


def _evaluate(out: Path, model: str, data: Path, *extra: str) -> Path:
    argv = ["evaluate", "--model" if ":" not in model else "--model-file", model, "--dataset", "synthetic-is3",
            "--data-dir", str(data), "--limit", str(N), "--bootstrap", "200", "--device", "cpu", "--out", str(out),
            *extra]
    assert main(argv) == 0, f"evaluate {model} {extra} failed"
    return out


def _plugin(root: Path, name: str, base: str, evaluator: str, op: str) -> str:
    cls = "".join(p.capitalize() for p in name.split("-"))
    (root / f"{name}.py").write_text(PLUGIN.format(base=base, cls=cls, name=name))
    (root / f"{name}.yaml").write_text(PLUGIN_YAML.format(name=name, evaluator=evaluator, op=op))
    return f"{root / name}.py:{cls}"


@pytest.fixture(scope="module")
def protocol_runs(runs, tmp_path_factory) -> dict[str, list[Path]]:
    """protocol -> its runs (every protocol of PROTOCOLS has some: a new protocol needs a line here)."""
    root = tmp_path_factory.mktemp("catalog_runs")
    data = Path(json.loads((runs["center"] / "metrics.json").read_text())["run"]["data_root"])
    ogl = root / "ogl.pth"  # the OGL prior's ImageNet ResNet-18 stand-in (plain state dict)
    torch.save(shared.rule_state_dict(shared.BEST.manifests / "ogl_resnet18.json"), ogl)
    compat = ("--preset", "juanola2025", "--protocol", "juanola2025", "--seeds", "2", "--ogl-weights", str(ogl))
    native = ("--preset", "native", "--protocol", "native", "--seeds", "1")
    plugins = root / "plugins"
    plugins.mkdir()
    made = {
        "vssleval": [runs["center"], runs["full"]],
        "juanola2025": [_evaluate(root / "j-center", "center", data, *compat),
                        _evaluate(root / "j-random", "random", data, *compat)],
        "native": [_evaluate(root / "n-grid", _plugin(plugins, "grid-ez", "RandomMap", "ezvsl", "bilinear_ac"), data,
                             *native),
                   _evaluate(root / "n-center", _plugin(plugins, "center-ez", "CenterPrior", "ezvsl", "bilinear_ac"),
                             data, *native),
                   _evaluate(root / "n-slavc", _plugin(plugins, "grid-slavc", "RandomMap", "slavc", "bicubic_ac"),
                             data, *native)],
    }
    assert set(made) == set(PROTOCOLS), "add a way to make runs of the new protocol"
    return made


def _metrics(run: Path) -> dict:
    return json.loads((run / "metrics.json").read_text())


def _csv(path: Path) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(path.read_text())))


# -- the catalog itself ------------------------------------------------------------------------
@pytest.mark.parametrize("name", list(PROTOCOLS))
def test_every_catalog_key_is_in_the_protocols_metrics_json(name, protocol_runs):
    """Each protocol's catalog names keys its runs write (native: ap / max_f1 only where SLAVC scores)."""
    protocol = PROTOCOLS[name]
    assert protocol.metrics, f"{name} declares no metrics"
    written = set().union(*(_metrics(r).keys() for r in protocol_runs[name]))
    assert [m.key for m in protocol.metrics if m.key not in written] == []
    for run in protocol_runs[name]:
        assert _metrics(run)["protocol"] == name


@pytest.mark.parametrize("name", list(PROTOCOLS))
def test_everything_shown_derives_from_the_catalog(name):
    p = PROTOCOLS[name]
    assert list(p.headline) == [(m.key, m.label) for m in p.metrics if m.headline]
    assert [k for _, cols in p.sections() for k, _ in cols] == [m.key for m in p.metrics if m.headline]
    assert [m.key for m in p.leaderboard_columns()] == [m.key for m in p.metrics if m.leaderboard]
    assert [m.key for m in p.compared()] == [m.key for m in p.metrics if m.compare]
    assert p.leaderboard_columns(), f"{name} has no leaderboard column"


def test_clean_catalog_keeps_the_published_columns():
    p = PROTOCOLS["vssleval"]
    assert [m.key for m in p.leaderboard_columns()] == [
        "ciou", "auc", "ap", "max_f1", "pia_silence_adap", "pia_noise_adap", "pia_offscreen_adap", "auroc_max_neg"]
    assert [m.key for m in p.compared()] == [
        "ciou", "auc", "ap", "pia_silence_adap", "pia_noise_adap", "pia_offscreen_adap"]
    assert [title for title, _ in p.sections()] == ["Localization under positive audio",
                                                    "Negative audio (silence, noise, offscreen)"]


def test_interval_keys_are_the_catalog_rows_with_a_statistic(runs):
    m = _metrics(runs["center"])
    want = {x.key for x in PROTOCOLS["vssleval"].metrics if x.interval and x.statistic is not None}
    assert {k[:-len("_ci95_low")] for k in m if k.endswith("_ci95_low")} == want
    assert len(want) == 14


def test_a_protocol_declaring_headline_by_hand_is_refused():
    with pytest.raises(TypeError, match="declares its metrics once"):
        type("Old", (Protocol,), {"name": "old", "headline": (("x", "X"),)})
    with pytest.raises(ValueError, match="listed twice"):
        type("Twice", (Protocol,), {"name": "twice", "metrics": (Metric("x", "X", "X", True, "S"),) * 2})
    with pytest.raises(ValueError, match="no_statistic"):
        Metric("x", "X", "X", True, "S", compare=True)


def test_docs_list_the_catalog_as_the_code_declares_it():
    """docs/metrics.md §12 holds the generated catalog of every protocol (regenerate it with
    ``vssleval.metrics.catalog.markdown``)."""
    text = (ROOT / "docs" / "metrics.md").read_text(encoding="utf-8")
    begin, end = "<!-- catalog: begin (generated) -->\n", "<!-- catalog: end -->"
    assert begin in text and end in text
    shown = text[text.index(begin) + len(begin):text.index(end)]
    want = markdown({name: p.metrics for name, p in PROTOCOLS.items()})
    assert shown == want, "docs/metrics.md §12 is stale: paste vssleval.metrics.catalog.markdown(...) there"


# -- statistics -----------------------------------------------------------------------------------
def test_pooled_statistic_is_the_statistic_of_every_seeds_rows():
    seeds = [{"x": np.array([1.0, 5.0, 2.0])}, {"x": np.array([4.0, 0.0, 9.0])}]
    median = lambda rec, rows: np.median(np.asarray(rec["x"])[rows], axis=-1)  # noqa: E731
    one = rs.bootstrap_intervals({"m": (median, rs.POOLED)}, seeds, 0)  # no resamples: NaN, no draw
    assert np.isnan(one["m"][0])
    rows = np.array([[0, 0, 2]])
    assert rs._seed_mean(median, seeds, rows, rs.POOLED)[0] == np.median([1.0, 1.0, 2.0, 4.0, 4.0, 9.0])
    # the paired difference of a pooled statistic: A's and B's pooled values
    res = rs.paired_difference(median, rs.POOLED, seeds, [{"x": s["x"] + 1} for s in seeds], 0)
    assert (res["a"], res["b"]) == (np.median([1, 5, 2, 4, 0, 9]), np.median([1, 5, 2, 4, 0, 9]) + 1)


def test_a_builder_says_why_it_has_no_statistic():
    assert needs(["a", "b"], lambda: "stat")(StatContext(frozenset({"a"}))) == "the per-sample records lack b"


# -- leaderboard and report on every protocol ------------------------------------------------------
@pytest.mark.parametrize("name", ["juanola2025", "native"])
def test_report_and_leaderboard_of_two_runs(name, protocol_runs, tmp_path):
    a, b = protocol_runs[name][:2]
    out = tmp_path / "rep"
    assert main(["report", str(a), str(b), "--format", "md,latex,csv", "--overlays", "1", "--out", str(out)]) == 0
    # the protocol's leaderboard columns that either run has (EZ-VSL's evaluator computes no AP)
    cols = [c for c in PROTOCOLS[name].leaderboard_columns() if c.key in _metrics(a) or c.key in _metrics(b)]
    assert len(cols) >= 2
    md = (out / "leaderboard.md").read_text()
    header = next(ln for ln in md.splitlines() if ln.startswith("| model |"))
    assert header == "| model | " + " | ".join(c.short for c in cols) + " |"
    lines = _csv(out / "leaderboard.csv")
    assert [r["protocol"] for r in lines] == [name, name]
    for line, run in zip(lines, (a, b)):
        m = _metrics(run)
        for c in cols:
            assert float(line[c.key]) == pytest.approx(m[c.key], abs=1e-12), (c.key, run)
    tex = (out / "leaderboard.tex").read_text()
    assert all(tex_text(c.short) in tex for c in cols) and tex.count(r"\textbf{") >= 1
    report = (out / "report.md").read_text()
    for title, keys in PROTOCOLS[name].sections():
        assert f"### {title}" in report
    summary = _csv(out / "summary.csv")
    assert {r["key"] for r in summary} == {m.key for m in PROTOCOLS[name].metrics if m.headline} & set(_metrics(a))


def test_leaderboard_of_two_protocols_gives_each_its_own_columns(runs, protocol_runs, tmp_path):
    """A clean and a compat run of one model (``--allow-mixed``): one row, one column group per
    protocol with that protocol's catalog columns; never one column for two protocols' keys."""
    out = tmp_path / "mixed"
    compat = protocol_runs["juanola2025"][0]  # center under juanola2025
    assert main(["report", str(runs["center"]), str(compat), "--allow-mixed", "--no-maps", "--out", str(out)]) == 0
    md = (out / "leaderboard.md").read_text()
    assert "## synthetic-is3 (protocol vssleval)" in md and "## synthetic-is3 (protocol juanola2025)" in md
    lines = _csv(out / "leaderboard.csv")
    assert {(r["model"], r["protocol"]) for r in lines} == {("center", "vssleval"), ("center", "juanola2025")}
    compat_line = next(r for r in lines if r["protocol"] == "juanola2025")
    assert compat_line["ciou"] == "" and float(compat_line["CIoU"]) == _metrics(compat)["CIoU"]
    tex = (out / "leaderboard.tex").read_text()
    # one row, two groups (one table each here: together they are wider than a page)
    assert len([ln for ln in tex.splitlines() if ln.startswith("center")]) == tex.count(r"\begin{table")


# -- paired comparison on every protocol -----------------------------------------------------------
@pytest.mark.parametrize("name", list(PROTOCOLS))
def test_compare_pairs_every_compared_metric_with_its_metrics_json_values(name, protocol_runs, tmp_path, capsys):
    a, b = protocol_runs[name][:2]
    out = tmp_path / "cmp"
    assert main(["report", str(a), str(b), "--compare", "--bootstrap", "200", "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    rows = {r["metric"]: r for r in _csv(out / "compare.csv")}
    ma, mb = _metrics(a), _metrics(b)
    want = [m for m in PROTOCOLS[name].compared() if m.key in ma or m.key in mb]
    assert list(rows) == [m.key for m in want]  # nothing silently dropped
    for m in want:
        r = rows[m.key]
        assert float(r["a"]) == pytest.approx(ma[m.key], abs=1e-9, nan_ok=True), m.key
        assert float(r["b"]) == pytest.approx(mb[m.key], abs=1e-9, nan_ok=True), m.key
        if m.statistic is None:
            assert r["test"] == "not comparable" and r["interval_note"] == m.no_statistic and r["p_value"] == ""
            assert f"not comparable: {m.no_statistic}" in printed
        else:
            assert 0 < float(r["p_value"]) <= 1 and float(r["ci95_low"]) <= float(r["diff"]) <= float(r["ci95_high"])
    if name == "juanola2025":  # the scene-grouped metrics are listed, with why they are not paired
        assert rows["iiou_adap"]["test"] == "not comparable"


def test_compare_of_two_native_evaluators_says_what_it_cannot_pair(protocol_runs, tmp_path, capsys):
    ez, slavc = protocol_runs["native"][0], protocol_runs["native"][2]
    assert main(["report", str(ez), str(slavc), "--compare", "--bootstrap", "200", "--out", str(tmp_path / "c")]) == 0
    rows = {r["metric"]: r for r in _csv(tmp_path / "c" / "compare.csv")}
    assert set(rows) == {"ciou", "auc", "ap", "max_f1"}
    assert all(r["test"] == "not comparable" for r in rows.values())
    assert "evaluators ezvsl and slavc" in rows["ciou"]["interval_note"]
    assert "has no ap" in rows["ap"]["interval_note"]
    assert float(rows["ap"]["b"]) == _metrics(slavc)["ap"]


def test_compare_refuses_two_protocols(runs, protocol_runs, tmp_path, capsys):
    capsys.readouterr()
    rc = main(["report", str(runs["center"]), str(protocol_runs["juanola2025"][0]), "--compare", "--allow-mixed",
               "--out", str(tmp_path / "c")])
    err = capsys.readouterr().err
    assert rc == 2 and re.search(r"one protocol: .* 'vssleval' run, .* 'juanola2025' one", err), err
    assert "Traceback" not in err and not (tmp_path / "c").exists()


def test_native_intervals_come_from_the_evaluators_statistics(protocol_runs):
    """The native runs now carry intervals (catalog rows with a statistic), containing their value."""
    for run in protocol_runs["native"]:
        m = _metrics(run)
        for key in ("ciou", "auc", "ap", "max_f1"):
            if key in m and m[key] is not None:
                assert m[f"{key}_ci95_low"] <= m[key] <= m[f"{key}_ci95_high"], (run, key)
