"""The two-tower cosine localiser every zoo model is an instance of.

visual tower -> feature map ``[B, C, h, w]``; audio tower -> vector ``[B, C]``; K projection
heads (K = 0: none, LVS family; 1: EZ-VSL/FNAC; 2: SLAVC). Head k projects both sides
(visual: 1x1 conv, audio: linear), each side is L2-normalised over channels (per location for the
visual map, eps 1e-12 as ``F.normalize``), and the similarity map is the mean over heads of
``sum_c v[c, h, w] * a[c]``, a cosine in [-1, 1].

Features carry the head axis so they can be reused across audio inputs:
``encode_image -> [B, K', D, h, w]`` and ``encode_audio -> [B, K', D]`` with K' = max(K, 1),
both already normalised, so ``localize`` is a cheap einsum.

Modules that official checkpoints hold but the test-time heatmap never calls (SLAVC's momentum
encoders, SSL-TIE's ``vision_fc1``/``conv3``/``norm3``) are still created under their official
names so that loading stays strict; they are never run.
Facts: docs/models.md §2.3.
"""

from __future__ import annotations

import copy
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from vssleval.errors import VsslevalError
from vssleval.models.backbones import build_backbone
from vssleval.models.base import VsslModel, pair_batches

_UNUSED_KINDS = {
    "conv": lambda a: nn.Conv2d(int(a[0]), int(a[1]), int(a[2])),
    "linear": lambda a: nn.Linear(int(a[0]), int(a[1])),
    "batchnorm": lambda a: nn.BatchNorm2d(int(a[0])),
}


class TwoTowerCosine(VsslModel):
    """Two towers, optional projection heads, cosine map.

    Args:
        visual: backbone spec for ``imgnet`` (see :func:`build_backbone`); must give a map.
        audio: backbone spec for ``audnet``; must give a vector (``pool: max``) ``[B, C]``.
        heads: list of ``[visual_name, audio_name]`` module names, one pair per head; empty for
            no projection.
        dim: projection width.
        momentum_prefix: if set, a copy of both towers and all heads is created under
            ``<prefix><name>`` (SLAVC keeps EMA encoders in its checkpoint; they are unused at
            test time, where the online encoders are what every released test path runs).
        unused_modules: extra parameterised modules present in a checkpoint but not in the
            heatmap, name -> ``{conv: [in, out, k]} | {linear: [in, out]} | {batchnorm: [c]}``.
        tower_names: attribute names of the towers (the checkpoint prefixes).
    """

    def __init__(
        self,
        visual: dict[str, Any],
        audio: dict[str, Any],
        heads: list[list[str]] | None = None,
        dim: int = 512,
        momentum_prefix: str | None = None,
        unused_modules: dict[str, dict[str, list[int]]] | None = None,
        tower_names: tuple[str, str] = ("imgnet", "audnet"),
    ):
        super().__init__()
        self._vis_name, self._aud_name = tower_names
        vis = build_backbone(visual)
        aud = build_backbone(audio)
        self.add_module(self._vis_name, vis)
        self.add_module(self._aud_name, aud)
        self._heads = [tuple(h) for h in (heads or [])]
        for v_name, a_name in self._heads:
            self.add_module(v_name, nn.Conv2d(vis.out_channels, dim, kernel_size=1))
            self.add_module(a_name, nn.Linear(aud.out_channels, dim))
        if momentum_prefix:
            online = [self._vis_name, self._aud_name] + [n for h in self._heads for n in h]
            for name in online:
                self.add_module(momentum_prefix + name, copy.deepcopy(getattr(self, name)))
        for name, spec in (unused_modules or {}).items():
            if len(spec) != 1 or next(iter(spec)) not in _UNUSED_KINDS:
                raise VsslevalError(f"unused module {name!r}: expected one of {sorted(_UNUSED_KINDS)}")
            kind, args = next(iter(spec.items()))
            self.add_module(name, _UNUSED_KINDS[kind](args))

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        """``[B, 3, H, W]`` -> normalised per-head maps ``[B, K', D, h, w]`` (h = w = 7 or 14)."""
        f = getattr(self, self._vis_name)(images)
        if f.dim() != 4:
            raise VsslevalError(f"visual tower must return [B, C, h, w], got {tuple(f.shape)}")
        outs = [getattr(self, v)(f) for v, _ in self._heads] or [f]
        return torch.stack([F.normalize(o, dim=1) for o in outs], dim=1)

    def encode_audio(self, audio: torch.Tensor) -> torch.Tensor:
        """Audio input (e.g. ``[B, 1, 257, T]`` spectrogram) -> normalised ``[B, K', D]``."""
        g = getattr(self, self._aud_name)(audio)
        if g.dim() != 2:
            raise VsslevalError(f"audio tower must return [B, C], got {tuple(g.shape)}")
        outs = [getattr(self, a)(g) for _, a in self._heads] or [g]
        return torch.stack([F.normalize(o, dim=1) for o in outs], dim=1)

    def similarity(self, visual: torch.Tensor, audio: torch.Tensor) -> torch.Tensor:
        """Mean over heads of the cosine map, ``[B, h, w]``."""
        visual, audio = pair_batches(visual, audio)
        return torch.einsum("bkchw,bkc->bkhw", visual, audio).mean(dim=1)
