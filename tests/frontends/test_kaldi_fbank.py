"""The Kaldi fbank front-end of ACL-SSL's BEATs (vssleval/frontends/fbank.py) against
torchaudio.compliance.kaldi.fbank.

Golden ``tests/fixtures/aclssl/kaldi_fbank.npz``, written by ``scripts/reference/aclssl_fbank_golden.py``:
0.5 s of a 440 Hz tone plus seeded noise, stored as PCM16 (``pcm16``), and torchaudio 2.11's
``kaldi.fbank(pcm16 / 32768 * 32768, num_mel_bins=128, sample_frequency=16000, frame_length=25,
frame_shift=10, dither=0)`` of it (``fbank``, 48 x 128), computed with torch 2.14.1 on the CPU (the
arguments BEATs passes; docs/models.md §17.4).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from vssleval.frontends.fbank import kaldi_fbank, mel_banks, povey_window
from vssleval.frontends.pipeline import AudioPipeline
from vssleval.models import load_model_config

GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "aclssl" / "kaldi_fbank.npz"


def test_fbank_equals_torchaudio_golden():
    g = np.load(GOLDEN)
    wave = torch.from_numpy(g["pcm16"].astype(np.float32) / 32768)
    out = kaldi_fbank(wave * 32768, sample_rate=16000, num_mel_bins=128)
    assert out.shape == (48, 128) and out.dtype == torch.float32
    np.testing.assert_allclose(out.numpy(), g["fbank"], rtol=1e-5, atol=1e-4)


def test_fbank_is_per_item_in_a_batch_and_floors_silence_at_log_eps():
    g = np.load(GOLDEN)
    wave = torch.from_numpy(g["pcm16"].astype(np.float32))
    both = kaldi_fbank(torch.stack([wave, torch.zeros_like(wave)]), 16000, 128)
    torch.testing.assert_close(both[0], kaldi_fbank(wave, 16000, 128))
    assert torch.all(both[1] == torch.log(torch.tensor(torch.finfo(torch.float32).eps)))


def test_mel_banks_and_window_follow_kaldi_definitions():
    banks = mel_banks(128, 512, 16000.0, 20.0, 0.0)
    assert banks.shape == (128, 257) and torch.all(banks[:, -1] == 0) and torch.all(banks >= 0)
    # each triangle peaks below 1 at most, and every bin is covered between 20 Hz and Nyquist
    assert banks.max() <= 1.0 and (banks.sum(0)[1:256] > 0).sum() >= 250
    w = povey_window(400)
    np.testing.assert_allclose(w.numpy(), (0.5 - 0.5 * np.cos(2 * np.pi * np.arange(400) / 399)) ** 0.85,
                               atol=1e-6)


@pytest.mark.parametrize("seconds,frames", [(10.0, 998), (3.0, 998), (12.5, 998)])
def test_aclssl_preset_pads_or_cuts_to_10_s_and_normalises(tmp_path, seconds, frames):
    import soundfile as sf

    block = load_model_config("aclssl")["presets"]["native"]["audio"]
    pipe = AudioPipeline(block)
    rng = np.random.default_rng(0)
    x = (0.1 * rng.standard_normal(int(16000 * seconds))).astype(np.float32)
    sf.write(tmp_path / "a.wav", x, 16000, subtype="PCM_16")
    feats = pipe.positive(tmp_path / "a.wav")
    assert feats.shape == (frames, 128)
    # zero padding shows up as frames at the log floor; the first frames are the file's
    pcm = sf.read(tmp_path / "a.wav", dtype="float32")[0][:160000]
    pcm = np.concatenate([pcm, np.zeros(160000 - len(pcm), np.float32)])
    ref = (kaldi_fbank(torch.from_numpy(pcm) * 32768, 16000, 128) - 15.41663) / (2 * 6.55582)
    torch.testing.assert_close(feats, ref)
    assert pipe.noise_length(16000) == 160000 and pipe.silence(16000).shape == (998, 128)
