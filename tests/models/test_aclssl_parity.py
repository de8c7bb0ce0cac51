"""ACL-SSL (``aclssl``) against its official test path, stage by stage, and its checkpoint loading.

The goldens ``tests/fixtures/aclssl/stages.npz`` were written by ``scripts/reference/aclssl_stage_goldens.py``
from the official modules of swimmiing/ACL-SSL @ 57f4a6c under transformers 4.25.1 (torch 2.14.1,
CPU), on two clips of ``tests/fixtures/data/vggss`` (a 10 s clip and a 4.5 s one that is
zero-padded), with the substitute weights of the ACL weight rule
(``scripts/reference/aclssl_weights.py``). The weights are regenerated from that rule
(deterministic), written in the release containers, and loaded as users load the release: one
``--checkpoint DIR`` (the CLIPSeg part found in a Hugging Face cache instead of DIR, so that path
is covered too). The stages are those the model computed in the session's evaluation run of the
extended golden's samples (``aclssl_run`` in tests/models/conftest.py, shared with
test_aclssl_extended.py), captured as each left its module; the two clips are 2 of its positives.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from vssleval.errors import VsslevalError
from vssleval.frontends.pipeline import from_preset
from vssleval.metrics.upsample import upsample
from vssleval.models import MapRule, build_model, load_model_config
from vssleval.models import registry
from vssleval.models.checkpoint import read_checkpoint

ROOT = Path(__file__).resolve().parents[2]
GOLDEN = ROOT / "tests" / "fixtures" / "aclssl" / "stages.npz"
DATA = ROOT / "tests" / "fixtures" / "data" / "vggss"
THRESHOLDS = [round(0.05 * i, 2) for i in range(1, 20)]  # ACL-SSL's evaluator sweep
#: this module builds the session's ACL-SSL release and its evaluation run (tests/models/conftest.py)
#: that test_aclssl_extended.py reads too: under xdist it starts early, so that one waits little
pytestmark = pytest.mark.heavy(35)


@pytest.fixture(scope="module")
def outputs(aclssl_run):
    """Every stage of ``aclssl`` on the golden's clips, as the session's evaluation run computed them
    (``aclssl_run``, tests/models/conftest.py: the clips are 2 of its positives, read through the
    native preset's front-ends): the run's rows whose image and audio inputs are each clip's."""
    golden = np.load(GOLDEN)
    calls = aclssl_run.calls
    audio, image = from_preset(load_model_config("aclssl")["presets"]["native"])
    clips = [str(c) for c in golden["clips"]]
    same = lambda inputs, x: torch.all((inputs == x).flatten(1), dim=1)  # noqa: E731
    rows = []
    for c in clips:
        hit = same(calls["encode_image_input"], image.load(DATA / "frames" / f"{c}.jpg")) & same(
            calls["encode_audio_input"], audio.positive(DATA / "audio" / f"{c}.wav"))
        assert hit.any(), f"clip {c} is not a positive of the run"
        rows.append(int(torch.nonzero(hit)[0]))
    images, fbank, visual = calls["encode_image_input"][rows], calls["encode_audio_input"][rows], calls["encode_image"][rows]
    feats, token, emb = calls["beats"][rows], calls["fga"][rows], calls["encode_audio"][rows]
    logits, raw = calls["logits"][rows], calls["localize"][rows]
    # encode_audio is the FGA token of BEATs' layers through the prompt; localize is the logits + b/w
    assert calls["beats"].shape[0] == calls["fga"].shape[0] == calls["encode_audio"].shape[0]
    import aclssl_weights_rule  # loaded by the release fixture (tests/models/conftest.py)

    masker = aclssl_weights_rule.MASKER_B / aclssl_weights_rule.MASKER_W
    assert torch.allclose(raw, logits + masker, rtol=0, atol=1e-5)
    rule = MapRule.from_config(load_model_config("aclssl")["presets"]["native"]["map"])
    heat = torch.sigmoid(upsample(raw, rule.upsample_op("positive"), 224))
    assert rule.normalize == "sigmoid"
    return {"model": aclssl_run.model, "image": images[:, :, ::16, ::16], "fbank": fbank[:, ::25],
            "vit": visual[:, :, golden["vit_tokens"]], "beats": feats[:, golden["beats_tokens"]],
            "token": token, "embedding": emb, "logits": logits[:, ::4, ::4], "heatmap": heat}


def _rel(ours: torch.Tensor, ref: np.ndarray) -> float:
    """Largest absolute difference relative to the reference's largest magnitude."""
    ref_t = torch.from_numpy(ref).to(torch.float64)
    return float((ours.to(torch.float64) - ref_t).abs().max() / ref_t.abs().max())


@pytest.mark.parametrize("stage,bound", [
    ("image", 0.0),          # PIL bicubic 352 + CLIP mean/std: the same float ops
    ("fbank", 1e-6),         # Kaldi fbank without torchaudio (bit for bit on this machine)
    ("vit", 1e-5),           # CLIP ViT-B/16 at 352, layers 4/7/10
    ("beats", 1e-5),         # BEATs layers 4/8/12
    ("token", 1e-5),         # FGA audio token
    ("embedding", 1e-5),     # the prompt through CLIP's text encoder + projection
    ("logits", 1e-4),        # FiLM decoder
    ("heatmap", 1e-4),       # sigmoid(bicubic_224(logits) + b/w)
])
def test_each_stage_matches_the_official_code(outputs, stage, bound):
    err = _rel(outputs[stage], np.load(GOLDEN)[stage])
    assert err <= bound, f"{stage}: relative error {err:.2e} > {bound:.0e}"


def test_pixel_masks_at_the_19_thresholds_are_exact(outputs):
    ours = outputs["heatmap"].numpy()
    ref = np.load(GOLDEN)["heatmap"]
    for thr in THRESHOLDS:
        t = np.float32(thr)
        safe = np.abs(ref - t) > 1e-5  # a value within rounding of the threshold may fall either way
        assert np.array_equal((ours >= t)[safe], (ref >= t)[safe]), thr
        assert 0 < (ref >= t).sum() < ref.size or thr in (0.05, 0.95), thr  # the thresholds discriminate


def test_the_run_records_all_three_parts_with_their_sha256(outputs, release):
    files = outputs["model"]["checkpoint_files"]
    assert [f["part"] for f in files] == ["acl", "beats", "clipseg"]
    assert Path(files[2]["path"]).name == "pytorch_model.bin" and "models--CIDAS--clipseg-rd64-refined" in files[2]["path"]
    assert all(len(f["sha256"]) == 64 for f in files)


def test_a_missing_part_is_named_with_its_release(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HOME", str(tmp_path / "empty"))
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty"))
    monkeypatch.setattr(Path, "home", lambda: tmp_path)
    # every refusal below comes before the network is built (a ViT-B/16 + BEATs: seconds)
    monkeypatch.setattr(registry, "_instantiate", lambda *a: pytest.fail("built before the files were checked"))
    (tmp_path / "Param_best.pth").write_bytes(b"")
    with pytest.raises(VsslevalError) as err:
        build_model("aclssl", checkpoint=str(tmp_path), preset="native")
    msg = str(err.value)
    # named before any part is read (the empty Param_best.pth would fail to read)
    assert "'beats'" in msg and "github.com/microsoft/unilm" in msg and "\n" not in msg
    assert "'clipseg'" in msg and "'acl'" not in msg
    (tmp_path / "BEATs_iter3_plus_AS2M_finetuned_on_AS2M_cpt2.pt").write_bytes(b"")
    with pytest.raises(VsslevalError) as err:
        build_model("aclssl", checkpoint=str(tmp_path), preset="native")
    assert "'clipseg'" in str(err.value) and "huggingface.co/CIDAS/clipseg-rd64-refined" in str(err.value)
    (tmp_path / "clipseg-rd64-refined").mkdir()
    (tmp_path / "clipseg-rd64-refined" / "pytorch_model.bin").write_bytes(b"")
    _config_json(tmp_path / "clipseg-rd64-refined")
    with pytest.raises(VsslevalError, match="Param_best.pth: the file is truncated"):
        build_model("aclssl", checkpoint=str(tmp_path), preset="native")


def _config_json(folder: Path, **changes) -> None:
    """A config.json with the values the YAML expects (dotted keys nested), ``changes`` applied."""
    expected = load_model_config("aclssl")["checkpoint"]["hf_folders"]["clipseg"]["expect_config"]
    config: dict = {"architectures": ["CLIPSegForImageSegmentation"]}
    for key, value in {**expected, **changes}.items():
        *path, last = key.split(".")
        node = config
        for step in path:
            node = node.setdefault(step, {})
        node[last] = value
    (folder / "config.json").write_text(json.dumps(config))


def test_the_clipseg_part_is_looked_up_in_the_folder_then_the_hf_cache(tmp_path, monkeypatch):
    from vssleval.models.checkpoint import resolve_hf_folder

    cfg = load_model_config("aclssl")["checkpoint"]
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "hub"))
    with pytest.raises(VsslevalError, match="huggingface.co/CIDAS/clipseg-rd64-refined"):
        resolve_hf_folder("clipseg", tmp_path / "clipseg-rd64-refined", cfg, "aclssl")
    (tmp_path / "clipseg-rd64-refined").mkdir()
    with pytest.raises(VsslevalError, match="holds none of"):
        resolve_hf_folder("clipseg", tmp_path / "clipseg-rd64-refined", cfg, "aclssl")
    (tmp_path / "clipseg-rd64-refined" / "model.safetensors").write_bytes(b"x")
    with pytest.raises(VsslevalError, match="has no config.json"):
        resolve_hf_folder("clipseg", tmp_path / "clipseg-rd64-refined", cfg, "aclssl")
    _config_json(tmp_path / "clipseg-rd64-refined")
    assert resolve_hf_folder("clipseg", tmp_path / "clipseg-rd64-refined", cfg, "aclssl").name == "model.safetensors"
    (tmp_path / "clipseg-rd64-refined" / "pytorch_model.bin").write_bytes(b"x")  # preferred when both
    assert resolve_hf_folder("clipseg", tmp_path / "clipseg-rd64-refined", cfg, "aclssl").name == "pytorch_model.bin"
    snap = tmp_path / "hub" / "models--CIDAS--clipseg-rd64-refined" / "snapshots" / "abc"
    snap.mkdir(parents=True)
    (snap / "model.safetensors").write_bytes(b"x")
    _config_json(snap)
    assert resolve_hf_folder("clipseg", tmp_path / "nowhere", cfg, "aclssl") == snap / "model.safetensors"


