"""Where checkpoints and package data are found: --checkpoint, then $VSSLEVAL_CHECKPOINTS, then
./checkpoints for zoo models; the package's own file for the embedded model; `vssleval models`
reports it; a missing package-data file names itself and the install."""

from __future__ import annotations

import hashlib
import importlib.util
import json
from pathlib import Path

import pytest
import torch

from shared import ROOT
from vssleval import resources
from vssleval.cli import main
from vssleval.data import list_datasets
from vssleval.errors import VsslevalError
from vssleval.models import build_model, list_models, load_model_config

TINY = {  # an EZ-VSL-family model with tiny towers (built in milliseconds)
    "model": {"dim": 8,
              "visual": {"arch": "small_cnn", "in_channels": 3, "channels": [4, 8]},
              "audio": {"arch": "small_cnn", "in_channels": 1, "channels": [4, 8], "pool": "max"}},
    "checkpoint": {"file": "tiny.pth", "container_key": "model"},
    "presets": {"juanola2025": {"map": {"raw": "unit_range", "tau": 0.03}}},
}
SACL_PARTS = {"parts": {"imgnet": "frame_best.pth", "audnet": "sound_best.pth"}}


@pytest.fixture
def places(tmp_path, monkeypatch):
    """An empty cwd (its ./checkpoints) and an empty $VSSLEVAL_CHECKPOINTS folder."""
    cwd, env = tmp_path / "cwd", tmp_path / "env"
    (cwd / "checkpoints").mkdir(parents=True)
    env.mkdir()
    monkeypatch.chdir(cwd)
    monkeypatch.setenv("VSSLEVAL_CHECKPOINTS", str(env))
    return cwd / "checkpoints", env


def _save_tiny(folder: Path, seed: int) -> dict:
    torch.manual_seed(seed)
    sd = build_model("ezvsl", config=TINY, random_init=True).state_dict()
    torch.save({"model": sd}, folder / "tiny.pth")
    return sd


def _same(model, sd) -> bool:
    got = model.state_dict()
    return all(torch.equal(got[k], sd[k]) for k in sd)


def test_env_folder_comes_before_cwd_checkpoints(places):
    local, env = places
    sd_local, sd_env = _save_tiny(local, 1), _save_tiny(env, 2)
    assert _same(build_model("ezvsl", config=TINY), sd_env)
    (env / "tiny.pth").unlink()
    assert _same(build_model("ezvsl", config=TINY), sd_local)


def test_checkpoint_argument_comes_first(places, tmp_path):
    local, env = places
    _save_tiny(local, 1), _save_tiny(env, 2)
    given = tmp_path / "given"
    given.mkdir()
    sd = _save_tiny(given, 3)
    assert _same(build_model("ezvsl", checkpoint=given / "tiny.pth", config=TINY), sd)


def test_missing_checkpoint_names_every_place_looked(places):
    local, env = places
    with pytest.raises(VsslevalError) as info:
        build_model("ezvsl", config=TINY)
    msg = str(info.value)
    assert "needs a checkpoint (official file: tiny.pth)" in msg
    assert str(env / "tiny.pth") in msg and str(local / "tiny.pth") in msg
    assert msg.index(str(env / "tiny.pth")) < msg.index(str(local / "tiny.pth"))


def test_without_env_only_cwd_is_looked(places, monkeypatch):
    local, _ = places
    monkeypatch.delenv("VSSLEVAL_CHECKPOINTS")
    look = resources.find_checkpoint(TINY["checkpoint"])
    assert not look.found and look.looked == [local / "tiny.pth"]


def test_multi_file_model_needs_all_parts_in_one_folder(places):
    local, env = places
    (env / "frame_best.pth").write_bytes(b"x")  # only one of the two parts here
    for name in SACL_PARTS["parts"].values():
        (local / name).write_bytes(b"x")
    look = resources.find_checkpoint(SACL_PARTS)
    assert look.found and look.checkpoint == str(local) and look.source == "./checkpoints"
    assert look.files == [local / "frame_best.pth", local / "sound_best.pth"]
    assert look.looked[:2] == [env / "frame_best.pth", env / "sound_best.pth"]


def test_shipped_model_ignores_the_user_folders(places):
    local, env = places
    (env / "synth-ezvsl.pth").write_bytes(b"not a checkpoint")
    (local / "synth-ezvsl.pth").write_bytes(b"not a checkpoint")
    look = resources.find_checkpoint(load_model_config("synth-ezvsl")["checkpoint"])
    assert look.found and look.source == "shipped with vssleval"
    assert Path(look.checkpoint) == resources.shipped_checkpoint_dir() / "synth-ezvsl.pth"
    build_model("synth-ezvsl")  # loads (and sha-checks) the shipped file, not the junk ones


def test_every_zoo_yaml_states_its_official_release():
    for name in list_models():
        ck = load_model_config(name).get("checkpoint") or {}
        if ck.get("file") or ck.get("parts"):
            assert str(ck.get("official_release") or "").strip(), f"{name}: no checkpoint.official_release"


