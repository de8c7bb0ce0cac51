"""Issue 19, mechanism 4: weights are verified alike. ``--ogl-weights`` goes through the checkpoint
loader (safe, strict, sha256 recorded); torchvision's official file name carries the start of its
sha256, so a file under that name with other bytes is refused, whoever found it, and a file under
another name is used with a one-line note (vssleval/models/checkpoint.py, docs/models.md §12).

The weights here are a randomly initialised ResNet-18 with torchvision's keys (the zoo's tower with
``fc``: torchvision's 122 keys, tests/models/test_models_parity_native.py) saved in tmp_path: no
download, and no ``import torchvision`` (2-5 CPU-seconds).
"""

from __future__ import annotations

import hashlib
import json
import shutil

import pytest
import torch

from vssleval.cli import main
from vssleval.errors import VsslevalError
from vssleval.models import build_model
from vssleval.models.resnet18 import ResNet18

OFFICIAL = "resnet18-f37072fd.pth"
RUN = ["evaluate", "--model", "center", "--protocol", "juanola2025", "--limit", "2", "--seeds", "1",
       "--bootstrap", "0", "--device", "cpu"]


def file_sha256(path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@pytest.fixture(scope="module")
def random_resnet18(tmp_path_factory):
    """A randomly initialised ResNet-18 state dict (torchvision's keys) under a name of its own."""
    torch.manual_seed(0)
    path = tmp_path_factory.mktemp("weights") / "my_resnet18.pth"
    torch.save(ResNet18(fc=True).state_dict(), path)
    return path


def _copy(src, dst):
    dst.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(src, dst)
    return dst


@pytest.mark.parametrize("where", ["torch_home", "checkpoints_env"])
def test_default_lookup_refuses_a_file_under_the_official_name_with_other_bytes(
        where, random_resnet18, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path / "torch"))
    if where == "torch_home":
        fake = _copy(random_resnet18, tmp_path / "torch" / "hub" / "checkpoints" / OFFICIAL)
    else:
        monkeypatch.setenv("VSSLEVAL_CHECKPOINTS", str(tmp_path / "ckpts"))
        fake = _copy(random_resnet18, tmp_path / "ckpts" / OFFICIAL)
    with pytest.raises(VsslevalError) as info:
        build_model("ogl")
    text = str(info.value)
    assert "\n" not in text
    assert str(fake) in text and "is named as ogl's official weights file but is not it" in text
    assert f"its sha256 starts {file_sha256(fake)[:8]}, the name says f37072fd" in text
    assert "https://download.pytorch.org/models/resnet18-f37072fd.pth" in text


def test_explicit_file_under_the_official_name_with_other_bytes_is_refused(random_resnet18, tmp_path, capsys):
    fake = _copy(random_resnet18, tmp_path / "w" / OFFICIAL)
    out = tmp_path / "run"
    assert main([*RUN, "--ogl-weights", str(fake), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1
    assert f"{fake} is named as ogl's official weights file but is not it" in err
    assert "give the file another name" in err
    assert not out.exists()  # refused before anything was written


def test_explicit_file_under_another_name_is_used_noted_and_its_sha256_recorded(random_resnet18, tmp_path,
                                                                                 capsys):
    digest = file_sha256(random_resnet18)
    model = build_model("ogl", random_resnet18)
    assert model.checkpoint_sha256 == digest
    assert model.checkpoint_files == [{"part": "net", "path": str(random_resnet18), "sha256": digest}]
    [note] = model.checkpoint_notes
    assert "is not the official weights file of ogl (resnet18-f37072fd.pth" in note and digest in note

    out = tmp_path / "run"
    assert main([*RUN, "--ogl-weights", str(random_resnet18), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert sum("is not the official weights file of ogl" in line for line in printed.splitlines()) == 1
    config = json.loads((out / "store" / "config.json").read_text())
    assert config["ogl_weights"] == str(random_resnet18) and config["ogl_weights_sha256"] == digest
    assert "is not the official weights file of ogl" in (out / "report.md").read_text()


def test_a_changed_ogl_file_is_another_run(random_resnet18, tmp_path, capsys):
    """The sha256 is part of the run's record, so --resume with other weights under the same path is
    refused instead of mixing maps of two priors."""
    weights = _copy(random_resnet18, tmp_path / "w" / "prior.pth")
    out = tmp_path / "run"
    assert main([*RUN, "--ogl-weights", str(weights), "--out", str(out)]) == 0
    sd = torch.load(weights)
    sd["conv1.weight"] = sd["conv1.weight"] + 1
    torch.save(sd, weights)
    assert main([*RUN, "--ogl-weights", str(weights), "--out", str(out), "--resume"]) == 2
    err = capsys.readouterr().err
    # the run's fingerprint names the file that changed (tests/engine/test_fingerprint.py)
    assert f"the OGL weights {weights} changed since this run started" in err and "Traceback" not in err


def test_weights_paths_that_cannot_be_opened_say_why(random_resnet18, tmp_path, capsys):
    """A symlink loop, a dangling link and a folder under the official name: one line each that
    says what the path is (before: "does not exist" / "not found")."""
    (tmp_path / "loop.pth").symlink_to(tmp_path / "loop.pth")
    (tmp_path / "dangling.pth").symlink_to(tmp_path / "gone.pth")
    (tmp_path / "folder" / OFFICIAL).mkdir(parents=True)
    expected = {"loop.pth": "--ogl-weights {p} is a symbolic link that loops back on itself",
                "dangling.pth": f"--ogl-weights {{p}} is a symbolic link to {tmp_path / 'gone.pth'}, "
                                "which does not exist",
                "folder": f"checkpoint {tmp_path / 'folder' / OFFICIAL} is a directory, not a weights file"}
    for name, message in expected.items():
        path = tmp_path / name
        assert main([*RUN, "--ogl-weights", str(path), "--out", str(tmp_path / "run")]) == 2
        err = capsys.readouterr().err
        assert "Traceback" not in err and message.format(p=path) in err, err
    assert not (tmp_path / "run").exists()
