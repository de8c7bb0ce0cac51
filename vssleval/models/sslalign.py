"""SSL-Align (Senocak et al., ICCV'23), ``kaistmm/SSLalignment``.

Architecture: the official test evaluates it with LVS's ``AVENet`` (see :mod:`.lvs`), 248 keys.
The released ``*.pth.tar`` may also hold 13 training-model keys (``img_proj``, ``aud_proj``,
``vision_fc1``, ``conv3``, ``norm3``) that the heatmap never uses; the YAML's ``ignore_keys``
drops exactly those. Where the official loader is ``strict=False``, this one is strict on all
248 AVENet keys, so a missing key is an error, not a random weight.
Heatmap: cosine, 14x14 ([0, 1] in practice: both features are post-ReLU).
Facts: docs/models.md §8.
"""

from __future__ import annotations

from typing import Any

from vssleval.models.backbones import LVS_AUDIO, LVS_IMAGE
from vssleval.models.registry import register_model
from vssleval.models.twotower import TwoTowerCosine


@register_model("sslalign")
def sslalign(visual: dict[str, Any] | None = None, audio: dict[str, Any] | None = None) -> TwoTowerCosine:
    """SSL-Align = LVS ``AVENet`` with SSL-Align weights."""
    return TwoTowerCosine(visual or LVS_IMAGE, audio or LVS_AUDIO)
