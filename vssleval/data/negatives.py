"""Negative audio: silence, noise and the offscreen clip, as pure functions of (seed, sample index).

Every random draw comes from ``numpy.random.default_rng(SeedSequence([seed, index, stream]))``, so a
draw depends only on the run seed, the sample's index in the dataset and which quantity is drawn —
never on batch size, worker, rank or evaluation order (the reference code's draws depend on
DataLoader worker reseeding and cannot be reproduced: docs/protocols.md §2.4, quirk 9 in §7.1).

Offscreen rule (docs/protocols.md §2.5; vssl_eval's rule, which this one fixes, is §2.3): drop every
class visible in the image (the sample's ``visible_labels``; for IS3 both objects of the scene, from
the annotations) and any class listing the sample's own clip, sort the remaining non-empty classes,
draw one uniformly, then one of its clips uniformly (clips sorted by name).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping, Sequence

import numpy as np

from vssleval.data.types import Sample
from vssleval.errors import VsslevalError

NOISE_STREAM = 0
OFFSCREEN_STREAM = 1
BANK_ASSIGN_STREAM = 2
# Bank clips are indexed by slot in their own stream, so a bank clip never repeats a per-sample draw.
BANK_NOISE_STREAM = 3


def stream_rng(seed: int, index: int, stream: int) -> np.random.Generator:
    """The generator for one (seed, sample index, stream); all three must be integers >= 0."""
    for name, v in (("seed", seed), ("index", index), ("stream", stream)):
        if int(v) != v or v < 0:
            raise VsslevalError(f"negative-audio {name} must be an integer >= 0, got {v!r}")
    return np.random.default_rng(np.random.SeedSequence([int(seed), int(index), int(stream)]))


def silence(length: int) -> np.ndarray:
    """Digital silence: float64 ``[length]`` zeros."""
    return np.zeros(int(length), dtype=np.float64)


def noise(seed: int, index: int, length: int, out: np.ndarray | None = None) -> np.ndarray:
    """White Gaussian noise N(0, 1): float64 ``[length]``, not clipped (same as the reference).

    ``out``: a C-contiguous float64 ``[length]`` array to draw into (the same values; saves the
    caller a copy when it gathers several clips in one array). Returns the array drawn into."""
    if out is not None and (out.shape != (int(length),) or out.dtype != np.float64):
        raise ValueError(f"out must be float64 [{int(length)}], got {out.dtype} {list(out.shape)}")
    return stream_rng(seed, index, NOISE_STREAM).standard_normal(None if out is not None else int(length), out=out)


def noise_bank_slot(seed: int, index: int, bank_size: int) -> int:
    """Which of the ``bank_size`` noise clips of run ``seed`` sample ``index`` hears (uniform)."""
    if bank_size < 1:
        raise VsslevalError(f"noise bank size must be >= 1, got {bank_size}")
    return int(stream_rng(seed, index, BANK_ASSIGN_STREAM).integers(bank_size))


def bank_noise(seed: int, slot: int, length: int) -> np.ndarray:
    """Noise clip ``slot`` of the bank of run ``seed``: float64 N(0, 1) ``[length]``.

    A bank trades independence for speed: samples sharing a slot hear the same noise, so the
    noise model's features are computed once per (seed, slot) instead of once per (seed, sample).
    """
    return stream_rng(seed, slot, BANK_NOISE_STREAM).standard_normal(int(length))


@dataclass(frozen=True)
class OffscreenDraw:
    """The audit record of one offscreen draw (JSON-serialisable through :meth:`as_dict`)."""

    seed: int
    index: int
    sample_id: str
    offscreen_id: str
    offscreen_path: str
    offscreen_class: str
    excluded: tuple[str, ...]
    n_classes: int  # classes that remained eligible

    def as_dict(self) -> dict:
        # the fields by hand: dataclasses.asdict deep-copies field by field, and a run writes one
        # record per seed and sample (offscreen_draws.csv)
        return {"seed": self.seed, "index": self.index, "sample_id": self.sample_id, "offscreen_id": self.offscreen_id,
                "offscreen_path": self.offscreen_path, "offscreen_class": self.offscreen_class,
                "excluded": list(self.excluded), "n_classes": self.n_classes}


class OffscreenPool:
    """Offscreen candidates: ``{class: [clip roots]}`` over an audio folder.

    Args:
        class_files: class name → clip file roots (names without extension), e.g. a
            ``*_class_files_dict.json``.
        audio_dir: folder holding ``<root><audio_ext>``.
    """

    def __init__(self, class_files: Mapping[str, Sequence[str]], audio_dir: str | Path, audio_ext: str = ".wav"):
        self.classes = {str(c): sorted(set(map(str, roots))) for c, roots in class_files.items() if roots}
        self.audio_dir = Path(audio_dir)
        self.audio_ext = audio_ext
        self._class_of = {r: c for c, roots in self.classes.items() for r in roots}
        self._eligible: dict[tuple[str, tuple[str, ...]], tuple[list[str], tuple[str, ...]]] = {}
        self._paths: dict[str, str] = {}

    def eligible(self, sample_id: str, visible: Iterable[str]) -> tuple[list[str], tuple[str, ...]]:
        """(sorted eligible classes, sorted excluded classes) for one sample."""
        excluded = set(visible)
        own = self._class_of.get(sample_id)
        if own is not None:
            excluded.add(own)
        classes = sorted(c for c in self.classes if c not in excluded)
        return classes, tuple(sorted(excluded))

    def draw(self, seed: int, index: int, sample: Sample) -> OffscreenDraw:
        """Draw the offscreen clip for ``sample`` at dataset position ``index`` under run ``seed``."""
        visible = tuple(sample.visible_labels or ((sample.label,) if sample.label else ()))
        key = (sample.id, visible)
        if key not in self._eligible:  # the same for every seed: computed once per sample
            self._eligible[key] = self.eligible(sample.id, visible)
        classes, excluded = self._eligible[key]
        if not classes:
            raise VsslevalError(
                f"no offscreen class left for sample {sample.id!r} (excluded {list(excluded)}); the class-files "
                f"dict needs at least one class not visible in the image")
        rng = stream_rng(seed, index, OFFSCREEN_STREAM)
        cls = classes[int(rng.integers(len(classes)))]
        roots = self.classes[cls]
        root = roots[int(rng.integers(len(roots)))]
        if root not in self._paths:
            self._paths[root] = str(self.audio_dir / f"{root}{self.audio_ext}")
        return OffscreenDraw(seed=int(seed), index=int(index), sample_id=sample.id, offscreen_id=root,
                             offscreen_path=self._paths[root], offscreen_class=cls,
                             excluded=excluded, n_classes=len(classes))
