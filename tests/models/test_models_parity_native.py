"""Parity with each model's own repository pipeline (fixtures ``native/``), preset ``native``.

Inputs are the golden model inputs (full set: the 8 stored ones; bundle: those of its samples,
rebuilt and checked row by row, see ``golden_inputs``); the raw map must match
``max|a-b|/max|b| <= 1e-4``. The map
unit differs from ``juanola2025`` only through the preset's ``map.raw`` (EZ-VSL/SLAVC: cos/0.03).
FNAC has no native fixture: it is checked against the specs' definition (models_a.md §1.1, §4),
computed here from plain torchvision modules, independent of the zoo code (specs of the fixture set).
The zoo's ResNet-18 tower (``vssleval/models/resnet18.py``, plain torch: it no longer imports
torchvision) is held to torchvision's ``ResNet``/``BasicBlock`` module for module: the same keys in
the same order, the same seeded random weights (the same draws in the same order), the same maps
bit for bit (:func:`test_the_tower_is_torchvision_resnet18`, no fixture needed).

With the full set, the end-to-end engine test compares the raw and 224 maps of all 8 clips of every
native golden run from raw files, so the raw-map and 224-map checks here are ``bundle_only``
(deselected then, see ``tests/conftest.py``); FNAC's, which the engine test has no golden for, stays.
"""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F
import torchvision
from torch import nn
from torchvision.models.resnet import BasicBlock, ResNet

import shared
from golden_inputs import juanola_inputs, native_inputs, native_map224
from vssleval.models import build_model
from vssleval.models.maps import MapRule
from vssleval.models.registry import load_model_config, preset_block
from vssleval.models.resnet18 import ResNet18
from zoo_helpers import MANIFESTS, NATIVE_MANIFESTS, TOL, load_npz, rel_l2, rel_max

#: the native golden runs of one-file checkpoints (SACL has two files: its own test below)
SINGLE_FILE = tuple(m for m in shared.native_models() if m != "sacl")
pytestmark = pytest.mark.parity


def _native_check(model, name, fx):
    x = native_inputs(fx, name)
    golden = load_npz(str(fx.native / f"{name}.npz"))["raw_map"][x["rows"]]
    with torch.no_grad():
        visual = model.encode_image(torch.from_numpy(x["image_input"]))
        raw = model.localize(visual, model.encode_audio(torch.from_numpy(x["audio_input"]))).numpy()
    assert raw.shape == golden.shape and len(raw) >= 3
    err = rel_max(raw, golden)
    assert err <= TOL, f"{name} native raw map: rel err {err:.3g}"


@shared.bundle_only
@pytest.mark.parametrize("fx", shared.sources())
@pytest.mark.parametrize("name", SINGLE_FILE)
def test_native_raw_map(name, fx, official_checkpoint):
    ckpt = official_checkpoint(NATIVE_MANIFESTS / f"{name}.json")
    _native_check(build_model(name, checkpoint=ckpt, preset="native"), name, fx)


@shared.bundle_only
@pytest.mark.parametrize("fx", shared.sources())
def test_native_sacl_two_files(fx, official_checkpoint):
    frame = official_checkpoint(NATIVE_MANIFESTS / "sacl_frame.json")
    sound = official_checkpoint(NATIVE_MANIFESTS / "sacl_sound.json")
    _native_check(build_model("sacl", checkpoint=[frame, sound], preset="native"), "sacl", fx)


@shared.bundle_only
@pytest.mark.parametrize("fx", shared.sources())
@pytest.mark.parametrize("name", shared.native_models())
def test_native_map224_from_golden_raw_map(name, fx):
    """The golden 224 map(s) of a native run (the bundle keeps one clip's, ``map224_ids``) are the
    preset's upsampling and normalisation of the golden raw map: the map rule of the model's YAML."""
    golden = load_npz(str(fx.native / f"{name}.npz"))
    ids = [str(i) for i in golden["ids"]]
    rows = [ids.index(str(i)) for i in golden["map224_ids"]] if "map224_ids" in golden else list(range(len(ids)))
    rule = MapRule.from_config(preset_block(load_model_config(name), "native", name).get("map"))
    ours = native_map224(golden["raw_map"][rows], rule, "vggss")
    assert ours.shape == golden["map224"].shape and len(ours) >= 1
    assert float(np.abs(ours - golden["map224"]).max()) <= TOL


