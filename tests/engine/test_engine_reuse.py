"""Feature reuse is exact: the engine's maps equal forwards made sample by sample, per variant and seed.

The reference (:func:`engine_helpers.reference_maps`) computes each (sample, variant, seed) map on
its own from freshly built inputs (a full ``model(image, audio)`` for the positive; the sample's
image encoded once, batch of one, and paired with each variant's audio through ``localize``); the
engine computes each image's features once, silence features once per run, noise per (seed,
sample) or per bank clip, and offscreen features either from the cached positive features
(protocol ``vssleval``: offscreen audio has the positive's preprocessing) or from a table of every
distinct offscreen input, each encoded once (``juanola2025``: EZ-VSL's offscreen clips are not
centre-rolled and are tiled with the positive's repeat count). EZ-VSL with the fixtures' rule weights (the real
architecture) on a 6-sample synthetic VGG-SS set, 2 seeds, batches of 4 (one partial batch). The
cases' references share one model and its encodings by exact input (``engine_helpers.ReferenceModels``:
the ``vssleval`` cases differ only in their noise, and the ``juanola2025`` case has their positive
inputs), so each distinct input is encoded once in the module.

The engine's model is wrapped to count encoder rows, so the test also pins *how much* work each
path does -- the point of the reuse.
"""

from __future__ import annotations

import dataclasses
import shutil

import numpy as np
import pytest
import soundfile as sf
import torch

import vssleval.engine.runner as runner
import vssleval.engine.spec as spec_module
from engine_helpers import ReferenceModels, reference_maps, run, store_arrays
from vssleval.data import load_dataset
from vssleval.data.negatives import noise_bank_slot
from vssleval.engine.spec import RunSpec, seed_list
from vssleval.fingerprint import file_sha256
from vssleval.frontends.pipeline import AudioPipeline, ImagePipeline
from vssleval.models import load_model_config
from vssleval.models.registry import preset_block

N, SEEDS, BATCH = 6, seed_list(2), 4
ATOL = 1e-6  # batch-of-one vs batched convolutions differ by ~6e-8 on these [0, 1] maps


class Counter:
    def __init__(self):
        self.image = self.audio = 0


@pytest.fixture
def counted(monkeypatch):
    """Count the rows the run's model encodes (the OGL prior of juanola2025 is not counted)."""
    counter = Counter()
    real_build = runner.build_model

    def build(name, *args, **kwargs):
        model = real_build(name, *args, **kwargs)
        if name != "ogl":
            enc_image, enc_audio = model.encode_image, model.encode_audio

            def encode_image(x):
                counter.image += len(x)
                return enc_image(x)

            def encode_audio(x):
                counter.audio += len(x)
                return enc_audio(x)

            model.encode_image, model.encode_audio = encode_image, encode_audio
        return model

    monkeypatch.setattr(runner, "build_model", build)
    return counter


def _spec(data_dir, ckpt, ogl, **kw) -> RunSpec:
    base = dict(model="ezvsl", checkpoint=str(ckpt), dataset="synthetic-vggss", data_dir=str(data_dir),
                preset="juanola2025", protocol="vssleval", negatives=("silence", "noise", "offscreen"),
                seeds=SEEDS, batch_size=BATCH, ogl_weights=str(ogl))
    return RunSpec(**{**base, **kw})


def _compare(ours: dict, ref: dict) -> None:
    for variant in ("positive", "silence", "noise", "offscreen"):
        assert ours[variant].shape == ref[variant].shape, variant
        np.testing.assert_allclose(ours[variant], ref[variant], rtol=0, atol=ATOL, err_msg=variant)
    assert (ours["offscreen_ids"] == ref["offscreen_ids"]).all()


