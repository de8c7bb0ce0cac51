"""Drawing only the noise samples the front-end reads (``AudioPipeline.noise_prefix``) gives the
same model input as the full draw, for every preset of every model."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from vssleval.data import noise
from vssleval.errors import VsslevalError
from vssleval.frontends.pipeline import AudioPipeline, pad_end
from vssleval.metrics.protocols import get_protocol
from vssleval.models import list_models, load_model_config
from vssleval.models.registry import preset_block


def _pipelines():
    """(model, preset, protocol, pipeline) of every audio block, as each protocol hands it over."""
    out = []
    for model in list_models():
        config = load_model_config(model)
        for preset in config.get("presets", {}):
            block = preset_block(config, preset, model).get("audio") or {}
            for protocol in ("vssleval", "juanola2025"):
                audio = get_protocol(protocol).audio_block(block) if block else {}
                if audio:
                    out.append((model, preset, protocol, AudioPipeline(audio)))
    return out


PIPELINES = _pipelines()


def test_the_draw_is_a_prefix_of_a_longer_draw():
    """numpy's N(0, 1) fill is sequential: a shorter draw is the start of a longer one."""
    for seed, index in ((1234, 0), (9999, 57), (0, 4199)):
        assert np.array_equal(noise(seed, index, 160000)[:104042], noise(seed, index, 104042))


@pytest.mark.parametrize("model, preset, protocol, pipeline", PIPELINES,
                         ids=[f"{m}-{p}-{q}" for m, p, q, _ in PIPELINES])
def test_noise_prefix_gives_the_full_draws_input(model, preset, protocol, pipeline):
    sr = int((pipeline.config("noise").get("read") or {}).get("sample_rate") or 16000)
    n, used = pipeline.noise_length(sr), pipeline.noise_prefix(sr)
    assert 0 < used <= n
    if used == n:
        return  # the front-end reads every sample (or may): nothing to compare
    full = noise(1234, 3, n)
    zeros_after = pad_end(full[:used], n)
    assert np.array_equal(pipeline.noise(full, sr).numpy(), pipeline.noise(zeros_after, sr).numpy())
    # the sample just before the prefix's end is read: changing it changes the input
    changed = full.copy()
    changed[used - 1] += 1.0
    assert not np.array_equal(pipeline.noise(changed, sr).numpy(), pipeline.noise(full, sr).numpy())


@pytest.mark.parametrize("model, preset, protocol, pipeline", PIPELINES,
                         ids=[f"{m}-{p}-{q}" for m, p, q, _ in PIPELINES])
def test_noise_rows_give_the_stacked_inputs(model, preset, protocol, pipeline):
    """``noise([k, n])`` (the engine's seeds of one sample, one batched front-end call where the
    preset allows it) is ``stack([noise(row) for row in rows])`` bit for bit, dtype included."""
    sr = int((pipeline.config("noise").get("read") or {}).get("sample_rate") or 16000)
    n = pipeline.noise_length(sr)
    rows = np.stack([noise(seed, 5, n) for seed in (1234, 2345, 3456)])
    batched = pipeline.noise(rows, sr)
    stacked = torch.stack([pipeline.noise(row, sr) for row in rows])
    assert batched.dtype == stacked.dtype == torch.float32 and torch.equal(batched, stacked)
    if (pipeline.config("noise").get("frontend") or {}).get("type") == "spectrogram" and model == "ezvsl":
        assert pipeline._noise_rows_batch()  # the main job's family takes the batched path
    with pytest.raises(VsslevalError, match=r"\[k, "):
        pipeline.noise(rows[:, :-1], sr)
