"""The shipped synth-ezvsl checkpoint: provenance, loading, and that it listens."""

from __future__ import annotations

import json
import shutil

import pytest
import torch

from vssleval.data.synthetic import synth
from vssleval.errors import VsslevalError
from vssleval.models import build_model
from vssleval.models.synth_ezvsl import shipped_checkpoint_dir, sha256_file, verified_checkpoint
from vssleval.training.ablation import audio_ablation

PTH = shipped_checkpoint_dir() / "synth-ezvsl.pth"
SIDECAR = shipped_checkpoint_dir() / "synth-ezvsl.json"


def test_shipped_files_exist_small_and_tracked_by_their_record():
    assert PTH.is_file() and SIDECAR.is_file()
    assert PTH.stat().st_size < 10 * 2**20
    rec = json.loads(SIDECAR.read_text())
    assert rec["sha256"] == sha256_file(PTH)
    for key in ("config", "steps", "final_loss", "torch", "data"):
        assert key in rec
    assert rec["data"]["split"] == "train"  # never a test split
    assert rec["config"]["steps"] == rec["steps"]


def test_build_model_without_checkpoint_loads_the_shipped_file():
    model = build_model("synth-ezvsl")
    sd = torch.load(PTH, weights_only=True)["model"]
    assert set(sd) == set(model.state_dict())
    assert all(torch.equal(model.state_dict()[k], v) for k, v in sd.items())
    rand = build_model("synth-ezvsl", random_init=True)
    assert not all(torch.equal(rand.state_dict()[k], v) for k, v in sd.items() if v.is_floating_point())


def test_tampered_checkpoint_is_refused(tmp_path):
    pth, side = tmp_path / "synth-ezvsl.pth", tmp_path / "synth-ezvsl.json"
    shutil.copy(PTH, pth)
    shutil.copy(SIDECAR, side)
    assert verified_checkpoint(pth, side) == pth
    raw = bytearray(pth.read_bytes())
    raw[-100] ^= 0xFF
    pth.write_bytes(bytes(raw))
    with pytest.raises(VsslevalError, match="SHA-256"):
        verified_checkpoint(pth, side)
    side.unlink()
    with pytest.raises(VsslevalError, match="missing"):
        verified_checkpoint(pth, side)


@pytest.fixture(scope="module")
def small_is3(tmp_path_factory):
    # a test-split draw other than the default seed 0: 20 scenes, 40 records
    return synth("is3", 40, 3, tmp_path_factory.mktemp("is3") / "d", split="test")


def test_shipped_model_picks_the_sounding_object(small_is3):
    res = audio_ablation(data_dir=str(small_is3))
    # audio-agnostic maps are identical for both records of a scene: exactly 1/2
    assert res["center"]["pick_rate"] == pytest.approx(0.5)
    assert res["mean_audio"]["pick_rate"] == pytest.approx(0.5)
    assert res["model"]["pick_rate"] >= 0.75
    assert res["model"]["ciou_adap"] > res["center"]["ciou_adap"] + 0.1
    assert res["model"]["max_positive_median"] > res["model"]["max_silence_median"]
    assert res["model"]["max_positive_median"] > res["model"]["max_noise_median"]


def test_untrained_weights_do_not_pass_the_same_bar(small_is3, tmp_path):
    torch.manual_seed(0)
    rand = build_model("synth-ezvsl", random_init=True)
    torch.save({"model": rand.state_dict()}, tmp_path / "rand.pth")
    res = audio_ablation(checkpoint=str(tmp_path / "rand.pth"), data_dir=str(small_is3))
    assert res["model"]["pick_rate"] < 0.75
