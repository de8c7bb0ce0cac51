"""Registry, configs, key layouts, map rules, baselines and user models (file and entry point)."""

from __future__ import annotations

import textwrap
from importlib import metadata

import pytest
import torch

import shared
from vssleval.errors import VsslevalError
from vssleval.models import MapRule, build_model, list_models, load_model_file, registry
from zoo_helpers import NATIVE_MANIFESTS, PIPELINES


def _meta_shapes(name: str) -> dict:
    return registry._expected_shapes(name)


@pytest.mark.parametrize("name", sorted(PIPELINES) + ["ogl_resnet18"])
def test_key_layout_equals_official_manifest(name):
    """Built from its YAML, each model has exactly the official keys and shapes."""
    manifest = shared.manifest(shared.BEST.manifests / f"{name}.json")
    want = {t["key"]: tuple(t["shape"]) for t in manifest["tensors"]}
    if name == "ogl_resnet18":  # the OGL model holds torchvision's resnet18 as part ``net``
        got = {k[len("net."):]: s for k, s in _meta_shapes("ogl").items()}
    else:
        got = _meta_shapes(name)
    assert got == want


def test_sacl_key_layout_equals_both_manifests():
    got = _meta_shapes("sacl")
    for part, prefix in (("sacl_frame", "imgnet."), ("sacl_sound", "audnet.")):
        manifest = shared.manifest(NATIVE_MANIFESTS / f"{part}.json")
        want = {prefix + t["key"]: tuple(t["shape"]) for t in manifest["tensors"]}
        assert {k: s for k, s in got.items() if k.startswith(prefix)} == want


def test_map_rules():
    cos = torch.tensor([[[-1.0, 0.0, 0.5]]])
    assert torch.allclose(MapRule(raw="cos_over_tau").raw_from_cosine(cos), cos / 0.03)
    assert torch.allclose(MapRule(raw="unit_range").raw_from_cosine(cos), torch.tensor([[[0.0, 0.5, 0.75]]]))
    assert MapRule().raw_from_cosine(cos) is cos
    lvs = build_model("lvs", random_init=True).map_rule  # juanola2025 quirk: per-dataset upsampling
    assert lvs.upsample_op("positive", "vggss") == "cv2_linear"
    assert lvs.upsample_op("positive", "is3") == "bilinear_ac"
    assert lvs.upsample_op("silence", "is3") == "cv2_linear"
    assert build_model("slavc", preset="native", random_init=True).map_rule.normalize == "fixed_range"
    with pytest.raises(VsslevalError, match="unknown op"):
        MapRule.from_config({"upsample": {"positive": "nearest"}})
    with pytest.raises(VsslevalError, match="map.raw"):
        MapRule.from_config({"raw": "softmax"})


def test_native_and_juanola_differ_only_by_map_rule():
    torch.manual_seed(0)
    native = build_model("ezvsl", preset="native", random_init=True)
    juanola = build_model("ezvsl", random_init=True)
    juanola.load_state_dict(native.state_dict())
    x, a = torch.randn(2, 3, 64, 64), torch.randn(2, 1, 64, 40)
    with torch.no_grad():
        assert torch.allclose(juanola(x, a), (native(x, a) * 0.03 + 1) / 2, atol=1e-6)


def test_ez_family_accepts_other_backbones_through_config():
    """The path the embedded default model will use: EZ-VSL head on small CNN towers."""
    cfg = {"model": {"dim": 16, "visual": {"arch": "small_cnn", "channels": [8, 16, 32]},
                     "audio": {"arch": "small_cnn", "in_channels": 1, "channels": [8, 16], "pool": "max"}}}
    model = build_model("ezvsl", config=cfg, random_init=True)
    with torch.no_grad():
        v = model.encode_image(torch.randn(3, 3, 224, 224))
        a = model.encode_audio(torch.randn(5, 1, 257, 200))
        assert v.shape == (3, 1, 16, 28, 28) and a.shape == (5, 1, 16)
        assert model.localize(v[:1], a).shape == (5, 28, 28)
        with pytest.raises(VsslevalError, match="cannot pair"):
            model.localize(v, a)


