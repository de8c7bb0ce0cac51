"""Offscreen features computed once per distinct input, for presets whose offscreen audio cannot
reuse the positive's features (vssl_eval's quirks: no centre roll, the positive's tile count).

The offscreen pool is the evaluated dataset itself, so over S seeds each source clip is drawn about
S times. The model input of a draw is a function of the clip's file and, when the preset tiles the
offscreen clip with the positive's repeat count (``tile_repeat_from_positive``), of the positive's
length and rate: that triple is the :class:`OffscreenKey`. The engine encodes every distinct key of
a run once, in fixed chunks, and takes the maps of each (seed, sample) from that table
(docs/performance.md §1). An input equal, tensor for tensor, to the positive input of an evaluated
sample (a 10-s clip has no centre roll to undo and a tile count of one) is not encoded at all: the
engine takes that positive's features (:func:`input_digest` tells them apart).
"""

from __future__ import annotations

import hashlib
import math
from typing import Any, NamedTuple, Sequence

import numpy as np
import torch
from torch.utils.data import Dataset as TorchDataset

from vssleval.engine.inputs import PLACEHOLDER
from vssleval.frontends.pipeline import AudioPipeline, PositiveInfo


class OffscreenKey(NamedTuple):
    """What determines the model input of one offscreen draw.

    ``ref_length`` / ``ref_sr``: the positive's :class:`PositiveInfo` when the preset's offscreen
    variant reads it (``-1`` otherwise, so that keys sort and every positive shares one input).
    """

    path: str
    ref_length: int = -1
    ref_sr: int = -1


def uses_positive_info(audio: AudioPipeline | None) -> bool:
    """Whether the offscreen input of a clip depends on the positive it is shown with."""
    return audio is not None and bool(audio.config("offscreen").get("tile_repeat_from_positive"))


def offscreen_keys(draws: Sequence[Sequence[Any]], positions: Sequence[int],
                   infos: dict[int, tuple[int, int]] | None) -> dict[tuple[int, int], OffscreenKey]:
    """``{(seed_index, position): key}`` for the draws of ``positions``.

    ``draws[s][p]``: the sampler's draw (``offscreen_path``); ``infos``: ``{position: (length, sr)}``
    of the positives, or None when the preset's offscreen input does not depend on them.
    """
    keys = {}
    for s, row in enumerate(draws):
        for p in positions:
            ref = infos[p] if infos is not None else (-1, -1)
            keys[(s, p)] = OffscreenKey(str(row[p].offscreen_path), int(ref[0]), int(ref[1]))
    return keys


def balanced_chunks(n: int, size: int) -> list[range]:
    """Split ``range(n)`` into ``ceil(n / size)`` consecutive chunks of near-equal length.

    Near-equal rather than ``size, size, ..., rest``: a convolution's last bits can depend on the
    batch it runs in, and oneDNN picks another kernel for batches of 1-3 rows; chunks of at least
    ``size / 2`` rows keep the table's values those of the full batches the engine otherwise runs.
    """
    if n == 0:
        return []
    bounds = np.linspace(0, n, math.ceil(n / size) + 1).round().astype(int)
    return [range(a, b) for a, b in zip(bounds[:-1], bounds[1:])]


def input_digest(x: torch.Tensor) -> str:
    """A digest of a model input (dtype, shape and every byte): equal digests, equal tensors."""
    x = x.detach().cpu().contiguous()
    h = hashlib.sha256(f"{x.dtype}{tuple(x.shape)}".encode())
    h.update(x.numpy().tobytes())
    return h.hexdigest()


class OffscreenDigests(TorchDataset):
    """Item ``i`` -> :func:`input_digest` of the model input of ``keys[i]`` (no forward)."""

    def __init__(self, inputs: "OffscreenInputs"):
        self.inputs = inputs

    def __len__(self) -> int:
        return len(self.inputs)

    def __getitem__(self, i: int) -> str:
        return input_digest(self.inputs[i])


class OffscreenInputs(TorchDataset):
    """Item ``i`` -> the model input of ``keys[i]`` (built in DataLoader workers)."""

    def __init__(self, keys: Sequence[OffscreenKey], audio: AudioPipeline | None):
        self.keys = list(keys)
        self.audio = audio

    def __len__(self) -> int:
        return len(self.keys)

    def __getitem__(self, i: int) -> torch.Tensor:
        key = self.keys[i]
        if self.audio is None:  # audio-agnostic model
            return PLACEHOLDER
        info = PositiveInfo(key.ref_length, key.ref_sr) if key.ref_length >= 0 else None
        return self.audio.offscreen(key.path, info)


def as_list(items: list[torch.Tensor]) -> list[torch.Tensor]:
    """DataLoader collate that keeps a chunk as a list (offscreen inputs may differ in shape)."""
    return items
