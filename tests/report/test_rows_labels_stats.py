"""Issue 19, reports: a table row is a run (labels), names never break a table, and statistics
that cannot mislead (no interval from too few resamples; an interval contains its estimate).

Runs are the session's baselines (tests/report/conftest.py), cloned into folders whose
``metrics.json`` says what a user's runs would (another checkpoint, another model name, an older
vssleval's bootstrap); reports use ``--no-maps`` so no heatmap store is read.
"""

from __future__ import annotations

import csv
import itertools
import json
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

from tex_cells import tex_plain
from vssleval.cli import main
from vssleval.metrics import resampling as rs
from vssleval.report.runs import RunRecord
from vssleval.shown_paths import in_folder

#: The fewest resamples behind a reported 95 % interval (docs/metrics.md §11.1).
MIN = 200


def clone(src: Path, dst: Path, **run: object) -> Path:
    """A copy of a finished run (without its store) whose ``run`` block is changed by ``run``."""
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns("store"))
    m = json.loads((dst / "metrics.json").read_text())
    m["run"].update(run)
    (dst / "metrics.json").write_text(json.dumps(m))
    return dst


def edit_metrics(run: Path, **keys: object) -> None:
    m = json.loads((run / "metrics.json").read_text())
    m.update(keys)
    (run / "metrics.json").write_text(json.dumps(m))


def report(out: Path, *runs: Path, extra: tuple[str, ...] = ()) -> Path:
    assert main(["report", *map(str, runs), "--no-maps", "--out", str(out), *extra]) == 0
    return out