@pytest.mark.parametrize("changes,named", [
    ({"extract_layers": [2, 5, 8]}, "extract_layers = [2, 5, 8], expected [3, 6, 9]"),
    ({"conditional_layer": 1}, "conditional_layer = 1"),
    ({"vision_config.patch_size": 32}, "vision_config.patch_size = 32"),
])
def test_a_clipseg_folder_of_another_configuration_is_refused(tmp_path, changes, named):
    """Settings that change the network but no weight's shape: the strict key check cannot see them."""
    from vssleval.models.checkpoint import resolve_hf_folder

    cfg = load_model_config("aclssl")["checkpoint"]
    (tmp_path / "pytorch_model.bin").write_bytes(b"x")
    _config_json(tmp_path, **changes)
    with pytest.raises(VsslevalError, match=re.escape(named)):
        resolve_hf_folder("clipseg", tmp_path, cfg, "aclssl")
    (tmp_path / "config.json").write_text("{not json")
    with pytest.raises(VsslevalError, match="cannot read"):
        resolve_hf_folder("clipseg", tmp_path, cfg, "aclssl")


def test_a_safetensors_file_without_the_extra_gives_an_install_hint(tmp_path, monkeypatch):
    path = tmp_path / "model.safetensors"
    path.write_bytes(b"\x08\x00\x00\x00\x00\x00\x00\x00{}      ")
    monkeypatch.setitem(sys.modules, "safetensors", None)
    monkeypatch.setitem(sys.modules, "safetensors.torch", None)
    with pytest.raises(VsslevalError,
                       match=r"pip install safetensors \(in the repository checkout: pip install -e '\.\[aclssl\]'\)"):
        read_checkpoint(path)


