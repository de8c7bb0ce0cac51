"""Issue 23, item 2: the published numbers (vssleval/published.yaml, docs/published.md) and how the
reports show them beside a run.

The run beside which they are shown is a real one: ``vssleval evaluate --model ezvsl --dataset vggss
--preset native --protocol native`` on the fixtures' VGG-SS clips with the fixtures' rule weights
in EZ-VSL's checkpoint container (tests/weight_rule.py; no released checkpoint is needed). Its value
means nothing (random weights), but its model, dataset, preset, protocol, evaluator and sample count
are those the matching reads, and its sample count (the fixture's few clips) differs from the
published 5,158, so the caution must appear. Made once per module (2 clips, --neg none: about 4 CPU-s).
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

import pytest
import torch

import shared
import weight_rule
from vssleval import published as pub
from vssleval.cli import main
from vssleval.data.registry import list_datasets
from vssleval.errors import VsslevalError
from vssleval.models.registry import list_models
from vssleval.report import published as rep_pub

EZVSL = {"model_name": "ezvsl", "dataset": "vggss", "preset": "native", "protocol": "native"}


@pytest.fixture(scope="module")
def native_run(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("published")
    path = shared.BEST.manifests / "ezvsl.json"
    manifest = shared.manifest(str(path))
    ckpt = root / manifest["checkpoint"]["file"]
    torch.save(weight_rule.wrap_checkpoint(manifest, dict(shared.rule_state_dict(path))), ckpt)
    out = root / "ezvsl-native"
    assert main(["evaluate", "--model", "ezvsl", "--checkpoint", str(ckpt), "--dataset", "vggss", "--data-dir",
                 str(shared.BEST.data_vggss), "--preset", "native", "--protocol", "native", "--neg", "none",
                 "--seeds", "1", "--limit", "2", "--bootstrap", "0", "--device", "cpu", "--out", str(out)]) == 0
    return out


def test_every_value_has_a_source_a_known_model_and_dataset_and_a_range():
    data = pub.load()
    assert len(data.values) >= 37  # published.md's 37 display-ready rows, cIoU and AUC split here
    models, datasets = set(list_models()), set(list_datasets())
    for v in data.values:
        assert v.source.strip() and v.source_kind in ("readme", "paper"), v
        assert v.model in models and v.dataset in datasets, v
        assert v.train_set and v.test_list and v.scoring, v
        assert 0 <= v.fraction <= 1, v
    for note in (*data.gaps, *data.cautions):
        assert set(note.models) <= models and set(note.datasets) <= datasets, note


def test_values_keep_the_digits_and_units_the_sources_printed():
    data = pub.load()
    ez = {(v.train_set, v.metric): v for v in data.lookup("ezvsl", "vggss") if not v.variant}
    assert ez[("VGG-Sound 10k", "ciou")].value == "37.18" and ez[("VGG-Sound 10k", "auc")].value == "38.75"
    assert ez[("VGG-Sound 10k", "ciou")].fraction == pytest.approx(0.3718)
    fnac = {v.train_set: v.value for v in data.lookup("fnac", "vggss") if v.metric == "ciou"}
    assert fnac["VGG-Sound 144k"] == "39.50"  # the trailing zero as printed
    sacl = [v for v in data.lookup("sacl", "vggss") if v.train_set == "VGG-Sound 144k"]
    assert {(v.metric, v.value, v.unit, v.test_size) for v in sacl} == {("ciou", "0.380", "fraction", 4692),
                                                                         ("auc", "0.400", "fraction", 4692)}
    assert {v.test_size for v in data.lookup("sslalign", "vggss")} == {4655}
    assert not data.lookup("ssltie")  # no sourced number: none shown
    assert any("SSL-TIE" in t for t in data.notes("gaps", "ssltie", "vggss"))


def test_a_broken_data_file_is_one_line_naming_the_entry(tmp_path):
    text = pub.DATA_FILE.read_text(encoding="utf-8").replace("source: ezvsl_readme", "source: nowhere", 1)
    bad = tmp_path / "published.yaml"
    bad.write_text(text, encoding="utf-8")
    with pytest.raises(VsslevalError, match=r"published numbers .*published\.yaml: entries\[\d+\]: source 'nowhere'"):
        pub.load(bad)


def test_matching_needs_native_native_the_same_evaluator_and_the_whole_list():
    found = pub.beside_run(EZVSL, 5158, "ezvsl")
    rows = {(b.value.train_set, b.value.metric, b.value.value) for b in found}
    assert ("VGG-Sound 10k", "ciou", "37.18") in rows and ("VGG-Sound Full", "auc", "39.78") in rows
    assert not any(b.value.subset or b.value.object_prior for b in found)  # heard/unheard, AV+OGL left out
    readme = [b for b in found if b.value.source_kind == "readme"]
    assert readme and all(b.caution is None for b in readme)  # 5,158 = 5,158
    assert pub.beside_run(EZVSL, 4655, "ezvsl")[0].caution == ("this run scored 4,655 samples, the published list "
                                                               "5,158 (vggss_test.csv)")
    assert pub.beside_run({**EZVSL, "preset": "juanola2025"}, 5158, "ezvsl") == []
    assert pub.beside_run({**EZVSL, "protocol": "vssleval"}, 5158, None) == []
    assert pub.beside_run(EZVSL, 5158, "fnac") == []  # another scoring rule than the source's


def test_cli_prints_the_readme_values_with_their_source(capsys):
    assert main(["published", "--model", "ezvsl", "--dataset", "vggss"]) == 0
    out = capsys.readouterr().out
    first = out.split("\nezvsl on vggss")[0]
    assert first.startswith("ezvsl on vggss: cIoU@0.5 37.18 %, AUC 38.75 %")
    for fact in ("trained on: VGG-Sound 10k", "source: [readme] stoneMo/EZ-VSL @ 95ff5bf",
                 "test list: vggss_test.csv (EZ-VSL metadata/", "5,158 ids", "evaluator ezvsl"):
        assert fact in first, fact
    assert "38.85 %, AUC 39.54 %" in out and "[inference] AV+OGL" in out
    assert "caution: VGG-SS denominators differ" in out


@pytest.mark.parametrize("argv, word", [(["--model", "ezvls"], "did you mean 'ezvsl'"),
                                        (["--dataset", "vgss"], "did you mean 'vggss'")])
def test_cli_unknown_names_are_one_line_with_a_suggestion(capsys, argv, word):
    assert main(["published", *argv]) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and word in err


def test_reports_show_the_published_value_beside_a_native_run(native_run, tmp_path):
    metrics = json.loads((native_run / "metrics.json").read_text())
    n = metrics["n_samples"]
    assert (metrics["run"]["preset"], metrics["run"]["protocol"], metrics["native_evaluator"]) == (
        "native", "native", "ezvsl") and n != 5158
    caution = f"this run scored {n:,} samples, the published list 5,158 (vggss_test.csv)"
    own = (native_run / "report.md").read_text()  # the run's own report
    assert "## Published numbers" in own and "37.18 % (0.3718)" in own and caution in own

    out = tmp_path / "rep"
    assert main(["report", str(native_run), "--out", str(out)]) == 0
    report = (out / "report.md").read_text()
    table = report.split("## Published numbers")[1].split("\n## ")[0]
    lines = [ln for ln in table.splitlines() if ln.startswith("| ezvsl |")]
    ciou = f"{metrics['ciou']:.3f}"
    assert f"| ezvsl | vggss | VGG-Sound 10k | cIoU@0.5 | EZ-VSL README @ 95ff5bf | vggss_test.csv (5,158) | {caution} | " \
           f"37.18 % (0.3718) | {ciou} |" in lines, table
    assert "- source EZ-VSL README @ 95ff5bf: \\[readme\\] stoneMo/EZ-VSL @ 95ff5bf" in table
    assert "- caution: VGG-SS denominators differ" in table
    board = (out / "leaderboard.md").read_text()
    assert "Published for ezvsl: cIoU@0.5 37.18 %, AUC 38.75 % (VGG-Sound 10k; EZ-VSL README @ 95ff5bf)" in board
    assert caution in board
    row = next(csv.DictReader(io.StringIO((out / "leaderboard.csv").read_text())))
    assert "ciou=37.18 percent (VGG-Sound 10k; EZ-VSL README @ 95ff5bf)" in row["published"]
    assert caution in row["published_caution"]


def test_a_run_without_native_native_is_told_where_the_numbers_are():
    run = {**EZVSL, "preset": "juanola2025", "protocol": "juanola2025"}
    lines = rep_pub.section([("ezvsl", run, {"n_samples": 5158})])
    assert lines[0] == "## Published numbers" and "|" not in "".join(lines)  # no table: nothing matched
    assert "`vssleval published --model ezvsl --dataset vggss`" in "\n".join(lines)
    assert rep_pub.section([("center", {**EZVSL, "model_name": "center"}, {"n_samples": 5})]) == []


def test_docs_restate_every_value_and_print_the_command_as_it_answers(capsys):
    """docs/published.md shows ``vssleval published --model ezvsl --dataset vggss`` with its output:
    that output must be the command's, and every value of the data file must be in the page's
    tables, in the row of its model, dataset and source."""
    page = (shared.ROOT / "docs" / "published.md").read_text(encoding="utf-8")
    shown = page.split("<!-- docs-test: text (the output of the command above) -->\n```text\n")[1].split("```")[0]
    assert main(["published", "--model", "ezvsl", "--dataset", "vggss"]) == 0
    assert shown == capsys.readouterr().out
    rows = [ln for ln in page.splitlines() if ln.startswith("| `")]
    for v in pub.load().values:
        assert any(f"| `{v.model}` | `{v.dataset}` |" in ln and f"{v.value}" in ln and v.source_short in ln
                   for ln in rows), v
