"""LVS, "Localizing Visual Sounds the Hard Way" (Chen et al., CVPR'21).

Architecture (``AVENet``): ``imgnet`` and ``audnet`` are ResNet-18s with layer4 stride 1 and three
stems each (``conv1`` image, ``conv1_a`` 1-channel audio, ``conv1_flow`` unused) and an unused
``fc`` (248 keys); no projection heads. Audio: global max pool of the audnet map -> 512.
Heatmap: cosine of the L2-normalised 512x14x14 image map and the audio vector, 14x14, in [0, 1]
in practice (both sides are post-ReLU).
Facts: docs/models.md §9.
"""

from __future__ import annotations

from typing import Any

from vssleval.models.backbones import LVS_AUDIO, LVS_IMAGE
from vssleval.models.registry import register_model
from vssleval.models.twotower import TwoTowerCosine


@register_model("lvs")
def lvs(visual: dict[str, Any] | None = None, audio: dict[str, Any] | None = None) -> TwoTowerCosine:
    """LVS ``AVENet`` at test time."""
    return TwoTowerCosine(visual or LVS_IMAGE, audio or LVS_AUDIO)
