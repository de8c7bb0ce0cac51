"""Small helpers of the engine tests (imported by name: pytest puts this folder on the path)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from vssleval.engine.runner import run_inference
from vssleval.engine.spec import RunSpec
from vssleval.engine.store import HeatmapStore, pack_gt, pad_boxes

ROOT = Path(__file__).resolve().parents[2]

#: map arrays of a store shard; ``noise``/``offscreen`` carry a leading seed axis
MAP_KEYS = ("positive", "silence", "noise", "offscreen", "ogl")


def rel_l2(a: np.ndarray, b: np.ndarray) -> float:
    """Fixtures README §6: ``||a - b|| / ||b||`` (float64)."""
    b = np.asarray(b, dtype=np.float64)
    return float(np.linalg.norm(np.asarray(a, dtype=np.float64) - b) / np.linalg.norm(b))


def rel_max(a: np.ndarray, b: np.ndarray) -> float:
    """native/README: ``max|a - b| / max|b|`` (float64)."""
    b = np.asarray(b, dtype=np.float64)
    return float(np.abs(np.asarray(a, dtype=np.float64) - b).max() / np.abs(b).max())


def quiet(_: str) -> None:
    """Log sink for the engine's one-line summaries."""


def run(spec: RunSpec, out: Path, **kwargs):
    """Run the engine on ``spec`` into ``out`` without console chatter."""
    return run_inference(spec, out, log=quiet, **kwargs)


def store_arrays(store: HeatmapStore | str | Path) -> dict[str, np.ndarray]:
    """Every shard of a complete store concatenated in dataset order (sample axis: 0, or 1 after
    the seed axis of ``noise``/``offscreen``/``offscreen_ids``)."""
    store = store if isinstance(store, HeatmapStore) else HeatmapStore.open(store)
    assert store.is_complete(), f"store {store.root} is not complete"
    shards = list(store.iter_shards())
    out: dict[str, np.ndarray] = {}
    for key in shards[0]:
        axis = 1 if key in ("noise", "offscreen", "offscreen_ids") else 0
        out[key] = np.concatenate([s[key] for s in shards], axis=axis)
    assert list(out["index"]) == list(range(len(out["index"]))), "shards do not cover the dataset in order"
    return out


def order_by_ids(ours: np.ndarray, theirs: np.ndarray) -> np.ndarray:
    """Indices into ``theirs`` that line up with ``ours`` (ids as strings); both sets must be equal."""
    ours = [str(x) for x in ours]
    where = {str(x): i for i, x in enumerate(theirs)}
    assert sorted(ours) == sorted(where), f"sample ids differ: {sorted(set(ours) ^ set(where))[:5]}"
    return np.array([where[i] for i in ours])


class ReferenceModels:
    """The models :func:`reference_maps` builds, one per (model, checkpoint, preset), each with a memo
    of its encodings by exact input: an input whose dtype, shape and bytes equal one already encoded
    gets that encoding (a batch-of-one encoding is a function of its input's bytes on a fixed thread
    count), whichever sample, variant, seed or call it comes from. Inputs that differ in one bit are
    encoded separately, so the memo assumes nothing about which inputs coincide -- the engine's
    reuse decides that itself, and a wrong decision there still shows as a map off the reference.
    Pass one instance to every :func:`reference_maps` of a module to share the forwards.
    """

    def __init__(self):
        self.models: dict[tuple, object] = {}
        self.encoded = 0  # inputs encoded (memo misses)

    def get(self, spec: RunSpec):
        key = (spec.model, spec.checkpoint, spec.preset)
        if key not in self.models:
            from vssleval.models import build_model

            model = build_model(spec.model, spec.checkpoint, preset=spec.preset)
            model.encode_image = self._memo(model.encode_image)
            model.encode_audio = self._memo(model.encode_audio)
            self.models[key] = model
        return self.models[key]

    def _memo(self, encode):
        import hashlib

        seen: dict[tuple, object] = {}

        def memo_encode(x):
            assert len(x) == 1, "the reference encodes batches of one"
            key = (str(x.dtype), tuple(x.shape), hashlib.sha256(x.contiguous().numpy().tobytes()).digest())
            if key not in seen:
                seen[key] = encode(x)
                self.encoded += 1
            return seen[key]

        return memo_encode


