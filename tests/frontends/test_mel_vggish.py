"""Mel/dB (torchaudio semantics) and VGGish log-mel vs independent float64 numpy references."""

import numpy as np
import pytest
import torch

from vssleval.frontends.mel import amplitude_to_db, mel_filterbank, mel_spectrogram
from vssleval.frontends.vggish import vggish_examples


def rel(a, b):
    return float(np.abs(a - b).max() / np.abs(b).max())


def np_mel(x, sr, n_fft=512, hop=239, n_mels=257):
    """Textbook definition in float64: reflect-padded Hann STFT / sqrt(sum w^2), power, HTK triangles."""
    n = np.arange(n_fft)
    w = 0.5 - 0.5 * np.cos(2 * np.pi * n / n_fft)
    xp = np.pad(x, n_fft // 2, mode="reflect")
    frames = np.stack([xp[i:i + n_fft] for i in range(0, len(xp) - n_fft + 1, hop)])
    spec = np.abs(np.fft.rfft(frames * w, axis=1) / np.sqrt((w ** 2).sum())) ** 2  # [T, F]
    freqs = np.linspace(0, sr // 2, n_fft // 2 + 1)
    mel = lambda f: 2595.0 * np.log10(1.0 + f / 700.0)
    m = np.linspace(mel(0.0), mel(sr // 2), n_mels + 2)
    f = 700.0 * (10 ** (m / 2595.0) - 1.0)
    lo, c, hi = f[:-2], f[1:-1], f[2:]
    fb = np.maximum(0, np.minimum((freqs[:, None] - lo) / (c - lo), (hi - freqs[:, None]) / (hi - c)))
    return (spec @ fb).T, fb


@pytest.mark.parametrize("n,sr", [(160000, 16000), (50000, 16000), (60000, 22050)])
def test_mel_matches_numpy_reference(n, sr):
    x = np.random.default_rng(n).normal(size=n) * 0.1
    ref, fb = np_mel(x, sr)
    got = mel_spectrogram(torch.from_numpy(x), sr).numpy()
    assert got.shape == ref.shape == (257, 1 + n // 239)
    assert rel(got, ref) <= 1e-6
    assert rel(mel_filterbank(257, 257, sr, dtype=torch.float64).numpy(), fb) <= 1e-9
    # torchaudio builds the bank in float32 (narrow triangles amplify its rounding): ~3e-5
    assert rel(mel_filterbank(257, 257, sr).numpy(), fb) <= 1e-4
    db = amplitude_to_db(torch.from_numpy(ref)).numpy()
    assert rel(db, 10 * np.log10(np.maximum(ref, 1e-10))) <= 1e-12
    # float32 path (the SSL-TIE preset, bit-exact to torchaudio in the parity tests) stays within
    # the float32 filter bank's precision of the definition
    got32 = mel_spectrogram(torch.from_numpy(x.astype(np.float32)), sr).numpy()
    assert rel(got32, ref) <= 1e-4


def test_empty_filters_are_minus_100_db():
    fb = mel_filterbank(257, 257, 16000)
    assert int((fb.sum(0) == 0).sum()) == 28
    x = torch.randn(16000)
    db = amplitude_to_db(mel_spectrogram(x, 16000))
    assert torch.all(db[fb.sum(0) == 0] == -100.0)


def np_vggish(x):
    w = 0.5 - 0.5 * np.cos(2 * np.pi / 400 * np.arange(400))
    frames = np.stack([x[i:i + 400] for i in range(0, len(x) - 400 + 1, 160)])
    mag = np.abs(np.fft.rfft(frames * w, 512))
    hz2mel = lambda f: 1127.0 * np.log(1 + f / 700.0)
    bins = hz2mel(np.linspace(0, 8000, 257))
    e = np.linspace(hz2mel(125.0), hz2mel(7500.0), 66)
    W = np.zeros((257, 64))
    for i in range(64):
        W[:, i] = np.maximum(0, np.minimum((bins - e[i]) / (e[i + 1] - e[i]), (e[i + 2] - bins) / (e[i + 2] - e[i + 1])))
    W[0] = 0
    lm = np.log(mag @ W + 0.01)
    k = (len(lm) - 96) // 96 + 1
    return np.stack([lm[j * 96:(j + 1) * 96] for j in range(k)])


@pytest.mark.parametrize("n", [48000, 16000, 30000])
def test_vggish_matches_numpy_reference(n):
    x = np.random.default_rng(n).uniform(-1, 1, n).astype(np.float32)
    ref = np_vggish(x.astype(np.float64))
    got = vggish_examples(torch.from_numpy(x)).numpy()
    assert got.shape == ref.shape
    assert rel(got, ref) <= 1e-9
    batch = vggish_examples(torch.from_numpy(np.stack([x, x])))
    assert torch.equal(batch[1], torch.from_numpy(got))
