"""Sounds for the synthetic benchmark: one characteristic signal per class, jittered per sample,
over coloured background noise. All waveforms are float64 ``[n]`` at ``SR`` Hz, peak below 1.
"""

from __future__ import annotations

import numpy as np

from vssleval.data.synthetic.classes import SynthClass

SR = 16000
DURATION_S = 10.0


def band_noise(rng: np.random.Generator, n: int, lo: float, hi: float, sr: int = SR) -> np.ndarray:
    """White noise band-limited to [lo, hi] Hz by zeroing FFT bins; unit RMS."""
    spec = np.fft.rfft(rng.standard_normal(n))
    f = np.fft.rfftfreq(n, 1.0 / sr)
    spec[(f < lo) | (f > hi)] = 0.0
    x = np.fft.irfft(spec, n)
    return x / (np.sqrt(np.mean(x**2)) + 1e-12)


def _sine_from_freq(freq: np.ndarray, phase0: float, sr: int = SR) -> np.ndarray:
    return np.sin(phase0 + 2.0 * np.pi * np.cumsum(freq) / sr)


def class_signal(cls: SynthClass, rng: np.random.Generator, n: int, sr: int = SR) -> np.ndarray:
    """The class's sound, unit RMS, with per-sample pitch/rate jitter (±4 %) and a random phase."""
    t = np.arange(n) / sr
    j = float(rng.uniform(0.96, 1.04))
    f0 = cls.pitch * j
    phase = float(rng.uniform(0, 2 * np.pi))
    kind = cls.sound
    if kind == "harmonic":
        x = sum(np.sin(k * (2 * np.pi * f0 * t + phase)) / k for k in range(1, 5))
    elif kind == "square":
        x = sum(np.sin(k * (2 * np.pi * f0 * t + phase)) / k for k in range(1, 8, 2))
    elif kind == "bandnoise":
        x = band_noise(rng, n, f0 - 500, f0 + 500, sr)
    elif kind in ("chirpup", "chirpdown"):
        period = 1.0 * j
        frac = (t % period) / period
        lo, hi = (f0, f0 * 2.8) if kind == "chirpup" else (f0 / 1.55, f0)
        freq = lo * (hi / lo) ** frac if kind == "chirpup" else hi * (lo / hi) ** frac
        x = _sine_from_freq(freq, phase, sr)
    elif kind == "am":
        x = np.sin(2 * np.pi * f0 * t + phase) * (0.55 + 0.45 * np.sin(2 * np.pi * 4.0 * j * t))
    elif kind == "clicks":
        x = np.zeros(n)
        step = int(sr / (cls.pitch * j))
        start = int(rng.integers(step))
        x[start::step] = 1.0
        # Each click rings briefly: convolve with a short decaying 6.8 kHz burst.
        k = np.arange(int(0.01 * sr))
        x = np.convolve(x, np.exp(-k / 30.0) * np.sin(2 * np.pi * 6800.0 * k / sr))[:n]
    elif kind == "vibrato":
        x = _sine_from_freq(f0 + 0.06 * f0 * np.sin(2 * np.pi * 6.0 * j * t), phase, sr)
    elif kind == "siren":
        freq = np.where((t / (0.5 * j)) % 2 < 1, f0, f0 * 4.0 / 3.0)
        x = _sine_from_freq(freq, phase, sr)
    elif kind == "bursts":
        gate = ((t * 3.0 * j + rng.uniform()) % 1.0) < 0.4
        x = band_noise(rng, n, f0 * 0.75, f0 * 1.5, sr) * gate
    else:
        raise ValueError(f"unknown sound {kind!r}")
    x = np.asarray(x, dtype=np.float64)
    return x / (np.sqrt(np.mean(x**2)) + 1e-12)


def clip_audio(cls: SynthClass, rng: np.random.Generator, duration_s: float = DURATION_S, sr: int = SR) -> np.ndarray:
    """A full clip: class signal at a random level over brown-ish background noise (SNR 10–25 dB)."""
    n = int(round(duration_s * sr))
    sig = class_signal(cls, rng, n, sr)
    bg = band_noise(rng, n, 50.0, 6000.0, sr)
    bg = np.cumsum(bg) * 0.02 + bg * 0.2  # tilt towards low frequencies
    bg = bg - bg.mean()
    bg /= np.sqrt(np.mean(bg**2)) + 1e-12
    snr_db = float(rng.uniform(10.0, 25.0))
    x = sig + bg * 10 ** (-snr_db / 20.0)
    level = float(rng.uniform(0.15, 0.35))  # target RMS, leaves head-room below full scale
    x = x * (level / (np.sqrt(np.mean(x**2)) + 1e-12))
    return np.clip(x, -0.99, 0.99)
