"""Every registered model (``list_models()``, no hand-written list): each of its presets validates,
it builds, and its maps pass the engine's output contract with the shape its preset declares."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vssleval.engine.contract import CheckedModel
from vssleval.frontends.pipeline import AudioPipeline, ImagePipeline
from vssleval.models import MapRule, build_model, list_models, load_model_config
from vssleval.models.registry import get_entry, preset_block



#: each registered model's config, read once at collection (which every xdist worker does)
CONFIGS = {name: load_model_config(name) for name in list_models()}


def _distinct_presets(name: str) -> list[str]:
    """The model's presets, less any whose resolved block equals an earlier one's: such a preset
    builds the same model on the same inputs (ACL-SSL's ``juanola2025`` is its ``native``), so
    building it again (10 s for a ViT-B/16 + BEATs) would test nothing new."""
    cfg = CONFIGS[name]
    kept, blocks = [], []
    for preset in cfg["presets"]:
        block = preset_block(cfg, preset, name)
        if block not in blocks:
            kept.append(preset)
            blocks.append(block)
    return kept


CASES = [(name, preset) for name in CONFIGS for preset in _distinct_presets(name)]


def _input_size(block) -> int:
    """The side of the square images the preset's image ops produce (the last resize; 224 when the
    preset takes no image): ACL-SSL reads 352 x 352 images, the ResNet zoo 224 x 224."""
    size = 224
    for op in (block.get("image") or {}).get("ops", []):
        if isinstance(op, dict) and "resize_pil" in op:
            size = int(op["resize_pil"][0])
        elif isinstance(op, dict) and "resize_tensor" in op:
            size = int(op["resize_tensor"]["size"][0])
    return size


def test_the_registry_lists_the_zoo_and_the_baselines():
    # the models vssleval ships (plug-ins that other test modules register are not its to check)
    names = {n for n in list_models() if get_entry(n).source == "builtin"}
    assert {"ezvsl", "slavc", "fnac", "lvs", "sslalign", "ssltie", "sacl", "aclssl", "center", "full", "random",
            "ogl"} <= names
    # both presets `--preset` offers, for every model
    assert {n: sorted(load_model_config(n)["presets"]) for n in names} == {n: ["juanola2025", "native"] for n in names}


@pytest.mark.slow  # a full-size model per case
@pytest.mark.parametrize("name,preset", CASES)
def test_model_builds_its_maps_have_the_declared_shape_and_forward_is_localize(name, preset, request, monkeypatch):
    """Per case one build (a ViT-B/16 + BEATs takes ~10 s): the preset's blocks validate, the maps
    pass the engine's output contract with the declared shape, and, for a model with an audio path,
    the promises of ``vssleval.models``' docstring hold (:func:`_check_forward_and_broadcast`).
    ACL-SSL's inputs and encodings are those of the session's run (:func:`_recorded_aclssl_inputs`)."""
    torch.manual_seed(0)
    cfg = load_model_config(name)
    block = preset_block(cfg, preset, name)
    rule = MapRule.from_config(block.get("map"))  # raises on an invalid map block
    for variant in ("positive", "silence", "noise", "offscreen", "ogl"):
        assert rule.upsample_op(variant, "vggss") and rule.upsample_op(variant, "is3")
    audio = AudioPipeline(block["audio"]) if block.get("audio") else None
    if block.get("image"):
        ImagePipeline(block["image"])
    built = build_model(name, preset=preset, random_init=True).eval()
    model = CheckedModel(built, name)
    side = _input_size(block)
    if name == "aclssl":
        images, sounds = _recorded_aclssl_inputs(request, monkeypatch)
        assert images.shape == (2, 3, side, side)
    else:
        images = torch.rand(2, 3, side, side)
        sounds = _audio_pair(block, seed=1) if audio is not None else torch.zeros(2, 1)
    with torch.no_grad():
        if name == "ogl":  # the object prior: its map is its image encoding
            maps = model.object_map(images)
        else:
            encoded = model.encode_image(images), model.encode_audio(sounds)
            maps = model.localize(*encoded)
    b, h, w = maps.shape
    assert b == 2 and h == w and torch.isfinite(maps).all()
    # a map already on the 224 grid is declared with upsampling ``none``; any other (7 x 7 or
    # 14 x 14 for the ResNet zoo, the input's 352 x 352 for ACL-SSL) with a real op
    if rule.upsample_op("positive") == "none":
        assert h == 224
    else:
        assert h in (7, 14, side) and h != 224, f"{name}/{preset}: {h} x {w} map"
    if (name, preset) in AUDIO_CASES:  # the encodings above are reused (ACL-SSL's take seconds)
        _check_forward_and_broadcast(built, images, sounds, *encoded)


def _recorded_aclssl_inputs(request, monkeypatch) -> tuple[torch.Tensor, torch.Tensor]:
    """Two different images and two different audio inputs of ACL-SSL's ``native`` front-ends, those
    the session's ``aclssl_run`` encoded (tests/models/conftest.py: the 4 fixture clips), with
    ``AclSsl.encode_image`` / ``encode_audio`` patched (``monkeypatch``) to hand back its encodings
    of them (``aclssl_encodings``).

    Its encoders, a ViT-B/16 at 352 px and BEATs, take about 6 CPU-seconds on two inputs, and what
    this test checks is the maps' contract, which holds for any encodings of the right shape: the
    encodings are real ones of the same architecture, made through the engine's ``CheckedModel`` by
    that run (the same code, with the release's weights), and pass this test's ``CheckedModel``
    again; the random-init model's decoder maps them. (The run is built once per session and read
    by every ACL-SSL module, so a whole-suite run builds it anyway.)"""
    calls = request.getfixturevalue("aclssl_run").calls
    request.getfixturevalue("aclssl_encodings")(monkeypatch)

    def two_distinct(rows: torch.Tensor) -> torch.Tensor:
        keys = [r.numpy().tobytes() for r in rows]
        first = list(dict.fromkeys(keys))[:2]
        assert len(first) == 2, "the run encoded fewer than 2 distinct inputs"
        return rows[[keys.index(k) for k in first]].clone()

    return two_distinct(calls["encode_image_input"]), two_distinct(calls["encode_audio_input"])


def _audio_pair(block, seed: int) -> torch.Tensor:
    """Two *different* model inputs of the preset's front-end (silence and one noise draw), so a
    broadcast that pairs the wrong rows shows up; ``[2, ...]``."""
    audio = AudioPipeline(block["audio"])
    noise = np.random.default_rng(seed).standard_normal(audio.noise_length(16000))
    return torch.stack([audio.silence(16000), audio.noise(noise, 16000)])


AUDIO_CASES = [(n, p) for n, p in CASES if n != "ogl" and preset_block(CONFIGS[n], p, n).get("audio")]


def _check_forward_and_broadcast(model, images: torch.Tensor, audio: torch.Tensor, visual: torch.Tensor,
                                 aud: torch.Tensor) -> None:
    """``forward`` is ``localize(encode_image, encode_audio)``; a batch of 1 on either side is
    broadcast to the other (one image's features serve many audio inputs, and one audio many
    images); float maps. ``images`` and ``audio`` are batches of 2, the audio rows different;
    ``visual`` and ``aud`` their encodings."""
    with torch.no_grad():
        paired = model.localize(visual, aud)
        assert paired.dtype.is_floating_point and paired.shape[0] == 2
        torch.testing.assert_close(_forward_reusing(model, images, audio, visual, aud), paired, rtol=1e-5, atol=1e-6)
        # image i with audio j, each pair computed once: the references of the three checks below
        alone = {(i, j): model.localize(visual[i:i + 1], aud[j:j + 1]) for i, j in ((0, 0), (1, 1), (0, 1), (1, 0))}
        for i in range(2):  # row i of the paired batch is image i with audio i
            torch.testing.assert_close(paired[i:i + 1], alone[i, i], rtol=1e-5, atol=1e-6)
        # one image, two audios; two images, one audio
        one_image = model.localize(visual[:1], aud)
        one_audio = model.localize(visual, aud[:1])
        for i in range(2):
            torch.testing.assert_close(one_image[i:i + 1], alone[0, i], rtol=1e-5, atol=1e-6)
            torch.testing.assert_close(one_audio[i:i + 1], alone[i, 0], rtol=1e-5, atol=1e-6)
    assert one_image.shape == one_audio.shape == paired.shape


def _forward_reusing(model, images: torch.Tensor, audio: torch.Tensor, visual: torch.Tensor,
                     aud: torch.Tensor) -> torch.Tensor:
    """``model(images, audio)`` with the encoders handing back ``visual`` / ``aud`` when called on
    these very inputs (ACL-SSL's ViT-B/16 at 352 px and BEATs take seconds): a ``forward`` that is
    ``localize(encode_image(images), encode_audio(audio))`` gives ``localize(visual, aud)``, and any
    other computes its own maps, which the caller compares with that."""
    encode_image, encode_audio = model.encode_image, model.encode_audio
    model.encode_image = lambda x: visual if x is images else encode_image(x)
    model.encode_audio = lambda x: aud if x is audio else encode_audio(x)
    try:
        return model(images, audio)
    finally:
        del model.encode_image, model.encode_audio
