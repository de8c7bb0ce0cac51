"""scipy-equivalent spectrogram vs scipy.signal.spectrogram itself."""

import subprocess
import sys

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


@pytest.mark.parametrize("alpha", [0.0, 0.1, 0.25, 0.5, 0.9, 1.0])
@pytest.mark.parametrize("nperseg", [255, 256, 400, 512, 1024])
def test_window_is_scipys_periodic_tukey(alpha, nperseg):
    """Our own Tukey window (scipy.signal is not imported for it) is scipy's array bit for bit."""
    assert np.array_equal(tukey_window(nperseg, alpha), ss.get_window(("tukey", alpha), nperseg))
    if 0 < alpha:
        assert not np.array_equal(tukey_window(nperseg, alpha), ss.windows.tukey(nperseg, alpha, sym=True))


def test_spectrogram_does_not_import_scipy_signal():
    """Importing scipy.signal (and scipy.stats with it) costs about a CPU-second per process; a
    spectrogram preset must not need it."""
    code = ("import sys, torch; from vssleval.frontends.spectrogram import scipy_spectrogram; "
            "scipy_spectrogram(torch.zeros(4096, dtype=torch.float64), 16000, 512, 274); "
            "print('scipy.signal' in sys.modules, 'scipy.stats' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_dc_and_constant_detrend():
    x = torch.full((4096,), 0.25, dtype=torch.float64)  # a (binary-exact) constant is removed per segment
    assert float(scipy_spectrogram(x, 16000).abs().max()) == 0.0


def test_too_short_raises():
    with pytest.raises(ValueError):
        scipy_spectrogram(torch.zeros(100, dtype=torch.float64), 16000, 512, 274)
