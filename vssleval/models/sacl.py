"""SACL (Song et al., T-PAMI'24), ``zjsong/SACL``.

Architecture: ``imgnet`` = ResNet-18 with layer4 stride 1 and only the image stem, i.e.
torchvision's 122 keys (``frame_best.pth``); ``audnet`` = VGGish + ``fc`` 128->512->512 (22 keys,
``sound_best.pth``), averaged over the clip's 0.96 s log-mel examples. No projection heads.
Input audio: ``[B, E, 1, 96, 64]`` VGGish log-mel examples (E = 3 for 3 s).
Heatmap (``orig_sim_map``): cosine of the normalised 512x14x14 image map and the normalised mean
audio vector, 14x14, [-1, 1] (the audio vector can be negative).
Facts: docs/models.md §11.
"""

from __future__ import annotations

from typing import Any

from vssleval.models.registry import register_model
from vssleval.models.twotower import TwoTowerCosine

_FRAME = {"arch": "resnet18", "stems": {"conv1": 3}, "layer4_stride": 1, "fc": True}
_SOUND = {"arch": "vggish", "out_dim": 512}


@register_model("sacl")
def sacl(visual: dict[str, Any] | None = None, audio: dict[str, Any] | None = None) -> TwoTowerCosine:
    """SACL at test time (two checkpoint files, see the YAML ``checkpoint.parts``)."""
    return TwoTowerCosine(visual or _FRAME, audio or _SOUND)