def test_a_part_in_the_wrong_slot_is_refused_naming_the_part(tmp_path):
    sd = {"audio_proj.fc1.weight": torch.zeros(2, 2), "masker_i.w": torch.tensor(1.0)}
    torch.save({"audio_proj": {"fc1.weight": torch.zeros(2, 2)}, "masker_i": {"w": torch.tensor(1.0)}},
               tmp_path / "Param_best.pth")
    beats_cfg = dict(load_model_config("aclssl")["checkpoint"]["part_config"]["beats"]["expect"])
    torch.save({"cfg": beats_cfg, "model": sd}, tmp_path / "BEATs_iter3_plus_AS2M_finetuned_on_AS2M_cpt2.pt")
    (tmp_path / "clipseg-rd64-refined").mkdir()
    # every part is read before any is matched (registry.build_model): the CLIPSeg one must read
    torch.save({"w": torch.zeros(1)}, tmp_path / "clipseg-rd64-refined" / "pytorch_model.bin")
    _config_json(tmp_path / "clipseg-rd64-refined")
    with pytest.raises(VsslevalError) as err:
        build_model("aclssl", checkpoint=str(tmp_path), preset="native")
    assert "part 'acl'" in str(err.value) and "missing keys" in str(err.value)
    assert "drive.google.com/file/d/1XnVrBES3IKjAcV0uCkvbIdEEclcOYJoR" in str(err.value)


