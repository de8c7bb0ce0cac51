"""Issue 24 item 2: ``vssleval score`` reads the maps file that ``export`` writes (docs/maps-format.md).

One real run of the embedded model (6 synthetic IS3 samples, 2 seeds, all negatives) is exported and
scored back, through the CLI as a user would: every number of its ``metrics.json`` and every row of
its ``per_sample.csv`` come back exactly. A file written with NumPy alone (the docs' recipe) is
scored too, and bad files are refused in one line naming the file and the first offending id.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from vssleval.cli import main
from vssleval.data import gt_map, load_dataset
from vssleval.fingerprint import file_sha256

N, SEEDS, BOOT = 6, 2, 200
#: metrics.json keys that say how and from what a run was made, not what it measured
PROVENANCE = ("run", "fingerprint", "notes", "timing", "command")


@pytest.fixture(scope="module")
def made(tmp_path_factory, synthetic_set) -> dict[str, Path]:
    """The run, its export, and the export scored back."""
    root = tmp_path_factory.mktemp("score")
    data = synthetic_set("is3", N)
    run, maps, scored = root / "run", root / "run-maps.npz", root / "scored"
    assert main(["evaluate", "--model", "synth-ezvsl", "--dataset", "synthetic-is3", "--data-dir", str(data),
                 "--seeds", str(SEEDS), "--bootstrap", str(BOOT), "--out", str(run)]) == 0
    assert main(["export", str(run), str(maps)]) == 0
    assert main(["score", str(maps), "--dataset", "synthetic-is3", "--data-dir", str(data), "--out", str(scored),
                 "--bootstrap", str(BOOT)]) == 0
    return {"data": data, "run": run, "maps": maps, "scored": scored, "root": root}


def _metrics(run: Path) -> dict:
    return json.loads((run / "metrics.json").read_text(encoding="utf-8"))


def test_export_then_score_gives_the_runs_own_metrics(made):
    before, after = _metrics(made["run"]), _metrics(made["scored"])
    assert after["ciou"] == before["ciou"] and after["pia_silence_med"] == before["pia_silence_med"]
    measured = sorted(set(before) - set(PROVENANCE))
    assert sorted(set(after) - set(PROVENANCE)) == measured
    assert {k: after[k] for k in measured} == {k: before[k] for k in measured}
    assert (made["scored"] / "per_sample.csv").read_bytes() == (made["run"] / "per_sample.csv").read_bytes()
    # the same data (what report and compare check), and the file it came from
    assert after["fingerprint"]["data"] == before["fingerprint"]["data"]
    source = after["run"]["maps_file"]
    assert source["file"] == "run-maps.npz" and source["sha256"] == file_sha256(made["maps"])
    assert source["format_version"] == 1 and source["producer"]["name"] == "synth-ezvsl"
    assert {k: v for k, v in after["run"].items() if k != "maps_file"} == before["run"]


def test_the_scored_run_is_a_run_compare_and_export_read(made, tmp_path):
    assert main(["compare", str(made["run"]), str(made["scored"]), "--out", str(tmp_path / "cmp"),
                 "--bootstrap", "0"]) == 0
    rows = (tmp_path / "cmp" / "compare.csv").read_text(encoding="utf-8").splitlines()
    assert len(rows) > 5 and "not comparable" not in "".join(rows)
    again = tmp_path / "again.npz"
    assert main(["export", str(made["scored"]), str(again)]) == 0
    with np.load(made["maps"]) as a, np.load(again) as b:
        for member in ("ids", "positive", "silence", "noise", "offscreen", "offscreen_ids", "seeds"):
            assert np.array_equal(a[member], b[member]), member
        assert str(b["format"]) == "vssleval-maps" and int(b["format_version"]) == 1


def _oracle(data: Path, path: Path, order=slice(None), **members) -> Path:
    """A maps file written with NumPy alone: the ground truth itself as the positive map (224 x 224,
    ``upsample: none``), weaker copies of it as the negatives."""
    samples = load_dataset("synthetic-is3", data, check_files=False).samples
    positive = np.stack([gt_map(s) for s in samples]).astype(np.float32)[order]
    arrays = dict(format="vssleval-maps", format_version=1, producer=json.dumps({"name": "oracle", "version": "1"}),
                  dataset="synthetic-is3", scale="raw", upsample="none",
                  ids=np.array([s.id for s in samples])[order], positive=positive, silence=0.5 * positive,
                  noise=np.stack([0.25 * positive, 0.75 * positive]), seeds=np.array([3, 4]))
    np.savez(path, **{**arrays, **members})
    return path


def test_a_file_written_with_numpy_is_scored(made, tmp_path):
    shuffled = _oracle(made["data"], tmp_path / "oracle.npz", order=[3, 0, 5, 1, 4, 2])
    assert main(["score", str(shuffled), "--data-dir", str(made["data"]), "--out", str(tmp_path / "a"),
                 "--bootstrap", "0"]) == 0
    m = _metrics(tmp_path / "a")
    # a map equal to the ground truth: every box found, and its maxima apart from the weaker negatives'
    assert m["ciou"] == 1.0 and m["auc"] == 1.0 and m["auroc_max_neg"] == 1.0
    assert m["max_positive_median"] == 1.0 and m["max_silence_median"] == 0.5
    assert m["run"]["model_name"] == "oracle" and m["run"]["preset"] == "external" and m["run"]["seeds"] == [3, 4]
    assert m["run"]["negatives"] == ["silence", "noise"] and m["n_samples"] == N
    # the file's order does not matter: the store holds the dataset's
    ordered = _oracle(made["data"], tmp_path / "ordered.npz")
    assert main(["score", str(ordered), "--data-dir", str(made["data"]), "--out", str(tmp_path / "b"),
                 "--bootstrap", "0"]) == 0
    assert (tmp_path / "a" / "per_sample.csv").read_bytes() == (tmp_path / "b" / "per_sample.csv").read_bytes()


def test_a_file_of_some_samples_is_a_partial_run(made, tmp_path):
    part = _oracle(made["data"], tmp_path / "part.npz", order=slice(1, 4))
    assert main(["score", str(part), "--data-dir", str(made["data"]), "--out", str(tmp_path / "p"),
                 "--bootstrap", "0"]) == 0
    m = _metrics(tmp_path / "p")
    assert (m["n_evaluated"], m["n_expected"]) == (3, N)
    assert "Partial: 3 of 6 records" in (tmp_path / "p" / "report.md").read_text(encoding="utf-8")


def _bad(data: Path, path: Path, case: str) -> Path:
    ids = np.array([s.id for s in load_dataset("synthetic-is3", data, check_files=False).samples])
    if case == "not an npz":
        path.write_text("positive,silence\n1,2\n", encoding="utf-8")
        return path
    if case == "missing id":
        ids = ids.copy()
        ids[2] = "no_such_clip"
        return _oracle(data, path, ids=ids)
    positive = np.zeros((N, 224, 224), dtype=np.float32)
    if case == "NaN":
        noise = np.zeros((2, N, 224, 224), dtype=np.float32)
        noise[1, 4, 0, 0] = np.nan
        return _oracle(data, path, noise=noise)
    return _oracle(data, path, **{"wrong shape": {"silence": positive[:, :7]},
                                  "wrong version": {"format_version": 2},
                                  "twice": {"ids": np.concatenate([ids[:3], ids[:3]])},
                                  "unknown member": {"postive": positive},
                                  "normalised": {"scale": "minmax"},
                                  "seeds": {"seeds": np.array([3])}}[case])


@pytest.mark.parametrize("case, says", [
    ("not an npz", "not a NumPy .npz archive"),
    ("missing id", "sample 'no_such_clip' is not in dataset synthetic-is3"),
    ("wrong shape", "'silence' is float32 [6, 7, 224]; expected float [N = 6, 224, 224]"),
    ("NaN", "the noise map of sample '{id4}' (seed 4) holds NaN or inf (1 noise maps in all)"),
    ("wrong version", "format_version 2; this vssleval reads vssleval-maps version 1 only"),
    ("twice", "sample '{id0}' appears twice in 'ids'"),
    ("unknown member", "unknown member 'postive'"),
    ("normalised", "'scale' is 'minmax'"),
    ("seeds", "'seeds' is int64 [3]; expected 2 distinct integers [S]"),
])
def test_a_bad_file_is_refused_in_one_line(made, tmp_path, capsys, case, says):
    ids = [s.id for s in load_dataset("synthetic-is3", made["data"], check_files=False).samples]
    path = _bad(made["data"], tmp_path / "bad.npz", case)
    out = tmp_path / "out"
    assert main(["score", str(path), "--data-dir", str(made["data"]), "--out", str(out)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith(f"vssleval: error: {path}")
    assert says.format(id0=ids[0], id4=ids[4]) in err and "docs/maps-format.md" in err
    assert not out.exists()  # refused before anything is written


def test_another_dataset_is_refused(made, tmp_path, capsys):
    assert main(["score", str(made["maps"]), "--dataset", "synthetic-vggss", "--out", str(tmp_path / "o")]) == 2
    assert "holds maps of dataset 'synthetic-is3', not of --dataset synthetic-vggss" in capsys.readouterr().err
    assert not (tmp_path / "o").exists()


def test_an_export_written_before_the_format_had_a_version_is_read(made, tmp_path):
    legacy = tmp_path / "legacy.npz"
    with np.load(made["maps"]) as z:  # what export wrote before: no header members
        np.savez(legacy, **{k: z[k] for k in z.files if k not in ("format", "format_version", "producer", "dataset",
                                                                   "scale")})
    assert main(["score", str(legacy), "--data-dir", str(made["data"]), "--out", str(tmp_path / "l"),
                 "--bootstrap", str(BOOT)]) == 0
    before, after = _metrics(made["run"]), _metrics(tmp_path / "l")
    assert after["ciou"] == before["ciou"] and after["auroc_max_neg"] == before["auroc_max_neg"]
    assert after["run"]["maps_file"]["producer"]["name"] == "synth-ezvsl"


def test_the_api_checks_its_arguments_first(made, tmp_path):
    import vssleval

    with pytest.raises(vssleval.VsslevalError, match="--overwrite is a switch"):
        vssleval.score(made["maps"], tmp_path / "o", overwrite="no")
    with pytest.raises(vssleval.VsslevalError, match="did you mean 'data_dir'"):
        vssleval.score(made["maps"], tmp_path / "o", datadir=made["data"])
    assert not (tmp_path / "o").exists()