def reference_maps(spec: RunSpec, models: ReferenceModels | None = None) -> dict[str, np.ndarray]:
    """What the engine must produce, computed the slow way: for every sample, variant and seed a
    forward on inputs built from scratch (batch of one, nothing shared between samples), with the
    draws of the data layer's sampler as functions of (seed, index). The positive is a full
    ``model(image, audio)``; the other variants pair a batch-of-one encoding of the sample's image
    with their own audio encoding through ``localize``, which is what ``forward`` computes
    (``BaseModel.forward``; tests/models/test_registered_models_contract.py checks it for every
    model). Each distinct input is encoded once (:class:`ReferenceModels`: the silence clip, an
    offscreen input equal to a positive input, a bank clip drawn twice, the same sample in another
    call): encoding equal bytes again gives the same encoding and checks nothing more.

    The audio front-end is built from the protocol's ``audio_block`` of the preset, as the engine's:
    ``vssleval`` feeds every negative through the positive's front-end, ``juanola2025`` keeps
    vssl_eval's per-variant quirks (pinned by tests/metrics/test_protocol_prepare.py).
    ``models``: the models and encodings to share with other calls (a fresh set when None).
    """
    import torch

    from vssleval.data import load_dataset
    from vssleval.data.negatives import bank_noise, noise, noise_bank_slot
    from vssleval.frontends.pipeline import AudioPipeline, ImagePipeline
    from vssleval.metrics.protocols import get_protocol
    from vssleval.models.registry import preset_block

    model = (models or ReferenceModels()).get(spec)
    block = preset_block(model.config, spec.preset, model.name)
    audio_block = get_protocol(spec.protocol).audio_block(block["audio"])
    audio, image = AudioPipeline(audio_block), ImagePipeline(block["image"])
    dataset = load_dataset(spec.dataset, spec.data_dir)
    samples = dataset.samples[: spec.limit] if spec.limit else dataset.samples
    pool = dataset.offscreen_pool()
    S, N = len(spec.seeds), len(samples)
    out: dict[str, list] = {"positive": [], "silence": [], "noise": [[None] * N for _ in range(S)],
                            "offscreen": [[None] * N for _ in range(S)],
                            "offscreen_ids": [[None] * N for _ in range(S)]}
    with torch.no_grad():
        for p, sample in enumerate(samples):
            img = image.load(sample.image_path)[None]

            def full(x):
                return model(img, x[None])[0].numpy()

            def paired(x):
                return model.localize(model.encode_image(img), model.encode_audio(x[None]))[0].numpy()

            wave, sr, info = audio.waveform(sample.audio_path, "positive")
            out["positive"].append(full(audio.features(torch.from_numpy(wave), sr, "positive")))
            out["silence"].append(paired(audio.silence(sr)))
            length = audio.noise_length(sr)
            for s, seed in enumerate(spec.seeds):
                if spec.noise_bank:
                    clip = bank_noise(seed, noise_bank_slot(seed, p, spec.noise_bank), length)
                else:
                    clip = noise(seed, p, length)
                out["noise"][s][p] = paired(audio.noise(clip, sr))
                draw = pool.draw(seed, p, sample)
                out["offscreen"][s][p] = paired(audio.offscreen(draw.offscreen_path, info))
                out["offscreen_ids"][s][p] = draw.offscreen_id
    return {k: np.asarray(v) for k, v in out.items()}


def fake_shard(start: int, n: int = 2, S: int = 2, h: int = 7) -> dict[str, np.ndarray]:
    """A store shard of ``n`` samples from position ``start`` with random maps (``S`` seeds, ``h x h``)."""
    rng = np.random.default_rng(start)
    return {
        "index": np.arange(start, start + n),
        "ids": np.array([f"s{i}" for i in range(start, start + n)]),
        "positive": rng.random((n, h, h), dtype=np.float32),
        "silence": rng.random((n, h, h), dtype=np.float32),
        "noise": rng.random((S, n, h, h), dtype=np.float32),
        "offscreen": rng.random((S, n, h, h), dtype=np.float32),
        "offscreen_ids": np.array([[f"o{s}{i}" for i in range(n)] for s in range(S)]),
        "gt": pack_gt(np.zeros((n, 224, 224), np.float32)),
        "groups": np.array([f"s{i}" for i in range(start, start + n)]),
        "boxes": pad_boxes([np.array([[0.1, 0.1, 0.5, 0.5]])] * n, 1),
        "labels": np.array([""] * n),
    }


#: The YAML of a plug-in whose maps are its raw output (no front-end blocks, identity map rule).
IDENTITY_PLUGIN_YAML = """
model: {size: 7}
checkpoint: {}
thresholds: {}
presets:
  juanola2025:
    audio: {}
    image: {}
    map: {raw: identity, upsample: {positive: bilinear}, normalize: none}
"""
