"""Audio-agnostic sanity baselines: ``center``, ``full``, ``random``.

They ignore the audio (so a negative clip gets the same map as the positive one) and need no
checkpoint. They belong in every results table because trivial predictors score well on these
benchmarks (a whole-image box reaches about 61 % cIoU@0.5 on Flickr-SoundNet).

``encode_image`` returns per-image tokens ``[B]`` (zeros, or a content seed for ``random``);
``encode_audio`` returns ``[B, 0]``; ``localize`` returns ``[B, size, size]`` maps in [0, 1]
(B = the larger of the two batches; a batch of 1 is broadcast).
Facts: docs/models.md §13.
"""

from __future__ import annotations

import hashlib

import torch

from vssleval.models.base import VsslModel, pair_batches
from vssleval.models.registry import register_model


class _AudioAgnostic(VsslModel):
    needs_checkpoint = False
    audio_agnostic = True  # the engine reuses the positive map for every negative (models/base.py)

    def __init__(self, size: int = 224):
        super().__init__()
        self.size = int(size)
        # a buffer-free module still needs a device/dtype anchor for the maps it creates
        self.register_buffer("_anchor", torch.zeros(()), persistent=False)

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        """``[B, 3, H, W]`` -> ``[B]`` zeros (the image is not looked at)."""
        return images.new_zeros(images.shape[0])

    def encode_audio(self, audio: torch.Tensor) -> torch.Tensor:
        """Any ``[B, ...]`` -> ``[B, 0]`` (the audio is ignored)."""
        return audio.new_zeros(audio.shape[0], 0)

    def similarity(self, visual: torch.Tensor, audio: torch.Tensor) -> torch.Tensor:
        visual, _ = pair_batches(visual, audio)
        return self._maps(visual)

    def _maps(self, tokens: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError


@register_model("full")
class FullImage(_AudioAgnostic):
    """The whole image is the source: a constant map of ones."""

    def _maps(self, tokens: torch.Tensor) -> torch.Tensor:
        return self._anchor.new_ones(tokens.shape[0], self.size, self.size)


@register_model("center")
class CenterPrior(_AudioAgnostic):
    """Isotropic Gaussian centred on the image: exp(-d^2 / (2 (sigma*size)^2)), peak 1.

    ``sigma`` is a fraction of the map side, measured between pixel centres.
    """

    def __init__(self, size: int = 224, sigma: float = 0.25):
        super().__init__(size)
        self.sigma = float(sigma)

    def _maps(self, tokens: torch.Tensor) -> torch.Tensor:
        coords = (torch.arange(self.size, dtype=torch.float64) + 0.5) / self.size - 0.5
        d2 = coords[:, None] ** 2 + coords[None, :] ** 2
        g = torch.exp(-d2 / (2 * self.sigma ** 2)).to(self._anchor)
        return g.expand(tokens.shape[0], -1, -1).clone()


@register_model("random")
class RandomMap(_AudioAgnostic):
    """Uniform noise in [0, 1), reproducible per (seed, image content).

    The generator seed mixes ``seed`` with a hash of the image tensor, so the map of an image does
    not depend on batching, ordering or device.
    """

    def __init__(self, size: int = 224, seed: int = 0):
        super().__init__(size)
        self.seed = int(seed)

    def encode_image(self, images: torch.Tensor) -> torch.Tensor:
        """``[B, 3, H, W]`` -> ``[B]`` int64 seeds derived from each image's bytes."""
        host = images.detach().to("cpu", torch.float32).contiguous()
        seeds = [int.from_bytes(hashlib.sha256(f"{self.seed}:".encode() + img.numpy().tobytes())
                                .digest()[:7], "little") for img in host]
        return torch.tensor(seeds, dtype=torch.int64, device=images.device)

    def _maps(self, tokens: torch.Tensor) -> torch.Tensor:
        maps = [torch.rand(self.size, self.size, generator=torch.Generator().manual_seed(int(s)))
                for s in tokens.tolist()]
        return torch.stack(maps).to(self._anchor)
