"""A protocol is one object: the registry, the absence of name branches outside the protocols, and
a toy protocol defined here and scored through the public path (``vssleval.evaluate`` /
``vssleval.rescore``) with no change anywhere else."""

from __future__ import annotations

import ast
import json
import re

import numpy as np
import pytest

import vssleval
from shared import ROOT
from vssleval.engine.store import HeatmapStore, unpack_gt
from vssleval.metrics import PROTOCOLS
from vssleval.metrics.catalog import Metric
from vssleval.metrics.protocols import Protocol, SeedRecords, Setup

PACKAGE = ROOT / "vssleval"


def test_registry_holds_the_two_protocols_in_order():
    assert list(PROTOCOLS) == ["vssleval", "juanola2025", "native"]
    assert all(isinstance(p, Protocol) and p.name == name for name, p in PROTOCOLS.items())
    from vssleval.engine import spec

    assert spec.PROTOCOLS is PROTOCOLS  # defined once
    assert PROTOCOLS["juanola2025"].needs_ogl and not PROTOCOLS["vssleval"].needs_ogl
    assert PROTOCOLS["juanola2025"].negatives_required == ("silence", "noise", "offscreen")


def test_no_protocol_name_branches_outside_the_protocols():
    branch = re.compile(r"protocol\s*[!=]=|[!=]=\s*['\"](vssleval|juanola2025)['\"]")
    found = []
    for path in PACKAGE.rglob("*.py"):
        if (PACKAGE / "metrics" / "protocols") in path.parents:
            continue
        for no, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
            if branch.search(line):
                found.append(f"{path.relative_to(ROOT)}:{no}: {line.strip()}")
    assert found == []


def test_metrics_imports_nothing_else_of_vssleval():
    """Only the leaves ``vssleval.vocabulary`` (the names of variants and presets), which itself
    imports nothing at all, ``vssleval.errors`` (a refusal is a ``VsslevalError``) and
    ``vssleval.timing`` (the run's phase seconds), which import nothing of vssleval (ARCHITECTURE:
    metrics may import the leaf modules)."""
    leaves = ("vocabulary", "errors", "timing")
    vocabulary = ast.parse((PACKAGE / "vocabulary.py").read_text(encoding="utf-8"))
    assert not [n for n in ast.walk(vocabulary) if isinstance(n, (ast.Import, ast.ImportFrom))]
    for leaf in ("errors", "timing"):
        tree = ast.parse((PACKAGE / f"{leaf}.py").read_text(encoding="utf-8"))
        assert not [n for n in ast.walk(tree) if (isinstance(n, ast.ImportFrom) and (n.level or (n.module or "")
                    .split(".")[0] == "vssleval")) or (isinstance(n, ast.Import) and any(
                        a.name.split(".")[0] == "vssleval" for a in n.names))], leaf
    bad = []
    for path in (PACKAGE / "metrics").rglob("*.py"):
        depth = len(path.relative_to(PACKAGE / "metrics").parts) - 1  # 0 for metrics/x.py
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                bad += [f"{path.name}: import {a.name}" for a in node.names if a.name.split(".")[0] == "vssleval"]
            elif isinstance(node, ast.ImportFrom):
                module = node.module or ""
                absolute = (node.level == 0 and module.split(".")[0] == "vssleval"
                            and module not in {f"vssleval.{leaf}" for leaf in leaves})
                # a relative import above vssleval/metrics (other than a leaf module)
                escapes = node.level > depth + 1 and not (node.level == depth + 2 and module in leaves)
                if absolute or escapes:
                    bad.append(f"{path.relative_to(PACKAGE)}: from {'.' * node.level}{node.module or ''}")
    assert bad == []


class PeakInBox(Protocol):
    """Toy protocol: does the positive map's peak pixel fall on the object? Needs silence maps."""

    name = "toy-peak"
    summary = "toy-peak (test only)"
    negatives_required = ("silence",)
    metrics = (Metric("peak_hit", "peak on the object", "peak hit", True, "Toy"),
               Metric("silence_max", "mean silence max", "silence max", None, "Toy"))
    report_note = "Toy protocol of the tests.\n"

    def model_settings(self, model_config, model_name, preset_map):
        return {"side": int(model_config["model"]["size"]), "model": model_name, "map": dict(preset_map)}

    def sample_records(self, maps, gt, ogl, setup: Setup):
        pos = np.asarray(maps["positive"], dtype=np.float64)
        b, h, w = pos.shape
        rows, cols = np.divmod(pos.reshape(b, -1).argmax(1), w)
        r224, c224 = ((rows + 0.5) * 224 / h).astype(int), ((cols + 0.5) * 224 / w).astype(int)
        hit = np.asarray(gt)[np.arange(b), r224, c224] > 0
        return {"peak_hit": hit.astype(np.float64),
                "silence_max": np.asarray(maps["silence"], np.float64).reshape(b, -1).max(1)}

    def aggregate(self, seeds, setup, bootstrap):
        assert all(isinstance(s, SeedRecords) for s in seeds)
        return {"peak_hit": float(np.mean([s.records["peak_hit"] for s in seeds])),
                "silence_max": float(np.mean([s.records["silence_max"] for s in seeds])),
                "side": setup.settings["side"], "map_normalize": setup.settings["map"]["normalize"]}

    def extra_files(self, seeds, setup, model_name, testset):
        n = sum(len(s.ids) for s in seeds)
        return {"toy/summary.txt": f"{setup.settings['model']} on {testset}: {n} rows\n"}


@pytest.fixture
def toy(monkeypatch):
    protocol = PeakInBox()
    monkeypatch.setitem(PROTOCOLS, protocol.name, protocol)  # registered for this test only
    return protocol