@pytest.fixture(scope="module")
def short_clip_set(tmp_path_factory, synthetic_set):
    """The 6-sample set with one 7-s clip among the 10-s ones: its positive is centre-rolled, so
    under juanola2025 its offscreen input differs from its positive input and the table must encode
    it. Runs only read it."""
    data = tmp_path_factory.mktemp("short-clip") / "data"
    shutil.copytree(synthetic_set("vggss", N), data)
    short = sorted((data / "audio").glob("*.wav"))[0]
    wave, sr = sf.read(short, dtype="float32")
    sf.write(short, wave[: 7 * sr], sr)
    return data


@pytest.fixture(scope="module")
def reference_models():
    """The reference's model and encodings, shared by the module's cases."""
    return ReferenceModels()


@pytest.mark.slow
@pytest.mark.parametrize("protocol, noise_bank", [("vssleval", 0), ("vssleval", 2), ("juanola2025", 0)],
                         ids=["reuse", "reuse-noise-bank-2", "no-reuse-juanola2025"])
def test_engine_equals_full_forwards(protocol, noise_bank, tmp_path, counted, short_clip_set, ezvsl_checkpoint,
                                     ogl_weights, reference_models, monkeypatch):
    spec = _spec(short_clip_set, ezvsl_checkpoint, ogl_weights, protocol=protocol, noise_bank=noise_bank)
    # the checkpoint is read and hashed once, by the model's load; the run records that hash
    with monkeypatch.context() as patch:
        patch.setattr(spec_module, "file_sha256", _no_second_hash)
        outcome = run(spec, tmp_path / "run")
    assert outcome.store.config["checkpoint_sha256"] == file_sha256(ezvsl_checkpoint)
    ours = store_arrays(outcome.store)
    _compare(ours, reference_maps(spec, reference_models))

    S = len(SEEDS)
    reuse = protocol == "vssleval"
    assert outcome.store.config["offscreen_reuse"] is reuse
    if not reuse:
        assert any("another preprocessing" in note for note in outcome.notes), outcome.notes
    # every image once; positives once; silence once per run; noise per (seed, sample) or per used
    # bank clip; offscreen once per distinct input only when it cannot reuse the positive features
    noise_rows = (len({(seed, noise_bank_slot(seed, p, noise_bank)) for seed in SEEDS for p in range(N)})
                  if noise_bank else S * N)
    # without reuse each distinct offscreen input (clip x the positive it is shown with) is encoded
    # once, unless it equals the clip's own positive input (a 10-s clip: no roll, one tile)
    encoded, distinct = _offscreen_rows(spec, ours)
    assert 0 < encoded < distinct < S * N  # both paths run, and the seeds draw some inputs twice
    assert counted.image == N
    assert counted.audio == N + 1 + noise_rows + (0 if reuse else encoded)
    if noise_bank:
        assert noise_rows <= S * noise_bank
        assert ours["noise"].shape == (S, N, 7, 7)


def _no_second_hash(path):
    raise AssertionError(f"{path} hashed again for the run's configuration")


def _offscreen_rows(spec: RunSpec, ours: dict) -> tuple[int, int]:
    """(inputs the offscreen table must encode, distinct offscreen inputs) of a juanola2025 run,
    computed here from the preset's pipeline: an input equal to its clip's positive input is not
    encoded."""
    samples = load_dataset(spec.dataset, spec.data_dir).samples
    audio = AudioPipeline(preset_block(load_model_config("ezvsl"), "juanola2025", "ezvsl")["audio"])
    positive = {s.id: audio.positive_with_info(s.audio_path) for s in samples}
    path = {s.id: s.audio_path for s in samples}
    keys = {(str(off), positive[samples[p].id][1]) for row in ours["offscreen_ids"] for p, off in enumerate(row)}
    encoded = sum(not torch.equal(audio.offscreen(path[off], info), positive[off][0]) for off, info in keys)
    return encoded, len(keys)


