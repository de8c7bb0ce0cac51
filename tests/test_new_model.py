"""``vssleval new-model NAME`` (issue 22 item 6): the template it writes evaluates as written, every
constant of its YAML is explained, its checkpoint note is what the loader does, and it refuses what
it must (an existing file, a bad or taken name) without writing anything, anywhere else than --out."""

from __future__ import annotations

import ast
import csv
import hashlib
import json
import math
import os
import re
import shlex
from pathlib import Path

import pytest
import torch

import vssleval
from shared import ROOT
from vssleval.cli import main
from vssleval.commands import new_model
from vssleval.data.synthetic import synth
from vssleval.models.registry import load_model_config
from vssleval.yaml_io import read_yaml_mapping


def _tree(root: Path) -> dict[str, tuple[int, int, int]]:
    """Every path under ``root`` (links not followed) -> (inode, mode, size): what a write would change."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            st = os.lstat(os.path.join(dirpath, name))
            out[os.path.relpath(os.path.join(dirpath, name), root)] = (st.st_ino, st.st_mode, st.st_size)
    return out


def _new(tmp_path: Path, name: str, *extra: str, out: str = "out") -> int:
    return main(["new-model", name, "--out", str(tmp_path / out), *extra])


@pytest.fixture
def written(tmp_path, capsys) -> Path:
    """``vssleval new-model my_net --out <tmp>/out``: the folder it wrote."""
    assert _new(tmp_path, "my_net") == 0
    printed = capsys.readouterr().out
    assert f"--model-file {tmp_path / 'out' / 'my_net.py'}:MyNetModel " in printed  # the next command, as printed
    return tmp_path / "out"


@pytest.mark.slow  # a whole evaluation (8 samples x 2 seeds, every negative): about 4 CPU-s with torch's import
def test_the_template_evaluates_as_written(written, tmp_path, capsys):
    data = synth("vggss", 8, 11, tmp_path / "data")
    run = tmp_path / "run"
    rc = main(["evaluate", "--model-file", f"{written / 'my_net.py'}:MyNetModel", "--dataset", "vggss",
               "--data-dir", str(data), "--limit", "8", "--seeds", "2", "--bootstrap", "0", "--out", str(run)])
    assert rc == 0
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["run"]["model_name"] == "my_net" and metrics["run"]["preset"] == "juanola2025"
    assert metrics["n_samples"] == 8 and metrics["n_seeds"] == 2
    rates = ["ciou", "auc", "ciou_adap", "auc_adap", "ap", "max_f1", "auroc_max_neg",
             *(f"pia_{neg}_adap" for neg in ("silence", "noise", "offscreen"))]
    for key in rates:
        assert math.isfinite(metrics[key]) and 0.0 <= metrics[key] <= 1.0, (key, metrics[key])
    for variant in ("positive", "silence", "noise", "offscreen"):  # map: raw: cosine, so maxima lie in [-1, 1]
        assert -1.0 <= metrics[f"max_{variant}_median"] <= 1.0, variant
    with open(run / "per_sample.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 2 * 8  # one row per (seed, sample): docs/api.md §8
    assert [r["seed_index"] for r in rows] == ["0"] * 8 + ["1"] * 8


def _doc_block(page: str, heading: str, lang: str) -> str:
    """The first ``lang`` code block after ``heading`` in ``page`` (a path under the repository)."""
    text = (ROOT / page).read_text(encoding="utf-8")
    return re.compile(rf"```{lang}\n(.*?)```", re.S).search(text, text.index(heading)).group(1)


def _doc_commands(page: str, heading: str) -> list[list[str]]:
    """The commands of the first bash block after ``heading``, comments dropped."""
    lines = (line.split(" #")[0].strip() for line in _doc_block(page, heading, "bash").splitlines())
    return [shlex.split(line) for line in lines if line]


@pytest.mark.slow  # two evaluations on the embedded benchmark (16 samples x 2 seeds) and a comparison: ~10 CPU-s
def test_the_docs_walk_runs_as_written(tmp_path, monkeypatch, capsys):
    """docs/api.md §8 (whose first two commands are the README's), run as written from a folder
    standing for the repository root: the comparison it quotes is what it prints, and per_sample.csv
    has the rows and the seed-dependent columns that section states."""
    walk = _doc_commands("docs/api.md", "## 8. Your own model")
    assert _doc_commands("README.md", "## Your own model in five minutes") == walk[:2]
    monkeypatch.chdir(tmp_path)
    for argv in walk:
        assert argv[0] == "vssleval"
        assert main(argv[1:]) == 0, argv
    printed = capsys.readouterr().out
    quoted = _doc_block("docs/api.md", "**4. Compare.**", "").strip().splitlines()
    assert quoted[0].startswith("B - A on 16 samples") and len(quoted) == 7
    for line in quoted:
        assert line in printed.splitlines(), line
    assert (tmp_path / "runs" / "mymodel-vs-synth-ezvsl" / "compare.csv").is_file()
    assert sorted(p.name for p in tmp_path.iterdir()) == ["mymodel", "runs"]  # nothing else written
    with open(tmp_path / "runs" / "mymodel" / "per_sample.csv", newline="") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 2 * 16 and [r["seed_index"] for r in rows] == ["0"] * 16 + ["1"] * 16
    varying = {c for c in rows[0] if any(rows[i][c] != rows[i + 16][c] for i in range(16))}
    drawn = {c for c in rows[0] if "noise" in c or "offscreen" in c}
    assert varying - {"seed_index"} <= drawn  # positive, silence and breakdown columns repeat per seed
    assert {"max_noise", "max_offscreen", "pia_noise_adap", "pia_offscreen_adap"} <= varying


def _model_file(written: Path) -> str:
    return f"{written / 'my_net.py'}:MyNetModel"


@pytest.mark.slow  # the refusal names the registered model the file fits best: every model is built (meta device)
def test_a_checkpoint_loads_as_the_template_says(written, tmp_path):
    """The note in NAME.py: ``{'model': state_dict}`` saved from the class loads strictly with
    --checkpoint (``module.`` prefixes stripped); a file with another key set is refused by key."""
    model = vssleval.load_model(_model_file(written))
    assert sorted(model.state_dict()) == ["aud_proj.bias", "aud_proj.weight", "img_proj.bias", "img_proj.weight"]
    state = {f"module.{k}": v * 2 for k, v in model.state_dict().items()}  # as DataParallel saves it
    torch.save({"model": state}, tmp_path / "my_net.pth")
    loaded = vssleval.load_model(_model_file(written), checkpoint=tmp_path / "my_net.pth")
    assert torch.equal(loaded.img_proj.weight, 2 * torch.eye(3))
    torch.save({"model": {**model.state_dict(), "extra.weight": torch.zeros(1)}}, tmp_path / "other.pth")
    with pytest.raises(vssleval.VsslevalError, match=r"unexpected keys \(1\): extra\.weight"):
        vssleval.load_model(_model_file(written), checkpoint=tmp_path / "other.pth")


def test_the_commented_checkpoint_block_finds_the_file(tmp_path, monkeypatch):
    """The YAML's commented ``checkpoint:`` block, uncommented, with ``needs_checkpoint = True``: no
    file in $VSSLEVAL_CHECKPOINTS is an error naming it, the file there is loaded and hashed."""
    assert _new(tmp_path, "trained_net", out="trained") == 0
    py, yaml = tmp_path / "trained" / "trained_net.py", tmp_path / "trained" / "trained_net.yaml"
    py.write_text(py.read_text().replace("needs_checkpoint = False", "needs_checkpoint = True"))
    text = yaml.read_text()
    assert "# checkpoint:\n#   file: trained_net.pth" in text
    yaml.write_text(text.replace("# checkpoint:\n#   file:", "checkpoint:\n  file:").replace("#   container_key:",
                                                                                               "  container_key:"))
    monkeypatch.setenv("VSSLEVAL_CHECKPOINTS", str(tmp_path / "weights"))
    with pytest.raises(vssleval.VsslevalError, match=r"needs a checkpoint \(official file: trained_net.pth\)"):
        vssleval.load_model(f"{py}:TrainedNetModel")
    (tmp_path / "weights").mkdir()
    state = {f"{tower}.{k}": v for tower in ("img_proj", "aud_proj")
             for k, v in {"weight": torch.full((3, 3), 0.5), "bias": torch.zeros(3)}.items()}
    torch.save({"model": state}, tmp_path / "weights" / "trained_net.pth")
    model = vssleval.load_model(f"{py}:TrainedNetModel")
    assert torch.equal(model.aud_proj.weight, torch.full((3, 3), 0.5))
    sha256 = hashlib.sha256((tmp_path / "weights" / "trained_net.pth").read_bytes()).hexdigest()
    assert model.checkpoint_sha256 == sha256


def test_the_maps_keep_the_contract_shapes(written):
    """The docstrings' shapes: [B, 3, 224, 224] and [B, 1, 257, 200] in, [B, 7, 7] out, batch-1 broadcast."""
    model = vssleval.load_model(_model_file(written))
    visual = model.encode_image(torch.randn(2, 3, 224, 224))
    audio = model.encode_audio(torch.randn(3, 1, 257, 200))
    assert visual.shape == (2, 3, 7, 7) and audio.shape == (3, 3)
    assert model.localize(visual[:1], audio).shape == (3, 7, 7)
    maps = model.localize(visual, audio[:2])
    assert maps.shape == (2, 7, 7) and maps.abs().max() <= 1.0 + 1e-6  # a cosine


def test_every_constant_of_the_yaml_is_explained(written):
    """Each line that sets a value (``key: value`` or a list item) carries an inline ``#`` comment, and
    the preset is the embedded synth-ezvsl's (a real preset, matching the template's audio input)."""
    text = (written / "my_net.yaml").read_text()
    setting = [line for line in text.splitlines()
               if not line.lstrip().startswith("#") and re.match(r"\s*(- |[\w]+: *[^\s#])", line)]
    assert len(setting) >= 20
    assert [line for line in setting if " # " not in line] == []
    assert "docs/models.md §1.2" in text
    cfg = read_yaml_mapping(written / "my_net.yaml", "model config")
    assert cfg["name"] == "my_net" and cfg["model"] == {"grid": 7}
    ours, zoo = cfg["presets"]["juanola2025"], load_model_config("synth-ezvsl")["presets"]["juanola2025"]
    assert ours["audio"] == zoo["audio"] and ours["image"] == zoo["image"]


def test_the_py_template_documents_the_three_methods(written):
    tree = ast.parse((written / "my_net.py").read_text())
    cls = next(node for node in tree.body if isinstance(node, ast.ClassDef))
    assert cls.name == "MyNetModel" and [b.id for b in cls.bases] == ["VsslModel"]
    methods = {f.name: ast.get_docstring(f) for f in cls.body if isinstance(f, ast.FunctionDef)}
    for name in ("encode_image", "encode_audio", "similarity"):
        assert re.search(r"\[B, [^\]]+\]", methods[name]) and "Returns" in methods[name], name
    module_doc = ast.get_docstring(tree)
    for fact in ("{'model': state_dict}", "strict", "--checkpoint", "weights_only=True", "docs/models.md §2.7"):
        assert fact in module_doc, fact


def test_an_existing_file_is_kept_without_overwrite(written, tmp_path, capsys):
    (written / "my_net.yaml").unlink()
    (written / "my_net.py").write_text("mine")
    assert _new(tmp_path, "my_net") == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and f"{written / 'my_net.py'} already exists" in err and "--overwrite" in err
    assert (written / "my_net.py").read_text() == "mine" and not (written / "my_net.yaml").exists()
    assert _new(tmp_path, "my_net", "--overwrite") == 0
    assert "class MyNetModel" in (written / "my_net.py").read_text() and (written / "my_net.yaml").is_file()


@pytest.mark.parametrize("name, why, suggestion", [
    ("My-Model", "use lower-case letters a-z, digits 0-9 and _, starting with a letter", "my_model"),
    ("2net", "use lower-case letters", "net"),
    ("n" * 65, "at most 64 characters", None),
    ("class", "is a Python keyword", "my_class"),
    ("ezvsl", "is already a registered model", "my_ezvsl"),
    ("center", "is already a registered model", "my_center"),
    ("json", "is already the name of the importable module json", "my_json"),
    ("yaml", "is already the name of the importable module yaml", "my_yaml"),
])
def test_a_name_that_cannot_be_a_model_is_refused(tmp_path, capsys, name, why, suggestion):
    assert _new(tmp_path, name) == 2
    err = capsys.readouterr().err
    assert err.startswith("vssleval: error: ") and err.count("\n") == 1 and why in err, err
    if suggestion:
        assert f"try {suggestion!r}" in err
        assert new_model.name_problem(suggestion, tmp_path / "out") is None  # the suggestion is free
    assert list(tmp_path.iterdir()) == []  # not even the output folder


def test_nothing_is_written_outside_out(tmp_path, monkeypatch):
    """Run from a folder holding a file of the same name, into a nested --out: only the two files
    appear, inside --out. A dangling link at NAME.py is a file that exists (refused), and
    --overwrite replaces the link itself, never creating its target."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "canary.txt").write_text("keep")
    target = tmp_path / "elsewhere.py"
    (tmp_path / "a" / "b").mkdir(parents=True)
    (tmp_path / "a" / "b" / "my_net.py").symlink_to(target)
    before = _tree(tmp_path)
    assert main(["new-model", "my_net", "--out", "a/b"]) == 2
    assert _tree(tmp_path) == before
    assert main(["new-model", "my_net", "--out", "a/b", "--overwrite"]) == 0
    after = _tree(tmp_path)
    assert set(after) == set(before) | {"a/b/my_net.yaml"} and not target.exists()
    assert all(after[k] == v for k, v in before.items() if k not in ("a/b", "a/b/my_net.py"))  # the rest untouched
    assert not (tmp_path / "a" / "b" / "my_net.py").is_symlink() and (tmp_path / "canary.txt").read_text() == "keep"
    assert sorted(p.name for p in (tmp_path / "a" / "b").iterdir()) == ["my_net.py", "my_net.yaml"]


def test_a_missing_template_writes_nothing(tmp_path, monkeypatch, capsys):
    templates = tmp_path / "templates"
    templates.mkdir()
    (templates / "model.py.tmpl").write_text((new_model.TEMPLATE_DIR / "model.py.tmpl").read_text())
    monkeypatch.setattr(new_model, "TEMPLATE_DIR", templates)  # model.yaml.tmpl lost from the install
    assert _new(tmp_path, "my_net") == 2
    assert "model.yaml.tmpl is missing" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("name, expected", [("my_net", "MyNetModel"), ("mymodel", "Mymodel"), ("tiny2", "Tiny2Model"),
                                            ("vssl", "MyVsslModel"), ("f", "FModel")])
def test_the_class_name(name, expected):
    assert new_model.class_name(name) == expected