def test_models_command_reports_presence_sha_and_release(places, capsys):
    local, env = places
    (env / "ezvsl.pth").write_bytes(b"ezvsl bytes")
    assert main(["models"]) == 0
    out = capsys.readouterr().out
    block = out.split("\nezvsl ", 1)[1].split("\nfnac ", 1)[0]
    assert str(env / "ezvsl.pth") in block
    assert hashlib.sha256(b"ezvsl bytes").hexdigest() in block
    assert "https://github.com/stoneMo/EZ-VSL" in block
    fnac = out.split("\nfnac ", 1)[1].split("\nfull ", 1)[0]
    assert "not present" in fnac and str(env / "fnac.pth") in fnac and str(local / "fnac.pth") in fnac
    assert "https://github.com/OpenNLPLab/FNAC_AVL" in fnac
    shipped = out.split("\nsynth-ezvsl ", 1)[1]
    sha = json.loads((resources.shipped_checkpoint_dir() / "synth-ezvsl.json").read_text())["sha256"]
    assert sha in shipped
    assert "no checkpoint needed" in out.split("\ncenter ", 1)[1].split("\nezvsl ", 1)[0]


def test_main_job_uses_the_same_lookup(places):
    local, env = places
    for name in SACL_PARTS["parts"].values():
        (env / name).write_bytes(b"x")
    (local / "lvs.pth.tar").write_bytes(b"x")
    spec = importlib.util.spec_from_file_location("main_job_under_test", ROOT / "scripts" / "main_job.py")
    job = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(job)
    chosen = dict(job.available_models())
    assert chosen["sacl"] == str(env) and chosen["lvs"] == str(local / "lvs.pth.tar")
    assert "ezvsl" not in chosen and chosen["synth-ezvsl"] is None
    narrowed = dict(job.available_models(local))  # --checkpoints DIR: that folder only
    assert narrowed["lvs"] == str(local / "lvs.pth.tar") and "sacl" not in narrowed


# -- package data ------------------------------------------------------------------------------
def test_source_checkout_finds_the_top_level_folders():
    assert resources.model_config_dir() == ROOT / "configs" / "models"
    assert resources.dataset_config_dir() == ROOT / "configs" / "datasets"
    assert resources.shipped_checkpoint_dir() == ROOT / "checkpoints"
    assert resources.install_kind() in ("source", "editable")  # the tests never run from a wheel


def test_env_overrides_the_config_folders(tmp_path, monkeypatch):
    monkeypatch.setenv("VSSLEVAL_MODEL_CONFIGS", str(tmp_path / "m"))
    monkeypatch.setenv("VSSLEVAL_DATASET_CONFIGS", str(tmp_path / "d"))
    assert resources.model_config_dir() == tmp_path / "m"
    with pytest.raises(VsslevalError, match=r"\$VSSLEVAL_DATASET_CONFIGS"):
        resources.require_dir("dataset_configs", "*.yaml", "the dataset configs")


@pytest.mark.parametrize("kind", ["wheel", "source"])
def test_missing_package_data_names_the_file_and_the_install(tmp_path, monkeypatch, kind):
    pkg = tmp_path / "site" / "vssleval"
    pkg.mkdir(parents=True)
    monkeypatch.setattr(resources, "PACKAGED_ROOT", pkg / "_resources")
    monkeypatch.setattr(resources, "CHECKOUT_ROOT", tmp_path / "site")  # no pyproject.toml: not a checkout
    monkeypatch.setattr(resources, "install_kind", lambda: kind)
    with pytest.raises(VsslevalError) as info:
        build_model("synth-ezvsl")
    msg = str(info.value)
    assert "(synth-ezvsl.pth) is missing" in msg and str(pkg / "_resources" / "checkpoints") in msg
    assert ("installed from a wheel" in msg) == (kind == "wheel")
    assert ("run from a source checkout" in msg) == (kind == "source")
    with pytest.raises(VsslevalError, match=r"the dataset configs \(\*\.yaml\) is missing") as info:
        list_datasets()
    assert str(pkg / "_resources" / "configs" / "datasets") in str(info.value)


def test_models_command_lists_the_others_when_a_plugin_config_is_gone(tmp_path, capsys):
    """A plug-in whose YAML was moved after registration is listed as unusable (exit 1); every
    other model is still listed."""
    from vssleval.models.registry import load_model_file

    (tmp_path / "gone.py").write_text("import torch\n\nclass Gone(torch.nn.Module):\n    pass\n")
    (tmp_path / "gone.yaml").write_text("model: {}\n")
    assert load_model_file(f"{tmp_path / 'gone.py'}:Gone") == "gone"
    (tmp_path / "gone.yaml").unlink()
    assert main(["models"]) == 1
    out = capsys.readouterr().out
    gone = [line for line in out.splitlines() if line.startswith("gone ")]
    assert len(gone) == 1 and "unusable: model config not found" in gone[0] and "gone.yaml" in gone[0]
    assert "\nezvsl " in out and "\nsynth-ezvsl " in out
