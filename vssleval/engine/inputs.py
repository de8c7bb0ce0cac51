"""Model inputs of one sample for every audio variant, built in DataLoader workers.

The engine asks for exactly the inputs it cannot reuse: the image, the positive audio (unless its
features were computed in the first pass), the noise clip of every seed (unless a noise bank is
used) and the offscreen clip of every seed (unless the offscreen preprocessing equals the
positive's, in which case the positive features of that clip are reused).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import soundfile
import torch
from torch.utils.data import Dataset as TorchDataset
from torch.utils.data import default_collate

from vssleval.data import Sample, noise
from vssleval.errors import VsslevalError
from vssleval.frontends.pipeline import AudioPipeline, ImagePipeline

#: Placeholder input for audio-agnostic models, whose presets have no audio/image block.
PLACEHOLDER = torch.zeros(1)


@dataclass(frozen=True)
class InputPlan:
    """What a worker must build for each sample (see the module docstring)."""

    seeds: tuple[int, ...]
    image: bool = True
    positive: bool = True
    noise: bool = False           # independent noise inputs [S, ...]
    offscreen: bool = False       # offscreen inputs [S, ...] (not reused)
    object_image: bool = False    # the object prior's own image (the model takes none: baselines)


class SampleInputs(TorchDataset):
    """Item ``i`` -> dict of tensors for dataset position ``positions[i]``.

    Keys: ``position`` (int), ``sr`` (Hz of the positive as the front-end sees it),
    ``positive_info`` ``[2]`` int64 (the positive's :class:`PositiveInfo` length and rate, with
    ``positive`` when the model takes audio), ``image``
    [3,224,224], ``object_image`` [3,224,224] (the object prior's own input, only when the model
    takes no image and gets a placeholder), ``positive`` audio input, ``noise`` [S, ...],
    ``offscreen`` a list of S tensors (shapes may differ: vssl_eval's offscreen tiling can leave
    short clips short).
    """

    def __init__(self, samples: Sequence[Sample], positions: Sequence[int], plan: InputPlan,
                 audio: AudioPipeline | None, image: ImagePipeline | None,
                 offscreen_paths: Sequence[Sequence[str]] | None = None,
                 object_image: ImagePipeline | None = None):
        self.samples = samples
        self.positions = list(positions)
        self.plan = plan
        self.audio = audio
        self.image = image
        self.offscreen_paths = offscreen_paths
        self.object_image = object_image
        if plan.object_image and object_image is None:
            raise ValueError("plan.object_image needs the object prior's image pipeline")

    def __len__(self) -> int:
        return len(self.positions)

    def __getitem__(self, i: int) -> dict[str, Any]:
        pos = self.positions[i]
        sample = self.samples[pos]
        plan = self.plan
        item: dict[str, Any] = {"position": pos}
        if plan.image:
            item["image"] = self.image.load(sample.image_path) if self.image is not None else PLACEHOLDER
        if plan.object_image:
            item["object_image"] = self.object_image.load(sample.image_path)
        if self.audio is None:  # audio-agnostic model: placeholders of the right multiplicity
            item["sr"] = 16000
            if plan.positive:
                item["positive"] = PLACEHOLDER
            if plan.noise:
                item["noise"] = PLACEHOLDER.expand(len(plan.seeds), 1).clone()
            if plan.offscreen:
                item["offscreen"] = [PLACEHOLDER for _ in plan.seeds]
            return item
        info = None
        if plan.positive or plan.offscreen:
            wave, sr, info = self.audio.waveform(sample.audio_path, "positive")
            if plan.positive:
                item["positive"] = self.audio.features(torch.from_numpy(wave), sr, "positive")
                # what the offscreen quirks read of the positive (engine/offscreen.py keys)
                item["positive_info"] = torch.tensor([info.length, info.sr])
            item["sr"] = sr
        else:  # only the rate is needed (silence and noise are sized by the positive's rate)
            item["sr"] = self.audio.output_sr(file_rate(sample.audio_path))
        if plan.noise:
            item["noise"] = self.audio.noise(self.noise_waveforms(pos, item["sr"]), item["sr"])
        if plan.offscreen:
            item["offscreen"] = [self.audio.offscreen(self.offscreen_paths[k][pos], info)
                                 for k in range(len(plan.seeds))]
        return item

    def noise_waveforms(self, pos: int, sr: int) -> np.ndarray:
        """``[S, noise_length(sr)]`` float64: the noise clip of every seed for dataset position ``pos``,
        drawn in place. Only the samples the front-end reads are drawn (``noise_prefix``); the rest
        are zeros, which it never reads."""
        length, used = self.audio.noise_length(sr), self.audio.noise_prefix(sr)
        waves = np.empty((len(self.plan.seeds), length))
        waves[:, used:] = 0.0
        for k, s in enumerate(self.plan.seeds):
            noise(s, pos, used, out=waves[k, :used])
        return waves


def file_rate(path) -> int:
    """Native sample rate of an audio file (header only)."""
    try:
        return int(soundfile.info(str(path)).samplerate)
    except (RuntimeError, soundfile.LibsndfileError) as exc:
        raise VsslevalError(f"cannot read the audio header of {path}: {exc}") from exc


def collate(items: list[dict[str, Any]]) -> dict[str, Any]:
    """Stack everything but ``offscreen``, which stays a per-seed list of per-sample tensors."""
    offscreen = [it.pop("offscreen") for it in items] if "offscreen" in items[0] else None
    try:
        batch = default_collate(items)
    except RuntimeError as exc:  # differently shaped inputs: a preset that does not fix the length
        raise VsslevalError(f"model inputs of one batch have different shapes ({exc}); "
                            "the preset must fix the audio length (tile_s / crop_s)") from exc
    if offscreen is not None:
        batch["offscreen"] = [[per_sample[k] for per_sample in offscreen] for k in range(len(offscreen[0]))]
    return batch


def encode_in_groups(encode, inputs: list[torch.Tensor], chunk: int) -> torch.Tensor:
    """Encode a list of single-sample inputs, batching those of equal shape; keeps the order.

    ``encode`` takes a CPU batch (it moves it to its device)."""
    out: list[torch.Tensor | None] = [None] * len(inputs)
    by_shape: dict[tuple[int, ...], list[int]] = {}
    for i, x in enumerate(inputs):
        by_shape.setdefault(tuple(x.shape), []).append(i)
    for idx in by_shape.values():
        for start in range(0, len(idx), chunk):
            part = idx[start:start + chunk]
            feats = encode(torch.stack([inputs[i] for i in part]))
            for j, i in enumerate(part):
                out[i] = feats[j]
    return torch.stack(out)