def test_the_compat_protocol_refuses_aclssl_in_one_line():
    from vssleval.metrics.protocols.juanola2025 import Juanola2025Protocol
    from vssleval.metrics.protocols import ProtocolRefusal

    with pytest.raises(ProtocolRefusal) as err:
        Juanola2025Protocol().thresholds(load_model_config("aclssl"), "aclssl")
    assert "\n" not in str(err.value) and "aclssl" in str(err.value)


@pytest.mark.parametrize("cfg, named", [
    ({"layer_norm_first": True, "deep_norm": False}, ["layer_norm_first = true, expected false",
                                                      "deep_norm = false, expected true"]),
    ({"encoder_attention_heads": 8}, ["encoder_attention_heads = 8, expected 12"]),
    (None, ["has no 'cfg' entry"]),
])
def test_a_beats_file_of_another_configuration_is_refused(release, tmp_path, monkeypatch, cfg, named):
    """Settings in BEATs' stored cfg that change the network without changing a weight's shape are
    checked before its weights are read (YAML ``part_config``, docs/models.md §17.3)."""
    import shutil

    import aclssl_weights_rule  # loaded by the release fixture (tests/models/conftest.py)

    monkeypatch.setenv("HF_HOME", str(release / "hf"))
    shutil.copy2(release / "ckpt" / "Param_best.pth", tmp_path / "Param_best.pth")
    good = dict(aclssl_weights_rule.BEATS_CFG)
    obj = {"model": {}} if cfg is None else {"cfg": {**good, **cfg}, "model": {}}
    torch.save(obj, tmp_path / "BEATs_iter3_plus_AS2M_finetuned_on_AS2M_cpt2.pt")
    with pytest.raises(VsslevalError) as err:
        build_model("aclssl", checkpoint=str(tmp_path), preset="native")
    msg = str(err.value)
    assert "part 'beats'" in msg and "github.com/microsoft/unilm" in msg and "\n" not in msg
    for text in named:
        assert text in msg