@pytest.mark.slow
def test_reuse_path_broadcasts_one_image_over_many_clips(tmp_path, synthetic_set, ezvsl_checkpoint, ogl_weights,
                                                         reference_models):
    """Offscreen via reuse: the map of sample i with drawn clip j is localize(visual_i, audio_j),
    i.e. sample j's own positive audio features paired with image i (identity of the cache). The
    features are the reference's batch-of-one encodings (``reference_models``: the images and the
    clips the short-clip set shares with this set are encoded once in the module)."""
    spec = _spec(synthetic_set("vggss", N), ezvsl_checkpoint, ogl_weights, negatives=("offscreen",), seeds=SEEDS[:1])
    ours = store_arrays(run(spec, tmp_path / "run").store)
    ids = [str(i) for i in ours["ids"]]
    drawn = [ids.index(str(o)) for o in ours["offscreen_ids"][0]]
    assert all(j != i for i, j in enumerate(drawn))
    model = reference_models.get(spec)
    block = preset_block(model.config, "juanola2025", "ezvsl")
    audio = AudioPipeline({k: v for k, v in block["audio"].items() if k != "variants"})
    image = ImagePipeline(block["image"])
    samples = load_dataset("synthetic-vggss", spec.data_dir).samples
    with torch.no_grad():
        visual = torch.cat([model.encode_image(image.load(s.image_path)[None]) for s in samples])
        aud = torch.cat([model.encode_audio(audio.positive(s.audio_path)[None]) for s in samples])
        expected = model.localize(visual, aud[drawn]).numpy()
    np.testing.assert_allclose(ours["offscreen"][0], expected, rtol=0, atol=ATOL)


@pytest.mark.slow
def test_noise_features_kept_for_the_next_dataset(tmp_path, counted, synthetic_set, ezvsl_checkpoint, ogl_weights):
    """With the noise memo on (the main job's runs), a second run of the same model and seeds on
    another dataset of the same positions encodes no noise -- sample p hears the same noise in both
    -- and its maps are those of a run without the memo, bit for bit; another seed list, or the
    memo off, encodes the noise again."""
    from vssleval.engine.noise_memo import NOISE_MEMO

    vggss = _spec(synthetic_set("vggss", N), ezvsl_checkpoint, ogl_weights)
    is3 = dataclasses.replace(vggss, dataset="synthetic-is3", data_dir=str(synthetic_set("is3", N)))
    alone = store_arrays(run(is3, tmp_path / "alone").store)  # memo off (the default)
    counted.audio = 0
    try:
        NOISE_MEMO.enable()
        run(vggss, tmp_path / "vggss")
        assert counted.audio == N + 1 + len(SEEDS) * N  # positives, silence, every noise clip
        assert len(NOISE_MEMO.batches) == 2 and NOISE_MEMO.key is not None
        counted.audio = 0
        kept = store_arrays(run(is3, tmp_path / "is3").store)
        assert counted.audio == N + 1  # no noise forward
        for name, value in alone.items():
            assert np.array_equal(kept[name], value), name
        counted.audio = 0
        run(dataclasses.replace(is3, seeds=SEEDS[:1]), tmp_path / "one-seed")  # another key: drawn again
        assert counted.audio == N + 1 + N
    finally:
        NOISE_MEMO.enable(False)
    assert NOISE_MEMO.key is None and not NOISE_MEMO.batches


def test_reference_memo_reuses_only_equal_inputs():
    """The reference's memo (``engine_helpers.ReferenceModels``) gives an earlier encoding only to an
    input of the same dtype, shape and bytes: one changed element, another dtype or another shape is
    encoded afresh."""
    models, seen = ReferenceModels(), []
    encode = models._memo(lambda x: seen.append(x) or x.sum())
    a = torch.zeros(1, 3, 4)
    changed = a.clone()
    changed[0, 2, 3] = 1e-30
    for x in (a, a.clone(), changed, a.double(), a.reshape(1, 4, 3), changed.clone()):
        encode(x)
    assert models.encoded == len(seen) == 4
    assert [tuple(x.shape) for x in seen] == [(1, 3, 4), (1, 3, 4), (1, 3, 4), (1, 4, 3)]
    assert seen[1][0, 2, 3] == 1e-30 and seen[2].dtype == torch.float64
    with pytest.raises(AssertionError, match="batches of one"):
        encode(torch.zeros(2, 3))
