"""SSL-TIE (Liu et al., ACM MM'22), ``jinxiang-liu/SSL-TIE``.

Architecture: LVS ``AVENet`` towers (layer4 stride 1, three stems, fc) plus three modules that
the checkpoint holds but the heatmap never calls: ``vision_fc1`` Conv 1024->512 1x1, ``conv3``
Conv 1->1 1x1, ``norm3`` BatchNorm2d(1) (257 keys). Audio input is a 257-bin dB mel spectrogram.
Heatmap: cosine of the normalised 14x14 image map and max-pooled audio vector, 14x14.
Facts: docs/models.md §10.
"""

from __future__ import annotations

from typing import Any

from vssleval.models.backbones import LVS_AUDIO, LVS_IMAGE
from vssleval.models.registry import register_model
from vssleval.models.twotower import TwoTowerCosine

_CHECKPOINT_ONLY = {"vision_fc1": {"conv": [1024, 512, 1]}, "conv3": {"conv": [1, 1, 1]},
                    "norm3": {"batchnorm": [1]}}


@register_model("ssltie")
def ssltie(visual: dict[str, Any] | None = None, audio: dict[str, Any] | None = None,
           unused_modules: dict[str, Any] | None = None) -> TwoTowerCosine:
    """SSL-TIE at test time."""
    return TwoTowerCosine(visual or LVS_IMAGE, audio or LVS_AUDIO,
                          unused_modules=_CHECKPOINT_ONLY if unused_modules is None else unused_modules)
