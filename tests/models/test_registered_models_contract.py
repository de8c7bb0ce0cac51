"""Every registered model (``list_models()``, no hand-written list): each of its presets validates,
it builds, and its maps pass the engine's output contract with the shape its preset declares."""

from __future__ import annotations

import pytest
import torch

from vssleval.engine.contract import CheckedModel
from vssleval.frontends.pipeline import AudioPipeline, ImagePipeline
from vssleval.models import MapRule, build_model, list_models, load_model_config
from vssleval.models.registry import get_entry, preset_block

CASES = [(name, preset) for name in list_models() for preset in load_model_config(name)["presets"]]


def test_the_registry_lists_the_zoo_and_the_baselines():
    # the models vssleval ships (plug-ins that other test modules register are not its to check)
    names = {n for n in list_models() if get_entry(n).source == "builtin"}
    assert {"ezvsl", "slavc", "fnac", "lvs", "sslalign", "ssltie", "sacl", "center", "full", "random", "ogl"} <= names
    # both presets `--preset` offers, for every model
    assert {n: sorted(load_model_config(n)["presets"]) for n in names} == {n: ["juanola2025", "native"] for n in names}


@pytest.mark.parametrize("name,preset", CASES)
def test_model_builds_and_its_maps_have_the_declared_shape(name, preset):
    torch.manual_seed(0)
    cfg = load_model_config(name)
    block = preset_block(cfg, preset, name)
    rule = MapRule.from_config(block.get("map"))  # raises on an invalid map block
    for variant in ("positive", "silence", "noise", "offscreen", "ogl"):
        assert rule.upsample_op(variant, "vggss") and rule.upsample_op(variant, "is3")
    audio = AudioPipeline(block["audio"]) if block.get("audio") else None
    if block.get("image"):
        ImagePipeline(block["image"])
    model = CheckedModel(build_model(name, preset=preset, random_init=True).eval(), name)
    images = torch.rand(2, 3, 224, 224)
    with torch.no_grad():
        if name == "ogl":  # the object prior: its map is its image encoding
            maps = model.object_map(images)
        else:
            one = audio.silence(16000) if audio is not None else torch.zeros(1)
            maps = model.localize(model.encode_image(images), model.encode_audio(torch.stack([one, one])))
    b, h, w = maps.shape
    assert b == 2 and h == w and torch.isfinite(maps).all()
    # a map already on the 224 grid is declared with upsampling ``none``; a low-resolution one
    # (7 x 7 or 14 x 14 for the zoo) with a real op
    if rule.upsample_op("positive") == "none":
        assert h == 224
    else:
        assert h in (7, 14), f"{name}/{preset}: {h} x {w} map"