def csv_rows(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as fh:  # newline="": a quoted \r stays a \r
        return list(csv.DictReader(fh))


def md_tables(md: str) -> list[list[str]]:
    """Every Markdown table of ``md`` as its lines (a table: consecutive lines starting with '|')."""
    out: list[list[str]] = []
    block: list[str] = []
    for line in md.splitlines() + [""]:
        if line.startswith("|"):
            block.append(line)
        elif block:
            out.append(block)
            block = []
    return out


def cells(line: str) -> int:
    """Cells of a Markdown table line (a ``|`` escaped by a backslash separates nothing)."""
    return len(re.findall(r"(?<!\\)\|", line)) - 1


def assert_tables_intact(md: str) -> None:
    for table in md_tables(md):
        assert all(line.endswith("|") for line in table), table
        assert len({cells(line) for line in table}) == 1, table


def md_rows(md: str, heading: str) -> list[list[str]]:
    """The body rows (cells) of the first table after ``heading``."""
    tail = md[md.index(heading):]
    table = md_tables(tail)[0]
    return [[c.strip() for c in re.split(r"(?<!\\)\|", line)[1:-1]] for line in table[2:]]


def tex_rows(tex: str) -> list[str]:
    """The body lines of the first table of ``tex``."""
    body = tex[tex.index(r"\midrule"):tex.index(r"\bottomrule")]
    return [ln for ln in body.splitlines() if ln.endswith(r"\\") and not ln.startswith("\\midrule")]


# -- S3: a table row is a run --------------------------------------------------------------------
def test_runs_of_one_model_keep_a_row_each_in_every_table_whatever_the_order(runs, tmp_path):
    """Four runs of `center` (two checkpoints, a plain copy, the original): four rows in every
    table, each with the same label in both argument orders (issue 19, S3)."""
    a = clone(runs["center"], tmp_path / "runs" / "ckpt-a", checkpoint="/w/a/best.pth", checkpoint_sha256="a" * 64)
    b = clone(runs["center"], tmp_path / "runs" / "ckpt-b", checkpoint="/w/b/last.pth", checkpoint_sha256="b" * 64)
    c = clone(runs["center"], tmp_path / "runs" / "copy")
    given = [a, b, c, runs["center"]]
    want = {str(a): "center (checkpoint best.pth)", str(b): "center (checkpoint last.pth)",
            str(c): "center (no checkpoint, copy)", str(runs["center"]): "center (no checkpoint, center)"}
    for k, order in enumerate((given, given[::-1])):
        out = report(tmp_path / f"rep{k}", *order)
        board = csv_rows(out / "leaderboard.csv")
        assert len(board) == len({r["model"] for r in board}) == 4  # ccd7d87 kept one row of the four
        # run_dir relative to the report folder (docs/report.md, "Paths in the outputs")
        assert {str((out / r["run_dir"]).resolve()): r["model"] for r in board} == \
            {str(Path(k).resolve()): v for k, v in want.items()}
        assert [r["run_dir"] for r in board] == [in_folder(p, out) for p in order]  # rows follow the arguments
        md = (out / "leaderboard.md").read_text()
        assert [r[0] for r in md_rows(md, "## synthetic-is3")] == [f"{want[str(p)]} (baseline)" for p in order]
        assert [tex_plain(r.split(" & ")[0]) for r in tex_rows((out / "leaderboard.tex").read_text())] == [
            want[str(p)] for p in order]
        rep = (out / "report.md").read_text()
        assert [r[0] for r in md_rows(rep, "### Localization under positive audio")] == [want[str(p)] for p in order]
        assert {r["run"] for r in csv_rows(out / "summary.csv")} == set(want.values())


def test_compare_names_two_runs_of_one_model_apart(runs, tmp_path, capsys):
    a = clone(runs["center"], tmp_path / "one" / "run")
    b = clone(runs["center"], tmp_path / "two" / "run")
    capsys.readouterr()
    assert main(["report", str(a), str(b), "--compare", "--bootstrap", "200", "--out", str(tmp_path / "cmp")]) == 0
    out = capsys.readouterr().out
    assert "A = center (one/run)" in out and "B = center (two/run)" in out
    rows = csv_rows(tmp_path / "cmp" / "compare.csv")
    assert {(r["label_a"], r["label_b"]) for r in rows} == {("center (one/run)", "center (two/run)")}


@pytest.mark.parametrize("spelling", ["same", "dot", "symlink"])
def test_a_run_given_twice_is_refused(runs, tmp_path, capsys, spelling):
    other = {"same": runs["center"], "dot": runs["center"] / ".", "symlink": tmp_path / "link"}[spelling]
    if spelling == "symlink":
        other.symlink_to(runs["center"], target_is_directory=True)
    for extra in ((), ("--compare",)):
        capsys.readouterr()
        rc = main(["report", str(runs["center"]), str(other), "--no-maps", "--out", str(tmp_path / "rep"), *extra])
        err = capsys.readouterr().err
        assert rc == 2 and "given twice" in err and "Traceback" not in err
        assert not (tmp_path / "rep").exists()


def test_labels_do_not_depend_on_the_order_and_never_collide():
    """Random sets of runs: every order gives each run the same label, and no two runs share a
    label (with the leaderboard's dataset column: no two share a label and a dataset)."""
    from vssleval.report.labels import run_labels

    rng = np.random.default_rng(19)
    folders = [f"{p}/{n}" for p in ("p", "q") for n in ("r1", "r2", "center")]
    for _ in range(150):
        k = int(rng.integers(2, 6))
        paths = list(rng.choice(folders, size=k, replace=False))
        models = [str(rng.choice(["m", "n", "m (preset x)"])) for _ in range(k)]
        blocks = [{"dataset": str(rng.choice(["d1", "d2"])), "preset": str(rng.choice(["x", "y"])),
                   "protocol": "vssleval", "checkpoint": rng.choice([None, "/a/w.pt", "/b/w.pt", "/c/v.pt"])}
                  for _ in range(k)]
        for shown in ((), ("dataset",)):
            first = dict(zip(paths, run_labels(models, blocks, paths, shown)))
            keys = [(first[p], *(b[s] for s in shown)) for p, b in zip(paths, blocks)]
            assert len(set(keys)) == k, (models, blocks, paths, first)
            for perm in itertools.islice(itertools.permutations(range(k)), 6):
                labels = run_labels([models[i] for i in perm], [blocks[i] for i in perm], [paths[i] for i in perm],
                                    shown)
                assert dict(zip([paths[i] for i in perm], labels)) == first


def test_label_file_names_are_short_and_distinct():
    """Overlay files are named after the label: a 300-character name must not exceed the file
    system's name limit, and labels differing only in unsafe characters must not share a file."""
    def slug(label: str) -> str:
        return RunRecord(Path("."), {"run": {}}, {}, label=label).slug

    assert len(slug("m" * 300) + ".png") < 100
    assert slug("a b") != slug("a_b") and slug("a/b") != slug("a_b")
    assert slug("center") == "center"
    assert not slug("..").startswith(".")


# -- names that would break a table --------------------------------------------------------------
EVIL = "evil|na\nme *x* _u_ `c` [l](u) <b> \\ & % # { } ~ ^ $\\bad{$ \u202e\u0007"


def test_hostile_model_names_keep_every_table_intact(runs, tmp_path):
    """A model name with a newline, Markdown / LaTeX / mathtext specials and invisible characters:
    every Markdown table keeps its shape, the .tex its groups, the CSVs give the name back, and
    the figures are drawn."""
    evil = clone(runs["center"], tmp_path / "evil", model_name=EVIL)
    out = report(tmp_path / "rep", evil, runs["full"])
    for name in ("report.md", "leaderboard.md"):
        md = (out / name).read_text()
        assert_tables_intact(md)
        assert "evil\\|na\\\\nme \\*x\\* \\_u\\_ \\`c\\` \\[l\\](u) \\<b>" in md
        assert "\u202e" not in md and "\\\\u202e" in md
    tex = (out / "leaderboard.tex").read_text()
    rows = tex_rows(tex)
    assert len(rows) == 2 and r"\$\textbackslash{}bad\{\$" in rows[0]
    depth = 0
    for token in re.findall(r"\\.|[{}]", tex):
        depth += {"{": 1, "}": -1}.get(token, 0)
        assert depth >= 0
    assert depth == 0
    assert {r["model_name"] for r in csv_rows(out / "leaderboard.csv")} == {EVIL, "full"}
    assert {r["model"] for r in csv_rows(out / "summary.csv")} == {EVIL, "full"}
    assert (out / "maxima.png").stat().st_size > 1000 and (out / "roc.pdf").stat().st_size > 1000


def test_class_names_with_line_breaks_keep_one_row_per_class(runs, tmp_path):
    """The per-class table of a run's report.md and per_class.csv (issue 19: a class name with a
    newline split a row)."""
    src = Path(json.loads((runs["center"] / "metrics.json").read_text())["run"]["data_root"])
    data = tmp_path / "data"
    shutil.copytree(src, data)
    ann = json.loads((data / "IS3_annotation.json").read_text())
    names = sorted({r["class"] for r in ann})
    weird = {names[0]: "dr\nop | x\\y*", names[1]: 'bu\rzz,"q" $x$'}
    for r in ann:
        r["class"] = weird.get(r["class"], r["class"])
    (data / "IS3_annotation.json").write_text(json.dumps(ann))
    out = tmp_path / "run"
    assert main(["evaluate", "--model", "center", "--dataset", "synthetic-is3", "--data-dir", str(data),
                 "--seeds", "1", "--bootstrap", "0", "--neg", "silence", "--out", str(out)]) == 0
    md = (out / "report.md").read_text()
    assert_tables_intact(md)
    shown = [r[0] for r in md_rows(md, "### By class")]
    assert "dr\\\\nop \\| x\\\\y\\*" in shown and 'bu\\\\rzz,"q" $x$' in shown
    assert len(shown) == len(names)
    assert {r["class"] for r in csv_rows(out / "per_class.csv")} == {weird.get(n, n) for n in names}
    labels = {r["label"] for r in csv_rows(out / "per_sample.csv")}
    assert set(weird.values()) <= labels
    report(tmp_path / "rep", out)  # the run is read back (per_sample.csv's quoted line breaks)


# -- statistics that cannot mislead --------------------------------------------------------------
def _distinct_share(d: dict[str, np.ndarray]) -> float:
    """A statistic whose bootstrap draws all lie below its value: the share of distinct values."""
    return len(np.unique(d["x"])) / len(d["x"])


STATS = {"mean": (rs.mean_of("x"), True), "success": (rs.success_of("x"), True), "auc": (rs.auc_of("x"), True),
         "median": (rs.median_of("x"), False), "distinct": (rs.looped(_distinct_share, ["x"]), True)}


def test_intervals_contain_their_estimate_and_need_enough_resamples():
    """Many random cases: below MIN resamples no interval; at or above it, low <= estimate <= high,
    for the bootstrap of one run and the paired difference of two; the permutation p-value stays in
    [1 / (1 + P), 1] however few permutations."""
    rng = np.random.default_rng(6)
    for case in range(60):
        n = int(rng.integers(1, 20))
        n_boot = int(rng.choice([1, 2, 5, 40, MIN - 1, MIN, 260]))
        seeds = [{"x": rng.random(n).round(int(rng.integers(1, 3)))} for _ in range(int(rng.integers(1, 3)))]
        other = [{"x": rng.random(n).round(1)} for _ in seeds]
        ci = rs.bootstrap_intervals(STATS, seeds, n_boot, seed=case)
        for key, (stat, free) in STATS.items():
            used = seeds[:1] if free else seeds
            est = float(np.mean([stat(s, np.arange(n)[None, :])[0] for s in used]))
            lo, hi = ci[key]
            if n_boot < MIN:
                assert np.isnan(lo) and np.isnan(hi), (case, key)
            else:
                assert lo <= est <= hi, (case, key, lo, est, hi)
            res = rs.paired_difference(stat, free, seeds, other, n_boot, seed=case)
            if n_boot < MIN:
                assert np.isnan(res["ci95_low"]) and np.isnan(res["ci95_high"])
            else:
                assert res["ci95_low"] <= res["diff"] <= res["ci95_high"], (case, key, res)
            floor = 1 / 2 ** n if res["exact"] else 1 / (1 + n_boot)
            assert floor <= res["p_value"] <= 1, (case, key, res)
    assert rs.too_few_resamples(MIN) is None and rs.MIN_RESAMPLES == MIN


def test_compare_with_one_resample_prints_no_interval_and_says_why(runs, tmp_path, capsys):
    """`report --compare --bootstrap 1` printed "+0.227 [+0.248, +0.248]" (issue 19)."""
    capsys.readouterr()
    assert main(["report", str(runs["center"]), str(runs["full"]), "--compare", "--bootstrap", "1",
                 "--out", str(tmp_path / "cmp")]) == 0
    out = capsys.readouterr().out
    metric_lines = [ln for ln in out.splitlines() if "B-A" in ln]
    assert metric_lines and all("[n/a]" in ln for ln in metric_lines)
    assert not re.search(r"\[[+-]\d", out)
    why = [ln for ln in out.splitlines() if "interval n/a" in ln]
    assert len(why) == 1 and "fewer than the 200" in why[0] and "none can be below 0.5" in why[0]
    for r in csv_rows(tmp_path / "cmp" / "compare.csv"):
        assert r["ci95_low"] == r["ci95_high"] == "" and "fewer than the 200" in r["interval_note"]
        assert 0.5 <= float(r["p_value"]) <= 1


def test_evaluate_below_the_minimum_records_why_and_above_it_contains_the_values(runs, tmp_path, capsys):
    data = json.loads((runs["center"] / "metrics.json").read_text())["run"]["data_root"]
    base = ["evaluate", "--model", "random", "--dataset", "synthetic-is3", "--data-dir", data, "--seeds", "2",
            "--limit", "6"]
    capsys.readouterr()
    assert main([*base, "--bootstrap", "5", "--out", str(tmp_path / "few")]) == 0
    assert "intervals n/a: 5 resamples (--bootstrap 5) are fewer than the 200" in capsys.readouterr().out
    m = json.loads((tmp_path / "few" / "metrics.json").read_text())
    assert not [k for k in m if "_ci95_" in k]
    assert m["bootstrap"]["resamples"] == 5 and "fewer than the 200" in m["bootstrap"]["no_intervals"]
    assert "intervals n/a: 5 resamples" in (tmp_path / "few" / "report.md").read_text()
    assert main([*base, "--bootstrap", "200", "--out", str(tmp_path / "enough")]) == 0
    m = json.loads((tmp_path / "enough" / "metrics.json").read_text())
    keys = [k[:-len("_ci95_low")] for k in m if k.endswith("_ci95_low")]
    assert len(keys) > 8 and "no_intervals" not in m["bootstrap"]
    for k in keys:
        if np.isfinite(m[k]):
            assert m[f"{k}_ci95_low"] <= m[k] <= m[f"{k}_ci95_high"], k


def test_an_older_run_with_too_few_resamples_shows_no_interval(runs, tmp_path):
    """A run written before the minimum (1 resample, an interval that misses its value) is reported
    with its values alone and a note saying why; its CSV rows leave the bounds empty."""
    old = clone(runs["center"], tmp_path / "old")
    m = json.loads((old / "metrics.json").read_text())
    edit_metrics(old, bootstrap={**m["bootstrap"], "resamples": 1}, ciou_ci95_low=m["ciou"] + 0.2,
                 ciou_ci95_high=m["ciou"] + 0.2)
    out = report(tmp_path / "rep", old, runs["full"])
    rep = (out / "report.md").read_text()
    row = md_rows(rep, "### Localization under positive audio")[0]
    assert row[0] == "center" and "[" not in row[1]
    assert "No intervals for center (1 resample (--bootstrap 1) is fewer than the 200" in rep
    lines = {r["model"]: r for r in csv_rows(out / "leaderboard.csv")}
    assert lines["center"]["ciou_ci95_low"] == "" and lines["full"]["ciou_ci95_low"] != ""
    assert "No intervals for center on synthetic-is3" in (out / "leaderboard.md").read_text()


# -- other hostile input -------------------------------------------------------------------------
@pytest.mark.parametrize("value", ["", " , "])
def test_a_format_list_naming_nothing_is_refused(runs, tmp_path, capsys, value):
    capsys.readouterr()
    rc = main(["report", str(runs["center"]), "--no-maps", "--format", value, "--out", str(tmp_path / "rep")])
    err = capsys.readouterr().err
    assert rc == 2 and "--format none alone" in err and "Traceback" not in err
    assert not (tmp_path / "rep").exists()


def test_compare_of_runs_without_samples_is_refused(runs, tmp_path, capsys):
    empty = []
    for name in ("e1", "e2"):
        run = clone(runs["center"], tmp_path / name)
        header = (run / "per_sample.csv").read_text().splitlines()[0]
        (run / "per_sample.csv").write_text(header + "\n")
        edit_metrics(run, n_samples=0)
        empty.append(run)
    capsys.readouterr()
    rc = main(["report", *map(str, empty), "--compare", "--out", str(tmp_path / "cmp")])
    err = capsys.readouterr().err
    assert rc == 2 and "needs samples" in err and "Traceback" not in err


def test_api_run_lists_hold_paths(runs, tmp_path):
    import vssleval
    from vssleval.errors import VsslevalError

    with pytest.raises(VsslevalError, match="a run folder is a path, not int"):
        vssleval.report([runs["center"], 3], out=tmp_path / "rep", maps=False, verbose=False)
    with pytest.raises(VsslevalError, match="given twice"):
        vssleval.compare(runs["center"], str(runs["center"]) + "/", tmp_path / "cmp", verbose=False)
    assert not (tmp_path / "rep").exists() and not (tmp_path / "cmp").exists()
