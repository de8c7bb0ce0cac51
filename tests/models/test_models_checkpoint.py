"""Checkpoint loading: every official container, strictness, and clear errors for bad files."""

from __future__ import annotations

import collections
import os
import shutil

import numpy as np
import pytest
import torch

import shared
from vssleval.errors import VsslevalError
from vssleval.models import build_model, list_models, read_checkpoint
from zoo_helpers import NATIVE_MANIFESTS

# an EZ-VSL-family model with tiny towers: exercises the same loader in milliseconds
TINY = {
    "model": {"dim": 8,
              "visual": {"arch": "small_cnn", "in_channels": 3, "channels": [4, 8]},
              "audio": {"arch": "small_cnn", "in_channels": 1, "channels": [4, 8], "pool": "max"}},
    "checkpoint": {"file": "tiny.pth", "container_key": "model"},
    "presets": {"juanola2025": {"map": {"raw": "unit_range", "tau": 0.03}}},
}


def _tiny_state_dict(seed: int = 0) -> dict:
    torch.manual_seed(seed)
    return build_model("ezvsl", config=TINY, random_init=True).state_dict()


def _assert_loaded(model, sd):
    got = model.state_dict()
    assert set(got) == set(sd)
    assert all(torch.equal(got[k], sd[k]) for k in sd)


@pytest.mark.parametrize("container", ["model", "model_state_dict", "state_dict", None])
@pytest.mark.parametrize("prefix", ["", "module."])
def test_every_official_container_loads(tmp_path, container, prefix):
    sd = _tiny_state_dict()
    inner = {prefix + k: v for k, v in sd.items()}
    obj = {container: inner, "epoch": 3, "best_Auc": np.float64(0.4), "n": np.int64(2),
           "optimizer": {"param_groups": [{"lr": 1e-4}]}} if container else inner
    path = tmp_path / "weights.pth.tar"
    torch.save(obj, path)
    _assert_loaded(build_model("ezvsl", checkpoint=path, config=TINY), sd)


def test_directory_with_official_file_name(tmp_path):
    sd = _tiny_state_dict()
    torch.save({"model": sd}, tmp_path / "tiny.pth")
    _assert_loaded(build_model("ezvsl", checkpoint=tmp_path, config=TINY), sd)


@pytest.mark.parametrize("zip_format", [True, False])  # old releases used the legacy format
def test_truncated_file_is_a_clear_error(tmp_path, zip_format):
    path = tmp_path / "w.pth"
    torch.save({"model": _tiny_state_dict()}, path, _use_new_zipfile_serialization=zip_format)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])
    with pytest.raises(VsslevalError, match="truncated"):
        build_model("ezvsl", checkpoint=path, config=TINY)


def test_missing_file(tmp_path):
    with pytest.raises(VsslevalError, match="not found"):
        build_model("ezvsl", checkpoint=tmp_path / "nope.pth", config=TINY)


def test_wrong_shapes_are_listed(tmp_path):
    sd = _tiny_state_dict()
    sd["img_proj.weight"] = torch.zeros(9, 8, 1, 1)
    torch.save({"model": sd}, tmp_path / "w.pth")
    with pytest.raises(VsslevalError, match=r"wrong shapes \(1\): img_proj.weight \(9, 8, 1, 1\) != \(8, 8, 1, 1\)"):
        build_model("ezvsl", checkpoint=tmp_path / "w.pth", config=TINY)


def test_missing_and_unexpected_keys_are_listed(tmp_path):
    sd = _tiny_state_dict()
    del sd["aud_proj.bias"]
    sd["extra.weight"] = torch.zeros(1)
    torch.save({"model": sd}, tmp_path / "w.pth")
    with pytest.raises(VsslevalError) as info:
        build_model("ezvsl", checkpoint=tmp_path / "w.pth", config=TINY)
    msg = str(info.value)
    assert "missing keys (1): aud_proj.bias" in msg and "unexpected keys (1): extra.weight" in msg