def _expected(store: HeatmapStore, n_seeds: int) -> dict[str, float]:
    """The toy's numbers computed straight from the store's arrays."""
    hits, smax = [], []
    for shard in store.iter_shards():
        gt = unpack_gt(shard["gt"])
        for i, m in enumerate(shard["positive"]):
            r, c = np.unravel_index(int(np.argmax(m)), m.shape)
            hits.append(gt[i, int((r + 0.5) * 224 / m.shape[0]), int((c + 0.5) * 224 / m.shape[1])] > 0)
            smax.append(float(np.max(shard["silence"][i])))
    return {"peak_hit": float(np.mean(hits)), "silence_max": float(np.mean(smax)), "rows": len(hits) * n_seeds}


def test_a_toy_protocol_defined_in_a_test_scores_through_the_public_path(toy, tmp_path):
    # refused before any map when a negative it scores is missing
    with pytest.raises(vssleval.VsslevalError, match="--protocol toy-peak scores silence; this run lacks silence"):
        vssleval.evaluate("random", "synthetic-vggss", neg="noise", seeds=1, limit=4, protocol="toy-peak",
                          out=tmp_path / "refused", verbose=False)
    res = vssleval.evaluate("random", "synthetic-vggss", neg="silence", seeds=2, limit=6, protocol="toy-peak",
                            bootstrap=0, out=tmp_path / "run", verbose=False)
    store = HeatmapStore.open(tmp_path / "run")
    want = _expected(store, 2)
    assert 0 < want["peak_hit"] < 1  # the case tells hits from misses
    metrics = json.loads((tmp_path / "run" / "metrics.json").read_text())
    assert metrics["protocol"] == "toy-peak" and metrics["run"]["protocol"] == "toy-peak"
    assert metrics["peak_hit"] == pytest.approx(want["peak_hit"], abs=1e-12)
    assert metrics["silence_max"] == pytest.approx(want["silence_max"], rel=1e-6)
    assert metrics["side"] == 224  # the model YAML reached the protocol through model_settings
    assert metrics["map_normalize"] == "none"  # and the preset's map block (configs/models/random.yaml)
    assert res.metrics["peak_hit"] == metrics["peak_hit"]
    header = (tmp_path / "run" / "per_sample.csv").read_text().splitlines()[0]
    assert header == "seed_index,sample_id,label,peak_hit,silence_max"  # label: the class breakdown column
    report = (tmp_path / "run" / "report.md").read_text()
    assert "| peak on the object |" in report and "Toy protocol of the tests." in report
    assert (tmp_path / "run" / "toy" / "summary.txt").read_text() == f"random on vggss: {want['rows']} rows\n"
    # the stored run rescored under the toy and under the clean protocol: the same store, both protocols
    again = vssleval.rescore(tmp_path / "run", tmp_path / "again", verbose=False)
    assert again.metrics["peak_hit"] == metrics["peak_hit"]
    clean = vssleval.rescore(tmp_path / "run", tmp_path / "clean", protocol="vssleval", bootstrap=0, verbose=False)
    assert clean.metrics["protocol"] == "vssleval" and "ciou" in clean.metrics and "peak_hit" not in clean.metrics


def test_a_refusal_while_scoring_is_the_one_line_error(toy, tmp_path, monkeypatch, capsys):
    """A protocol that finds, while scoring, maps it cannot score (native's Flickr consensus maps)
    raises ProtocolRefusal: a VsslevalError, so the CLI prints it as one line, never a traceback."""
    from vssleval.cli import main
    from vssleval.metrics.protocols import ProtocolRefusal

    def refuse(maps, gt, ogl, setup):
        raise ProtocolRefusal("toy-peak scores binary ground truth only")

    monkeypatch.setattr(toy, "sample_records", refuse)
    with pytest.raises(vssleval.VsslevalError, match="^toy-peak scores binary ground truth only$"):
        vssleval.evaluate("random", "synthetic-vggss", neg="silence", seeds=1, limit=2, protocol="toy-peak",
                          bootstrap=0, out=tmp_path / "api", verbose=False)
    capsys.readouterr()
    code = main(["report", "--from-store", str(tmp_path / "api"), "--out", str(tmp_path / "cli")])
    err = capsys.readouterr().err.strip().splitlines()
    assert code == 2 and err[-1] == "vssleval: error: toy-peak scores binary ground truth only"
    assert not [line for line in err if "Traceback" in line]


def test_a_store_the_protocol_refuses_leaves_no_output_folder(tmp_path):
    """Rescoring a clean run under juanola2025 (no OGL maps in its store) is refused before --out exists."""
    vssleval.infer("random", "synthetic-vggss", seeds=1, limit=2, overlays=0, out=tmp_path / "run", verbose=False)
    with pytest.raises(vssleval.VsslevalError, match="was written by a vssleval run"):
        vssleval.rescore(tmp_path / "run", tmp_path / "out", protocol="juanola2025", verbose=False)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("edit", ["del", "not-names"])
def test_a_damaged_run_configuration_is_named_not_a_traceback(tmp_path, edit):
    """The entries the protocol's set-up reads from a stored run's config.json (model, preset,
    negatives): one missing or of another type is a one-line error naming the file and the entry."""
    vssleval.infer("random", "synthetic-vggss", seeds=1, limit=2, overlays=0, out=tmp_path / "run", verbose=False)
    path = tmp_path / "run" / "store" / "config.json"
    config = json.loads(path.read_text())
    if edit == "del":
        del config["negatives"]
    else:
        config["negatives"] = [1]
    path.write_text(json.dumps(config))
    with pytest.raises(vssleval.VsslevalError, match=r"config\.json: `negatives` must be a list of variant names"):
        vssleval.rescore(tmp_path / "run", tmp_path / "out", verbose=False)
    assert not (tmp_path / "out").exists()