def test_baselines_ignore_audio_and_are_reproducible():
    images = torch.randn(3, 3, 224, 224)
    with torch.no_grad():
        full = build_model("full")(images, torch.randn(3, 1, 257, 200))
        center = build_model("center")(images, torch.zeros(3, 1, 5, 5))
        rnd = build_model("random")
        r1 = rnd(images, torch.randn(3, 1, 9, 9))
        r2 = rnd.localize(rnd.encode_image(images[1:2]), rnd.encode_audio(torch.zeros(4, 2)))
        other_seed = build_model("random", config={"model": {"seed": 1}})(images, torch.zeros(3, 1))
    assert full.shape == (3, 224, 224) and bool((full == 1).all())
    assert center.shape == (3, 224, 224) and center[0, 111:113, 111:113].min() == center.max()
    assert center[0, 0, 0] < 0.05
    assert r1.shape == (3, 224, 224) and not torch.equal(r1[0], r1[1])
    assert r2.shape == (4, 224, 224) and torch.equal(r2[2], r1[1])
    assert not torch.equal(other_seed, r1)


USER_MODEL = textwrap.dedent('''
    import torch
    from torch import nn

    class MyModel(nn.Module):
        """Image-energy model: a 1x1 conv on a 4x4 average-pooled image, ignores audio."""
        model_name = "my_energy"

        def __init__(self, scale=1.0):
            super().__init__()
            self.proj = nn.Conv2d(3, 1, 1)
            self.scale = scale

        def encode_image(self, images):
            return self.proj(nn.functional.avg_pool2d(images, 56))[:, 0] * self.scale

        def encode_audio(self, audio):
            return audio.flatten(1).mean(1)

        def localize(self, visual, audio):
            return visual + 0 * audio[:, None, None]
''')

USER_YAML = textwrap.dedent('''
    name: my_energy
    model: {scale: 2.0}
    checkpoint: {file: energy.pth, container_key: model}
    presets:
      juanola2025:
        map: {raw: identity, upsample: {positive: bilinear}}
''')


def test_model_from_a_file_in_five_minutes(tmp_path, monkeypatch):
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    (tmp_path / "energy.py").write_text(USER_MODEL)
    (tmp_path / "energy.yaml").write_text(USER_YAML)
    state = {"proj.weight": torch.ones(1, 3, 1, 1), "proj.bias": torch.zeros(1)}
    torch.save({"model": {"module." + k: v for k, v in state.items()}}, tmp_path / "energy.pth")
    model = build_model(f"{tmp_path / 'energy.py'}:MyModel", checkpoint=tmp_path / "energy.pth")
    assert "my_energy" in list_models() and model.scale == 2.0
    assert model.map_rule.upsample_op("silence") == "bilinear"
    images = torch.ones(2, 3, 224, 224)
    with torch.no_grad():
        out = model.localize(model.encode_image(images), model.encode_audio(torch.zeros(2, 10)))
    assert out.shape == (2, 4, 4) and torch.allclose(out, torch.full((2, 4, 4), 6.0))
    # a foreign checkpoint still fails strictly
    torch.save({"model": {"proj.weight": torch.ones(1, 3, 1, 1)}}, tmp_path / "bad.pth")
    with pytest.raises(VsslevalError, match="missing keys"):
        build_model("my_energy", checkpoint=tmp_path / "bad.pth")


def test_model_file_errors(tmp_path, monkeypatch):
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    (tmp_path / "half.py").write_text("from torch import nn\nclass Half(nn.Module):\n"
                                      "    def encode_image(self, x): return x\n")
    with pytest.raises(VsslevalError, match="lacks"):
        build_model(f"{tmp_path / 'half.py'}:Half", random_init=True)
    with pytest.raises(VsslevalError, match="defines no class"):
        load_model_file(f"{tmp_path / 'half.py'}:Nope")
    with pytest.raises(VsslevalError, match="path.py:ClassName"):
        load_model_file("half.py")
    (tmp_path / "clash.py").write_text("class Clash:\n    model_name = 'ezvsl'\n")
    with pytest.raises(VsslevalError, match="already registered"):
        load_model_file(f"{tmp_path / 'clash.py'}:Clash")


def test_entry_point_model(tmp_path, monkeypatch):
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))
    monkeypatch.setattr(registry, "_ENTRY_POINTS_SCANNED", False)
    (tmp_path / "vssl_plugin_energy.py").write_text(USER_MODEL + "\nMyModel.default_config = "
                                                    "{'model': {'scale': 3.0}}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    ep = metadata.EntryPoint(name="plugin_energy", value="vssl_plugin_energy:MyModel",
                             group=registry.ENTRY_POINT_GROUP)
    real = metadata.entry_points
    monkeypatch.setattr(registry.metadata, "entry_points",
                        lambda **kw: [ep] if kw.get("group") == registry.ENTRY_POINT_GROUP else real(**kw))
    assert "plugin_energy" in list_models()
    model = build_model("plugin_energy", random_init=True)
    assert model.scale == 3.0 and model.name == "plugin_energy"
