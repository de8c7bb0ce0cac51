"""EZ-VSL (Mo & Morgado, ECCV'22), ``stoneMo/EZ-VSL``.

Architecture: ``imgnet`` torchvision ResNet-18 (fc removed) -> 512x7x7 -> ``img_proj`` 1x1 conv
512->512; ``audnet`` ResNet-18 with a 1-channel conv1 and global max pool -> 512 ->
``aud_proj`` Linear 512->512. 244 checkpoint keys.
Heatmap: cosine of the L2-normalised projections per location, 7x7; the preset's ``map.raw``
makes it cos/0.03 (own repo) or (cos+1)/2 (vssl_eval).
Facts: docs/models.md §5.
"""

from __future__ import annotations

from typing import Any

from vssleval.models.backbones import EZ_AUDIO, EZ_IMAGE
from vssleval.models.registry import register_model
from vssleval.models.twotower import TwoTowerCosine


@register_model("ezvsl")
def ezvsl(dim: int = 512, visual: dict[str, Any] | None = None, audio: dict[str, Any] | None = None) -> TwoTowerCosine:
    """EZ-VSL; ``visual``/``audio`` swap in other towers (e.g. ``small_cnn``) for EZ-style models."""
    return TwoTowerCosine(visual or EZ_IMAGE, audio or EZ_AUDIO, heads=[["img_proj", "aud_proj"]], dim=dim)