def test_file_without_state_dict(tmp_path):
    torch.save({"epoch": 1, "weights": [1, 2]}, tmp_path / "w.pth")
    with pytest.raises(VsslevalError, match="holds no state dict"):
        build_model("ezvsl", checkpoint=tmp_path / "w.pth", config=TINY)


class _Payload:  # stands for any pickled object that is not plain data
    pass


def test_unsafe_objects_refused_unless_trusted(tmp_path):
    sd = _tiny_state_dict()
    path = tmp_path / "w.pth"
    torch.save({"model": sd, "args": _Payload(), "c": collections.Counter("ab")}, path)
    with pytest.raises(VsslevalError, match="trust_checkpoint"):
        build_model("ezvsl", checkpoint=path, config=TINY)
    with pytest.warns(UserWarning, match="arbitrary code"):
        model = build_model("ezvsl", checkpoint=path, config=TINY, trust_checkpoint=True)
    _assert_loaded(model, sd)


def test_random_bytes_are_not_a_torch_file_and_trust_is_not_suggested(tmp_path):
    path = tmp_path / "w.pth"
    path.write_bytes(np.random.default_rng(0).integers(0, 256, 3000, dtype=np.uint8).tobytes())
    with pytest.raises(VsslevalError, match="not a valid torch file") as info:
        read_checkpoint(path)
    assert "trust" not in str(info.value)


def test_numpy_scalars_load_safely(tmp_path):
    torch.save({"best_cIoU": np.mean([0.1, 0.2]), "i": np.int64(4), "f": np.float32(1.5)}, tmp_path / "n.pth")
    obj = read_checkpoint(tmp_path / "n.pth")
    assert obj["best_cIoU"] == pytest.approx(0.15) and obj["i"] == 4


def test_no_checkpoint_is_an_error_not_random_weights():
    with pytest.raises(VsslevalError, match=r"needs a checkpoint \(official file: ezvsl.pth\)"):
        build_model("ezvsl")
    # random_init is the explicit way out: a model in eval mode whose weights are its init's, not a file's
    model = build_model("ezvsl", random_init=True)
    assert not model.training and getattr(model, "checkpoint_source", None) is None
    torch.manual_seed(0)
    reference = build_model("ezvsl", random_init=True).state_dict()
    assert any(not torch.equal(v, reference[k]) for k, v in model.state_dict().items() if v.is_floating_point())


def test_unknown_model_lists_registered_names():
    with pytest.raises(VsslevalError) as info:
        build_model("ezvls")
    for name in (*shared.juanola_models(), *shared.native_models(), "center", "full", "random"):
        assert name in str(info.value)


def test_unknown_preset_lists_presets():
    with pytest.raises(VsslevalError, match="native"):
        build_model("ezvsl", preset="nope", random_init=True)


# -- real layouts (rule weights in official containers) --------------------------------------

@pytest.mark.slow  # full-size checkpoints
def test_other_models_checkpoint_names_it(official_checkpoint):
    lvs_file = official_checkpoint(shared.BEST.manifests / "lvs.json")
    with pytest.raises(VsslevalError) as info:
        build_model("ezvsl", checkpoint=lvs_file)
    msg = str(info.value)
    assert "most likely belongs to 'lvs' or 'sslalign'" in msg and "missing keys (" in msg and "unexpected keys (" in msg
    slavc_file = official_checkpoint(shared.BEST.manifests / "slavc.json")
    with pytest.raises(VsslevalError, match="most likely belongs to 'slavc'"):
        build_model("ssltie", checkpoint=slavc_file)
    ez_file = official_checkpoint(shared.BEST.manifests / "ezvsl.json")
    with pytest.raises(VsslevalError, match="'ezvsl' or 'fnac'"):
        build_model("slavc", checkpoint=ez_file)


@pytest.mark.slow  # full-size checkpoints
def test_sacl_part_given_to_another_model_is_recognised(official_checkpoint):
    sound = official_checkpoint(NATIVE_MANIFESTS / "sacl_sound.json")
    with pytest.raises(VsslevalError, match=r"'sacl \(its sound_best.pth\)'"):
        build_model("lvs", checkpoint=sound)


