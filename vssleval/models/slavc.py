"""SLAVC (Mo & Morgado, NeurIPS'22), ``stoneMo/SLAVC``.

Architecture: EZ-VSL towers with two projection pairs (``img_proj1/2``, ``aud_proj1/2``) plus EMA
copies of every tower and head under ``momentum_*`` (496 keys). Every released test path runs the
online encoders (``use_mom_eval=False``), so the momentum copies are loaded (strictly) but unused.
Heatmap: mean over the two heads of the cosine, 7x7 -> cos/0.03 or (cos+1)/2 by preset.
Facts: docs/models.md §6.
"""

from __future__ import annotations

from typing import Any

from vssleval.models.backbones import EZ_AUDIO, EZ_IMAGE
from vssleval.models.registry import register_model
from vssleval.models.twotower import TwoTowerCosine


@register_model("slavc")
def slavc(dim: int = 512, visual: dict[str, Any] | None = None, audio: dict[str, Any] | None = None,
          momentum_prefix: str | None = "momentum_") -> TwoTowerCosine:
    """SLAVC with online encoders at test time."""
    return TwoTowerCosine(visual or EZ_IMAGE, audio or EZ_AUDIO,
                          heads=[["img_proj1", "aud_proj1"], ["img_proj2", "aud_proj2"]], dim=dim,
                          momentum_prefix=momentum_prefix)