def _spec_fnac_reference(sd: dict, images: torch.Tensor, specs: torch.Tensor, tau: float = 0.03):
    """FNAC Savl from the specs' words, on torchvision's resnet18 (not the zoo's code)."""
    img = torchvision.models.resnet18()
    img.avgpool, img.fc = torch.nn.Identity(), torch.nn.Identity()
    aud = torchvision.models.resnet18()
    aud.conv1 = torch.nn.Conv2d(1, 64, 7, 2, 3, bias=False)
    aud.avgpool, aud.fc = torch.nn.AdaptiveMaxPool2d((1, 1)), torch.nn.Identity()
    img_proj, aud_proj = torch.nn.Conv2d(512, 512, 1), torch.nn.Linear(512, 512)
    for prefix, mod in (("imgnet.", img), ("audnet.", aud), ("img_proj.", img_proj), ("aud_proj.", aud_proj)):
        mod.load_state_dict({k[len(prefix):]: v for k, v in sd.items() if k.startswith(prefix)})
        mod.eval()
    v = F.normalize(img_proj(img(images).unflatten(1, (512, 7, 7))), dim=1)
    a = F.normalize(aud_proj(aud(specs)), dim=1)
    full = torch.einsum("nchw,mc->nmhw", v, a) / tau
    return torch.diagonal(full, dim1=0, dim2=1).permute(2, 0, 1)


@pytest.mark.parametrize("fx", shared.sources())
def test_fnac_native_against_spec_definition(fx, official_checkpoint, rule_state_dict):
    """No native FNAC fixture exists: compare with the spec formula (cos/tau, [-33.3, 33.3]) and
    check that the juanola2025 map is its ((x*tau)+1)/2 rescale, which the golden file pins."""
    manifest = MANIFESTS / "fnac.json"
    native = build_model("fnac", checkpoint=official_checkpoint(manifest), preset="native")
    juanola = build_model("fnac", checkpoint=official_checkpoint(manifest), preset="juanola2025")
    inputs = juanola_inputs(fx, "vggss")
    rows = inputs["rows"][:4]
    images = torch.from_numpy(inputs["image"][:4])
    specs = torch.from_numpy(inputs["spec_pos_pfnac3s"][:4])
    with torch.no_grad():
        ref = _spec_fnac_reference(rule_state_dict(manifest), images, specs).numpy()
        raw = native(images, specs).numpy()
        unit = juanola(images, specs).numpy()
    assert rel_max(raw, ref) <= TOL
    assert np.abs(raw).max() <= 1 / 0.03 + 1e-3
    golden = load_npz(str(fx.models / "fnac_vggss.npz"))["raw_pos"][rows]
    assert rel_l2(unit, golden) <= TOL
    np.testing.assert_allclose(unit, (raw * 0.03 + 1) / 2, rtol=0, atol=1e-6)


class _TorchvisionTower(ResNet):
    """The tower as it was built on torchvision's classes (the stems re-created, layer4's stride
    changed, ``avgpool`` and maybe ``fc`` deleted), with the zoo's forward."""

    def __init__(self, stems, stem, layer4_stride, fc, pool):
        super().__init__(BasicBlock, [2, 2, 2, 2])
        del self.conv1
        for name, in_ch in stems.items():
            self.add_module(name, nn.Conv2d(int(in_ch), 64, kernel_size=7, stride=2, padding=3, bias=False))
        self.stem_name = stem
        if layer4_stride != 2:
            self.layer4[0].conv1.stride = (layer4_stride, layer4_stride)
            self.layer4[0].downsample[0].stride = (layer4_stride, layer4_stride)
        del self.avgpool
        if not fc:
            del self.fc
        self.pool = pool

    forward = ResNet18.forward


@pytest.mark.parametrize("kwargs", [
    {"stems": {"conv1": 3}, "stem": "conv1", "layer4_stride": 2, "fc": False, "pool": None},  # EZ-VSL image
    {"stems": {"conv1": 3, "conv1_a": 1, "conv1_flow": 6}, "stem": "conv1_a", "layer4_stride": 1, "fc": True,
     "pool": "max"},  # LVS / SSL-TIE audio
])
def test_the_tower_is_torchvision_resnet18(kwargs):
    torch.manual_seed(3)
    ours = ResNet18(**kwargs).eval()
    after_ours = torch.rand(1)
    torch.manual_seed(3)
    theirs = _TorchvisionTower(**kwargs).eval()
    assert torch.equal(torch.rand(1), after_ours)  # the same number of draws
    a, b = ours.state_dict(), theirs.state_dict()
    assert list(a) == list(b)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert [type(m).__name__ for m in ours.modules()][1:] == [type(m).__name__ for m in theirs.modules()][1:]
    for name in ("running_mean", "running_var"):  # non-trivial statistics, so the batch norms matter
        for m in (ours, theirs):
            for i, bn in enumerate(x for x in m.modules() if isinstance(x, nn.BatchNorm2d)):
                getattr(bn, name).copy_(torch.linspace(0.5, 1.5, bn.num_features).roll(i))
    channels = next(iter(kwargs["stems"].values())) if kwargs["stem"] == "conv1" else kwargs["stems"][kwargs["stem"]]
    x = torch.randn(2, channels, 96, 80)
    with torch.no_grad():
        assert torch.equal(ours(x), theirs(x))
