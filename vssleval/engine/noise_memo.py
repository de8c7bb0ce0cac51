"""Noise features kept across the runs of one process (the main job's runs of a model on each dataset).

A sample's noise clip is a pure function of the run seed, its position in the dataset and the
clip length (``vssleval.data.negatives``), never of the dataset: sample 17 of VGG-SS and sample 17
of IS3 hear the same noise under the same seed. So two runs of one model with the same seeds, the
same noise preprocessing and a fixed read rate give the same noise *inputs* for every batch of the
same positions -- and, in the same forwards (the batch's seed-major rows, ``forward_rows`` at a
time), the same noise *features* bit for bit. The engine asks this memo before it draws anything:
when every batch a run computes is here, the run draws no noise, runs no noise front-end and no
noise forward (``tests/engine/test_engine_reuse.py`` compares the maps with and without it).

What must agree is the memo's key (:meth:`Engine.noise_memo_key
<vssleval.engine.runner.Engine.noise_memo_key>`): the weights (their SHA-256), the model's class,
the noise preprocessing, the read rate, the seeds, the device, the precision, the memory format,
the rows per forward and the intra-op threads (convolution kernels may differ with them), then per
batch its positions. One model's features are kept at a time (a new key drops the old ones), up to
:data:`MAX_BYTES`; a run whose batches are not all here computes and stores them as before.

Off unless a process turns it on (:meth:`NoiseMemo.enable`): ``scripts/main_job.py`` does, for its
runs; a ``vssleval evaluate`` process runs once, and a Python caller running several evaluations
should not keep up to :data:`MAX_BYTES` without asking for it.
"""

from __future__ import annotations

from typing import Hashable

import torch

#: At most this many bytes of features are kept (VGG-SS with 10 seeds and 512-d features: ~100 MB).
MAX_BYTES = 256 << 20


class NoiseMemo:
    """``{batch positions: noise features [S * b, ...]}`` for one model key."""

    def __init__(self, max_bytes: int = MAX_BYTES):
        self.max_bytes = int(max_bytes)
        self.enabled = False
        self.key: Hashable | None = None
        self.batches: dict[tuple[int, ...], torch.Tensor] = {}
        self.nbytes = 0

    def enable(self, on: bool = True) -> None:
        """Keep features from now on (``on=False``: stop, and drop what is kept)."""
        self.enabled = bool(on)
        if not on:
            self.clear()

    def has_all(self, key: Hashable, batches: list[tuple[int, ...]]) -> bool:
        """Whether the features of every batch of ``batches`` under ``key`` are kept."""
        return self.enabled and key is not None and key == self.key and all(b in self.batches for b in batches)

    def get(self, key: Hashable, positions: tuple[int, ...]) -> torch.Tensor | None:
        return self.batches.get(positions) if self.enabled and key is not None and key == self.key else None

    def put(self, key: Hashable, positions: tuple[int, ...], features: torch.Tensor) -> None:
        """Keep ``features`` (not written to afterwards by the engine) unless over :attr:`max_bytes`."""
        if not self.enabled or key is None:
            return
        if key != self.key:
            self.clear()
            self.key = key
        size = features.element_size() * features.nelement()
        if self.nbytes + size <= self.max_bytes:
            self.batches[positions] = features.detach()
            self.nbytes += size

    def clear(self) -> None:
        self.key, self.batches, self.nbytes = None, {}, 0


#: The process's memo (a run's features, for the next run of the same model in this process).
NOISE_MEMO = NoiseMemo()
