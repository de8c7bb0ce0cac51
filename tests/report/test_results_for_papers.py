"""Issue 13: bootstrap intervals, breakdowns, the leaderboard, paired comparisons, completeness."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import numpy as np
import pytest

from tex_cells import compile_overfull, tex_plain
from vssleval.cli import main
from vssleval.metrics import auc, auroc, average_precision, max_f1
from vssleval.metrics import resampling as rs
from vssleval.metrics.calibration import auroc_resampled, auroc_rows
from vssleval.metrics.detection import ap_f1_rows
from vssleval.metrics.protocols import get_protocol

N, SEEDS = 12, 2  # tests/report/conftest.py: 12 synthetic samples x 2 seeds


# -- bootstrap intervals ------------------------------------------------------------------------
def test_interval_of_a_single_sample_is_that_sample():
    rec = {"iou": np.array([0.7])}
    ci = rs.bootstrap_intervals({"ciou": (rs.success_of("iou"), True)}, [rec], rs.MIN_RESAMPLES)
    assert ci["ciou"] == (1.0, 1.0)


def test_interval_of_two_samples_spans_the_three_possible_means():
    # resample means of [1, 0] are 0, 1/2, 1 with probability 1/4, 1/2, 1/4: the 2.5 / 97.5 % points are 0 and 1
    rec = {"iou": np.array([0.6, 0.2])}
    lo, hi = rs.bootstrap_intervals({"ciou": (rs.success_of("iou"), True)}, [rec], 2000, seed=3)["ciou"]
    assert (lo, hi) == (0.0, 1.0)


def test_resampling_is_paired_across_seeds():
    # seed 0 succeeds on sample 0 only, seed 1 on sample 1 only: every resample's seed mean is 1/2
    # when the same samples are drawn for both seeds (an unpaired bootstrap would spread to 0 and 1)
    seeds = [{"iou": np.array([0.9, 0.1])}, {"iou": np.array([0.1, 0.9])}]
    ci = rs.bootstrap_intervals({"ciou": (rs.success_of("iou"), False)}, seeds, 500)
    assert ci["ciou"] == (0.5, 0.5)


def test_equal_seeds_are_computed_once_with_the_same_intervals(monkeypatch):
    """Seeds with equal records (an audio-agnostic model's) are found (``same_seeds``), their
    statistic is computed once per row set, and the intervals are those of one call per seed."""
    rng = np.random.default_rng(4)
    a, b = {"x": rng.random(30), "y": rng.random(30)}, {"x": rng.random(30), "y": rng.random(30)}
    seeds = [a, dict(a), b, {"x": a["x"].copy(), "y": a["y"].copy()}, dict(b)]
    assert rs.same_seeds(seeds) == [0, 0, 2, 0, 2]
    calls = []

    def mean_x(rec, rows):
        calls.append(1)
        return np.asarray(rec["x"])[rows].mean(-1)

    stats = {"x": (mean_x, False)}
    got = rs.bootstrap_intervals(stats, seeds, 400, seed=2)
    n_calls = len(calls)
    monkeypatch.setattr(rs, "same_seeds", lambda s: list(range(len(s))))  # one call per seed
    assert rs.bootstrap_intervals(stats, seeds, 400, seed=2) == got
    assert len(calls) - n_calls == 5 * n_calls // 2  # 2 distinct seeds of 5


def test_intervals_are_seeded():
    rec = {"x": np.random.default_rng(0).random(30)}
    stats = {"x": (rs.mean_of("x"), True)}
    assert rs.bootstrap_intervals(stats, [rec], 200, seed=5) == rs.bootstrap_intervals(stats, [rec], 200, seed=5)
    assert rs.bootstrap_intervals(stats, [rec], 200, seed=5) != rs.bootstrap_intervals(stats, [rec], 200, seed=6)


def test_vectorized_statistics_equal_the_one_row_functions():
    rng = np.random.default_rng(1)
    iou = np.round(rng.random(40), 2)
    iou[3] = np.nan
    assert rs.sample_auc(iou).mean() == pytest.approx(float(auc(iou)), abs=1e-12)
    conf = np.round(rng.random((6, 90)), 1)  # ties
    conf[0, :4] = np.inf
    conf[1, -3:] = -np.inf
    ciou, positive = rng.random((6, 90)), rng.random((6, 90)) < 0.4
    ap, f1 = ap_f1_rows(conf, ciou, positive)
    for i in range(6):
        assert ap[i] == pytest.approx(average_precision(conf[i], ciou[i], positive[i]), abs=1e-12)
        assert f1[i] == pytest.approx(max_f1(conf[i], ciou[i], positive[i]), abs=1e-12)
    p, q = np.round(rng.random((4, 20)), 1), np.round(rng.random((4, 30)), 1)
    q[2, 5] = np.nan
    assert auroc_rows(p, q) == pytest.approx([auroc(a, b) for a, b in zip(p, q)], abs=1e-12)


def test_auroc_of_resampled_rows_equals_ranking_the_rows():
    """The bootstrap's AUROC from draw counts is the rank formula's value on the drawn rows, bit
    for bit (ties, infinities, repeated draws; NaN takes the per-row function)."""
    rng = np.random.default_rng(4)
    n = 37
    pos = np.round(rng.random(n), 1)
    negs = [np.round(rng.random(n), 1) for _ in range(3)]
    pos[0], negs[1][2] = np.inf, -np.inf
    rows = rng.integers(0, n, size=(50, n))
    rows[0] = 5  # one sample drawn n times
    want = auroc_rows(pos[rows], np.concatenate([q[rows] for q in negs], axis=1))
    assert np.array_equal(auroc_resampled(pos, negs, rows), want)
    assert np.array_equal(auroc_resampled(pos, negs[:1], rows), auroc_rows(pos[rows], negs[0][rows]))
    negs[2][7] = np.nan
    want = auroc_rows(pos[rows], np.concatenate([q[rows] for q in negs], axis=1))
    assert np.array_equal(auroc_resampled(pos, negs, rows), want, equal_nan=True)


# -- paired comparison --------------------------------------------------------------------------
def test_exact_permutation_p_value_on_a_tiny_case():
    # cIoU@0.5 indicators A = [0, 0, 0, 1], B = [1, 1, 1, 1]: B - A = 3/4. Swapping sample i flips the sign
    # of d_i = [1, 1, 1, 0]; |sum s_i d_i| / 4 >= 3/4 only when s_1 = s_2 = s_3: 2 x 2 of the 16 swaps
    a = [{"iou": np.array([0.1, 0.2, 0.3, 0.8])}]
    b = [{"iou": np.array([0.9, 0.6, 0.5, 0.7])}]
    res = rs.paired_difference(rs.success_of("iou"), True, a, b, 1000)
    assert (res["a"], res["b"], res["diff"]) == (0.25, 1.0, 0.75)
    assert res["exact"] and res["p_value"] == 4 / 16
    assert 0.0 <= res["ci95_low"] <= res["diff"] <= res["ci95_high"] <= 1.0


def test_permutation_of_identical_runs_gives_p_one():
    a = [{"x": np.array([0.1, 0.4, 0.2])}]
    res = rs.paired_difference(rs.mean_of("x"), True, a, a, 100)
    assert res["diff"] == 0.0 and res["p_value"] == 1.0


def test_compare_two_runs_matches_their_metrics(runs, tmp_path, capsys):
    assert main(["report", str(runs["center"]), str(runs["full"]), "--compare", "--bootstrap", "200",
                 "--out", str(tmp_path / "cmp")]) == 0
    rows = {r["metric"]: r for r in csv.DictReader((tmp_path / "cmp" / "compare.csv").open())}
    ma = json.loads((runs["center"] / "metrics.json").read_text())
    mb = json.loads((runs["full"] / "metrics.json").read_text())
    assert set(rows) == {"ciou", "auc", "ap", "pia_silence_adap", "pia_noise_adap", "pia_offscreen_adap"}
    for key, r in rows.items():
        assert float(r["a"]) == pytest.approx(ma[key], abs=1e-9)
        assert float(r["b"]) == pytest.approx(mb[key], abs=1e-9)
        assert float(r["diff"]) == pytest.approx(mb[key] - ma[key], abs=1e-9)
        assert 0 < float(r["p_value"]) <= 1 and r["resamples"] == "200" and r["seed"] == "0"
    assert "B-A" in capsys.readouterr().out
    # the same numbers, rounded, in compare.md and compare.tex (docs/report.md)
    md = (tmp_path / "cmp" / "compare.md").read_text()
    tex = (tmp_path / "cmp" / "compare.tex").read_text()
    assert r"\label{tab:compare-synthetic-is3-vssleval}" in tex
    short = {m.key: m.short for m in get_protocol("vssleval").metrics}
    for key, r in rows.items():
        line = next(ln for ln in md.splitlines() if ln.startswith(f"| {short[key]} |"))
        assert f"| {float(r['a']):.3f} | {float(r['b']):.3f} | {float(r['diff']):+.3f} |" in line
        assert f"{float(r['diff']):+.3f}".replace("-", "$-$") in tex


def _refused(capsys, *argv: str) -> str:
    capsys.readouterr()
    rc = main(list(argv))
    err = capsys.readouterr().err
    assert rc == 2, err
    return err


def test_compare_refuses_different_datasets(runs, tmp_path, capsys):
    err = _refused(capsys, "report", str(runs["center"]), str(runs["random_vggss"]), "--compare",
                   "--out", str(tmp_path / "c"))
    assert re.search("same dataset.*synthetic-is3.*synthetic-vggss", err)
    assert not (tmp_path / "c").exists()


# -- breakdowns ---------------------------------------------------------------------------------
def test_breakdown_keys_match_the_per_sample_columns(runs):
    run = runs["random"]
    m = json.loads((run / "metrics.json").read_text())
    rows = [r for r in csv.DictReader((run / "per_sample.csv").open())]
    assert {"label", "size_bin", "heard"} <= set(rows[0])
    first = [r for r in rows if r["seed_index"] == "0"]
    assert sum(m[f"n_size_{b}"] for b in ("small", "medium", "large", "huge")) == N
    for b in ("small", "medium", "large", "huge"):
        mine = [r for r in rows if r["size_bin"] == b]
        assert len(mine) == m[f"n_size_{b}"] * SEEDS
        if mine:  # seed mean of the bin's success rate = success rate over its (seed, sample) rows
            assert m[f"ciou_size_{b}"] == pytest.approx(np.mean([float(r["iou_med"]) >= 0.5 for r in mine]))
    assert m["n_heard"] + m["n_unheard"] == N and m["n_heard"] > 0 and m["n_unheard"] > 0
    classes = list(csv.DictReader((run / "per_class.csv").open()))
    assert sum(int(c["n"]) for c in classes) == N
    assert {c["class"] for c in classes} == {r["label"] for r in first}
    report = (run / "report.md").read_text()
    for heading in ("## Breakdowns", "### By object size", "### Heard / unheard", "### By class",
                    "### Scene pairs (IS3)"):
        assert heading in report


# -- leaderboard --------------------------------------------------------------------------------
def _tex_rows(tex: str) -> list[list[str]]:
    body = tex[tex.index(r"\midrule"):tex.index(r"\bottomrule")]
    lines = [ln for ln in body.splitlines() if ln.endswith(r"\\") and not ln.startswith("\\midrule")]
    return [[c.strip() for c in re.split(r"(?<!\\)&", ln[:-2])] for ln in lines]


def _braces_balance(tex: str) -> bool:
    r"""Groups balance: a backslash escapes the next character (``\\``, ``\{``, ``\%``)."""
    depth, i = 0, 0
    while i < len(tex):
        c = tex[i]
        if c == "\\":
            i += 2
            continue
        if c == "%":  # a comment runs to the end of the line
            i = tex.find("\n", i) % (len(tex) + 1) if "\n" in tex[i:] else len(tex)
            continue
        depth += (c == "{") - (c == "}")
        if depth < 0:
            return False
        i += 1
    return depth == 0


def test_latex_leaderboard_structure(runs, tmp_path):
    out = tmp_path / "rep"
    names = ["center", "full", "random"]
    assert main(["report", *(str(runs[n]) for n in names), "--no-maps", "--out", str(out)]) == 0
    tex = (out / "leaderboard.tex").read_text()
    for env in set(re.findall(r"\\begin\{(\w+)\}", tex)):
        assert tex.count(rf"\begin{{{env}}}") == tex.count(rf"\end{{{env}}}"), env
    assert _braces_balance(tex)
    for rule in (r"\toprule", r"\midrule", r"\bottomrule"):
        assert rule in tex
    value = lambda cell: float(re.search(r"(-?\d+\.\d+)", cell).group(1))  # noqa: E731
    for table in tex.split(r"\begin{table")[1:]:  # the columns may be split over several tables
        rows = _tex_rows(table)
        assert sorted(r[0] for r in rows) == sorted(names)  # one row per run
        n_cols = len(rows[0])
        assert all(len(r) == n_cols for r in rows)
        header = [ln for ln in table.splitlines() if ln.startswith("Model &")][0][:-2].split(" & ")
        for j in range(1, n_cols):
            vals = [value(r[j]) for r in rows]
            best = min(vals) if tex_plain(header[j]).startswith("pIA") else max(vals)
            for r, v in zip(rows, vals):
                assert (r"\textbf{" in r[j]) == (round(v, 3) == round(best, 3)), (header[j], r[0])
    md = (out / "leaderboard.md").read_text()
    assert md.count("| center") == 1 and "(baseline)" in md
    lines = list(csv.DictReader(io.StringIO((out / "leaderboard.csv").read_text())))
    assert {r["model"] for r in lines} == set(names)
    m = json.loads((runs["full"] / "metrics.json").read_text())
    full = next(r for r in lines if r["model"] == "full")
    assert float(full["ciou"]) == m["ciou"] and float(full["ciou_ci95_high"]) == m["ciou_ci95_high"]


def test_unknown_format_is_refused(runs, tmp_path, capsys):
    err = _refused(capsys, "report", str(runs["center"]), "--no-maps", "--format", "md,docx",
                   "--out", str(tmp_path / "r"))
    assert "'docx'" in err and "--format" in err


def test_pdflatex_compiles_the_leaderboard_of_real_runs(runs, tmp_path):
    """The leaderboard of evaluated runs fits a two-column page (tests/report/test_paper_tables.py
    compiles the widest cases)."""
    out = tmp_path / "rep"
    assert main(["report", str(runs["center"]), str(runs["full"]), str(runs["random_vggss"]), "--allow-mixed",
                 "--no-maps", "--out", str(out)]) == 0
    overfull = compile_overfull(tmp_path, {"leaderboard": (out / "leaderboard.tex").read_text()})
    assert overfull == {"leaderboard": []}


# -- completeness -------------------------------------------------------------------------------
def test_partial_run_is_flagged_everywhere(runs, tmp_path, capsys):
    data = Path(json.loads((runs["center"] / "metrics.json").read_text())["run"]["data_root"])
    out = tmp_path / "limited"
    assert main(["evaluate", "--model", "center", "--dataset", "synthetic-is3", "--data-dir", str(data),
                 "--seeds", "1", "--limit", "5", "--bootstrap", "0", "--out", str(out)]) == 0
    line = f"partial: 5 of {N} records; --limit"
    assert line.capitalize() in capsys.readouterr().out
    m = json.loads((out / "metrics.json").read_text())
    assert (m["n_expected"], m["n_evaluated"], m["n_skipped"], m["limited"]) == (N, 5, 0, True)
    assert line.capitalize() in (out / "report.md").read_text().split("## ")[0]
    assert "no bootstrap intervals: --bootstrap 0" in (out / "report.md").read_text()
    full = json.loads((runs["full"] / "metrics.json").read_text())
    assert (full["n_expected"], full["n_evaluated"], full["limited"]) == (N, N, False)
    rep = tmp_path / "rep"
    assert main(["report", str(out), str(runs["full"]), "--no-maps", "--out", str(rep)]) == 0
    assert "(marked † in the leaderboard)" in (rep / "report.md").read_text()
    md = (rep / "leaderboard.md").read_text()
    assert "| center †" in md and f"† center on synthetic-is3: {line}" in md
    assert r"center$^\dagger$" in (rep / "leaderboard.tex").read_text()
