"""The training script runs, is deterministic given its seed, and writes a loadable record."""

from __future__ import annotations

import json

import pytest
import torch

from vssleval.cli import main
from vssleval.errors import VsslevalError
from vssleval.models import build_model
from vssleval.models.synth_ezvsl import sha256_file
from vssleval.training.synthetic import (TrainConfig, mil_contrastive_loss, model_config, prepare_data,
                                         save_checkpoint, train)

TINY_MODEL = {"dim": 8,
              "visual": {"arch": "small_cnn", "in_channels": 3, "channels": [4, 8, 8], "input_pool": 4},
              "audio": {"arch": "small_cnn", "in_channels": 1, "channels": [4, 8], "input_pool": 4, "pool": "max"}}


def tiny(**kw) -> TrainConfig:
    base = dict(n_vggss=6, n_is3=6, steps=3, batch_size=6, warmup_steps=1, model_overrides=TINY_MODEL)
    base.update(kw)
    return TrainConfig(**base)


@pytest.fixture(scope="module")
def data(tmp_path_factory):
    return prepare_data(tiny(), tmp_path_factory.mktemp("train-data"))


def _weights(cfg, data):
    model, summary = train(cfg, data)
    return {k: v.clone() for k, v in model.state_dict().items()}, summary


def test_data_is_the_train_split_through_the_preset_pipelines(data):
    # 6 VGG-SS pictures + 3 IS3 scenes (two records each share one picture)
    assert data.audio.shape == (12, 1, 257, 200)
    assert data.images.shape == (9, 3, 224, 224)
    assert data.visible.sum(1).tolist() == [1] * 6 + [2] * 6
    assert all("-train-" in p for p in data.sources.values())


def test_same_seed_gives_identical_weights_and_another_seed_does_not(data):
    a, sa = _weights(tiny(), data)
    b, sb = _weights(tiny(), data)
    c, _ = _weights(tiny(seed=1), data)
    assert a.keys() == b.keys()
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert sa["final_loss"] == sb["final_loss"]
    assert any(not torch.equal(a[k], c[k]) for k in a if a[k].is_floating_point())


def test_training_lowers_the_loss(data):
    _, s = _weights(tiny(steps=25, lr=3e-3), data)
    assert s["final_loss_mean20"] < s["first_loss"]


def test_mil_loss_is_ezvsl_and_masks_only_off_diagonal():
    torch.manual_seed(0)
    v = torch.nn.functional.normalize(torch.randn(3, 5, 2, 2), dim=1)
    a = torch.nn.functional.normalize(torch.randn(3, 5), dim=1)
    logits = torch.einsum("nchw,mc->nmhw", v, a).flatten(2).max(-1)[0] / 0.1
    want = (torch.nn.functional.cross_entropy(logits, torch.arange(3))
            + torch.nn.functional.cross_entropy(logits.t(), torch.arange(3)))
    assert torch.allclose(mil_contrastive_loss(v, a, 0.1), want)
    mask = torch.zeros(3, 3, dtype=torch.bool)
    mask[0, 1] = True
    masked = mil_contrastive_loss(v, a, 0.1, mask)
    assert torch.isfinite(masked) and not torch.allclose(masked, want)


def test_checkpoint_container_and_sidecar(tmp_path, data):
    cfg = tiny(steps=2)
    model, summary = train(cfg, data)
    pth, side = save_checkpoint(model, tmp_path / "m.pth", cfg, data, summary)
    obj = torch.load(pth, weights_only=True)
    assert set(obj) == {"model"}
    rec = json.loads(side.read_text())
    assert rec["sha256"] == sha256_file(pth)
    assert rec["data"]["split"] == "train" and rec["data"]["seed"] == cfg.data_seed
    assert rec["steps"] == 2 and rec["config"]["seed"] == cfg.seed and rec["torch"] == torch.__version__
    loaded = build_model("synth-ezvsl", checkpoint=pth, config=model_config(cfg))
    assert all(torch.equal(loaded.state_dict()[k], v) for k, v in model.state_dict().items())
    with pytest.raises(VsslevalError, match="does not fit"):  # the tiny file is not the shipped model
        build_model("synth-ezvsl", checkpoint=pth)


def test_cli_subcommand_trains_and_writes(tmp_path, capsys):
    out = tmp_path / "cli.pth"
    rc = main(["train-synthetic", "--steps", "1", "--n-vggss", "2", "--n-is3", "2", "--batch-size", "4",
               "--warmup-steps", "1", "--out", str(out), "--data-root", str(tmp_path / "d")])
    assert rc == 0 and out.is_file()
    rec = json.loads(out.with_suffix(".json").read_text())
    assert rec["steps"] == 1 and rec["data"]["records"] == 4
    build_model("synth-ezvsl", checkpoint=out)  # the full architecture: strict load succeeds
    assert "[done]" in capsys.readouterr().out


@pytest.mark.parametrize("field, value", [("steps", 0), ("batch_size", 0), ("threads", 0), ("lr", -1.0),
                                          ("tau", 0.0), ("warmup_steps", -1)])
def test_bad_config_values_refused(field, value):
    """Once a traceback (steps 0, threads 0, lr < 0) or a checkpoint trained on NaN losses (batch size 0)."""
    with pytest.raises(VsslevalError, match=f"--{field.replace('_', '-')} must be"):
        tiny(**{field: value})


def test_bool_option_typo_is_an_error(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["train-synthetic", "--hflip", "flase", "--out", "/nonexistent/x.pth"])
    assert exc.value.code == 2 and "expected true/false" in capsys.readouterr().err


def test_checkpoint_is_never_written_through_a_link(tmp_path, data):
    """Issue 19 (nothing outside the output): links at the checkpoint's path, its old fixed temp
    name and its sidecar are replaced by fresh files; their targets keep their bytes."""
    import os

    outside = tmp_path / "outside"
    outside.mkdir()
    targets = {name: outside / name for name in ("a", "b", "c")}
    for name, path in targets.items():
        path.write_text(f"keep {name}")
    os.symlink(targets["a"], tmp_path / "m.pth")
    os.symlink(targets["b"], tmp_path / "m.pth.tmp")
    os.symlink(targets["c"], tmp_path / "m.json")
    cfg = tiny(steps=1)
    model, summary = train(cfg, data)
    pth, side = save_checkpoint(model, tmp_path / "m.pth", cfg, data, summary)
    assert {n: p.read_text() for n, p in targets.items()} == {"a": "keep a", "b": "keep b", "c": "keep c"}
    assert not pth.is_symlink() and not side.is_symlink() and set(torch.load(pth, weights_only=True)) == {"model"}
