"""scipy-equivalent spectrogram vs scipy.signal.spectrogram itself."""

import numpy as np
import pytest
import scipy.signal as ss
import torch

from vssleval.frontends.spectrogram import num_frames, scipy_spectrogram, tukey_window


def rel(a, b):
    return float(np.abs(a - b).max() / np.abs(b).max())


@pytest.mark.parametrize("n", [512, 513, 1000, 48000, 160000, 48123])
@pytest.mark.parametrize("noverlap", [274, 353])
@pytest.mark.parametrize("fs", [16000, 22050])
def test_matches_scipy(n, noverlap, fs):
    x = np.random.default_rng(n + noverlap).normal(size=n)
    ref = ss.spectrogram(x, fs=fs, nperseg=512, noverlap=noverlap)[2]
    got = scipy_spectrogram(torch.from_numpy(x), fs, nperseg=512, noverlap=noverlap).numpy()
    assert got.shape == ref.shape == (257, num_frames(n, 512, noverlap))
    assert rel(got, ref) <= 1e-6
    # log domain, as the presets use it: float32 results identical
    assert np.array_equal(np.log(got + 1e-7).astype(np.float32), np.log(ref + 1e-7).astype(np.float32))


def test_batched_equals_single_and_odd_nfft_branch():
    x = np.random.default_rng(0).normal(size=(3, 20000))
    batch = scipy_spectrogram(torch.from_numpy(x), 16000, 512, 274).numpy()
    for i in range(3):
        assert np.array_equal(batch[i], scipy_spectrogram(torch.from_numpy(x[i]), 16000, 512, 274).numpy())
    ref = ss.spectrogram(x[0], fs=8000, nperseg=255, noverlap=100)[2]
    assert rel(scipy_spectrogram(torch.from_numpy(x[0]), 8000, 255, 100).numpy(), ref) <= 1e-6


def test_window_is_scipys_periodic_tukey():
    assert np.array_equal(tukey_window(512, 0.25), ss.get_window(("tukey", 0.25), 512))
    assert not np.array_equal(tukey_window(512, 0.25), ss.windows.tukey(512, 0.25, sym=True))


def test_dc_and_constant_detrend():
    x = torch.full((4096,), 0.25, dtype=torch.float64)  # a (binary-exact) constant is removed per segment
    assert float(scipy_spectrogram(x, 16000).abs().max()) == 0.0


def test_too_short_raises():
    with pytest.raises(ValueError):
        scipy_spectrogram(torch.zeros(100, dtype=torch.float64), 16000, 512, 274)
