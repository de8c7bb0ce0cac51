"""The model contract (see :mod:`vssleval.models` for the prose) and its base class."""

from __future__ import annotations

from typing import Any

import torch
from torch import nn

from vssleval.errors import VsslevalError
from vssleval.models.maps import MapRule

REQUIRED_METHODS = ("encode_image", "encode_audio", "localize")


class VsslModel(nn.Module):
    """Base class of the zoo: three separable steps plus a preset-driven raw-map rule.

    Subclasses implement ``encode_image``, ``encode_audio`` and ``similarity`` (a map in the
    model's own units, a cosine for every published model). ``localize`` applies the preset's
    ``map.raw`` rule on top, so the same network yields cos/tau under ``native`` and
    (cos+1)/2 under ``juanola2025`` without a code branch.

    Attributes set by :func:`vssleval.models.build_model`: ``name``, ``preset_name``,
    ``config`` (the whole model YAML) and ``map_rule``.
    """

    #: False for audio-agnostic baselines that are meaningful without a checkpoint.
    needs_checkpoint: bool = True
    #: True when ``localize`` never depends on the audio features: the engine then computes the
    #: positive map only and gives it to every negative audio (silence, each seed's noise and
    #: offscreen clip), where a model reading its audio gets one forward per audio input.
    audio_agnostic: bool = False

    def __init__(self) -> None:
        super().__init__()
        self.name = type(self).__name__.lower()
        self.preset_name: str | None = None
        self.config: dict[str, Any] = {}
        self.map_rule = MapRule()

    # -- the contract ------------------------------------------------------------------------
    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        """``[B, 3, 224, 224]`` normalised images -> visual features (model-specific shape)."""
        raise NotImplementedError

    def encode_audio(self, audio: torch.Tensor) -> torch.Tensor:
        """``[B, ...]`` audio input of the preset's front-end -> audio features."""
        raise NotImplementedError

    def similarity(self, visual: torch.Tensor, audio: torch.Tensor) -> torch.Tensor:
        """Features -> similarity map ``[B, h, w]`` in the model's units (before ``map.raw``)."""
        raise NotImplementedError

    def localize(self, visual: torch.Tensor, audio: torch.Tensor) -> torch.Tensor:
        """Features -> raw map ``[B, h, w]``: exactly the official map before interpolation.

        Batches pair up element-wise; a batch of 1 on either side is broadcast to the other.
        """
        return self.map_rule.raw_from_cosine(self.similarity(visual, audio))

    def forward(self, images: torch.Tensor, audio: torch.Tensor) -> torch.Tensor:
        """One-shot ``localize(encode_image(images), encode_audio(audio))``."""
        return self.localize(self.encode_image(images), self.encode_audio(audio))


def pair_batches(visual: torch.Tensor, audio: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Broadcast a batch of 1 against the other side's batch; equal batches pass through."""
    bv, ba = visual.shape[0], audio.shape[0]
    if bv == ba:
        return visual, audio
    if bv == 1:
        return visual.expand(ba, *visual.shape[1:]), audio
    if ba == 1:
        return visual, audio.expand(bv, *audio.shape[1:])
    raise VsslevalError(f"cannot pair {bv} visual features with {ba} audio features "
                        "(batches must be equal, or one of them 1)")


def missing_methods(model: Any) -> list[str]:
    """The contract methods ``model`` does not implement.

    A :class:`VsslModel` subclass inherits placeholders that raise ``NotImplementedError``, so for
    it a method counts only when the subclass overrides it (``localize`` is implemented by
    overriding either ``localize`` or ``similarity``).
    """
    if isinstance(model, VsslModel):
        cls = type(model)
        missing = [m for m in ("encode_image", "encode_audio") if getattr(cls, m) is getattr(VsslModel, m)]
        if cls.localize is VsslModel.localize and cls.similarity is VsslModel.similarity:
            missing.append("localize (or similarity)")
        return missing
    return [m for m in REQUIRED_METHODS if not callable(getattr(model, m, None))]


def check_model_interface(model: Any, where: str) -> None:
    """Fail clearly when a user model lacks one of the three contract methods."""
    missing = missing_methods(model)
    if missing:
        raise VsslevalError(f"model from {where} lacks {', '.join(missing)}; a vssleval model implements "
                            "encode_image(images), encode_audio(audio) and localize(visual, audio)")
