"""FNAC (Sun et al., CVPR'23), ``OpenNLPLab/FNAC_AVL``.

Architecture: identical to EZ-VSL (``imgnet``/``img_proj``/``audnet``/``aud_proj``, 244 keys);
FNAC's dropouts (p = 0 at test) and loss-only avgpool hold no parameters and are omitted.
Heatmap: cosine 7x7 -> cos/0.03 (own repo) or (cos+1)/2 (vssl_eval), by preset.
Facts: docs/models.md §7.
"""

from __future__ import annotations

from typing import Any

from vssleval.models.backbones import EZ_AUDIO, EZ_IMAGE
from vssleval.models.registry import register_model
from vssleval.models.twotower import TwoTowerCosine


@register_model("fnac")
def fnac(dim: int = 512, visual: dict[str, Any] | None = None, audio: dict[str, Any] | None = None) -> TwoTowerCosine:
    """FNAC at test time."""
    return TwoTowerCosine(visual or EZ_IMAGE, audio or EZ_AUDIO, heads=[["img_proj", "aud_proj"]], dim=dim)