@pytest.mark.slow  # full-size checkpoints
def test_sacl_checkpoint_forms(tmp_path, official_checkpoint, rule_state_dict):
    frame = official_checkpoint(NATIVE_MANIFESTS / "sacl_frame.json")
    sound = official_checkpoint(NATIVE_MANIFESTS / "sacl_sound.json")
    folder = tmp_path / "pretrain"
    folder.mkdir()
    os.symlink(frame, folder / "frame_best.pth")
    os.symlink(sound, folder / "sound_best.pth")
    expected = {f"imgnet.{k}": v for k, v in rule_state_dict(NATIVE_MANIFESTS / "sacl_frame.json").items()}
    expected.update({f"audnet.{k}": v for k, v in rule_state_dict(NATIVE_MANIFESTS / "sacl_sound.json").items()})
    for form in (folder, {"imgnet": frame, "audnet": sound}, f"{frame},{sound}"):
        _assert_loaded(build_model("sacl", checkpoint=form), expected)
    with pytest.raises(VsslevalError, match="frame_best.pth, sound_best.pth"):
        build_model("sacl", checkpoint=frame)
    with pytest.raises(VsslevalError, match="part 'imgnet'"):  # swapped files
        build_model("sacl", checkpoint=[sound, frame])


@pytest.mark.slow  # full-size checkpoints
def test_sslalign_strict_despite_official_strict_false(tmp_path, rule_state_dict):
    """Known training-only extras are dropped; a missing AVENet key is an error."""
    sd = dict(rule_state_dict(shared.BEST.manifests / "sslalign.json"))
    extras = {"img_proj.weight": torch.zeros(512, 512), "img_proj.bias": torch.zeros(512),
              "vision_fc1.weight": torch.zeros(512, 1024, 1, 1), "norm3.running_mean": torch.zeros(1)}
    torch.save({"epoch": 9, "model_state_dict": {**sd, **extras}}, tmp_path / "ours.pth.tar")
    _assert_loaded(build_model("sslalign", checkpoint=tmp_path / "ours.pth.tar"), sd)
    del sd["audnet.layer4.1.bn2.running_var"]
    torch.save({"model_state_dict": sd}, tmp_path / "broken.pth.tar")
    with pytest.raises(VsslevalError, match=r"missing keys \(1\): audnet.layer4.1.bn2.running_var"):
        build_model("sslalign", checkpoint=tmp_path / "broken.pth.tar")


def test_ogl_without_weights_file_says_where_to_put_it(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    expected = tmp_path / "hub" / "checkpoints" / "resnet18-f37072fd.pth"
    with pytest.raises(VsslevalError) as info:
        build_model("ogl")
    assert str(expected) in str(info.value) and "download.pytorch.org" in str(info.value)


def test_ogl_reads_torchvision_cache(tmp_path, monkeypatch, official_checkpoint):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    target = tmp_path / "hub" / "checkpoints" / "resnet18-f37072fd.pth"
    target.parent.mkdir(parents=True)
    shutil.copy(official_checkpoint(shared.BEST.manifests / "ogl_resnet18.json"), target)
    # the substitute weights are not torchvision's bytes: present them as if they were (the name's
    # hash check itself is tested in test_weights_verified.py)
    from vssleval.models import checkpoint

    monkeypatch.setattr(checkpoint, "file_sha256", lambda path: "f37072fd" + "0" * 56)
    model = build_model("ogl")
    assert model.net.conv1.weight.shape == (64, 3, 7, 7)
    assert model.checkpoint_files == [{"part": "net", "path": str(target), "sha256": "f37072fd" + "0" * 56}]


def test_registered_names():
    assert {"ezvsl", "slavc", "fnac", "lvs", "sslalign", "ssltie", "sacl", "center", "full", "random",
            "ogl"} <= set(list_models())
