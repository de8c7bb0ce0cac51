"""``scipy.signal.spectrogram`` (default PSD settings) in torch: batched, float64, GPU-capable.

Definition reproduced (scipy defaults, ``mode='psd'``): segments of ``nperseg`` samples every
``nperseg - noverlap`` samples, no padding; each segment minus its mean (``detrend='constant'``),
times a periodic Tukey(0.25) window, ``rfft`` of length ``nfft``; power ``conj(X)·X`` times
``1 / (fs · Σw²)`` (``scaling='density'``), then bins ``1 .. nfft/2 - 1`` doubled (one-sided).
The operation order follows scipy's so float64 results agree to the last few ulps.
Facts: docs/models.md §3.4.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import torch


@functools.lru_cache(maxsize=16)
def _tukey_periodic(alpha: float, nperseg: int) -> np.ndarray:
    # scipy.signal.windows.tukey(nperseg, alpha, sym=False) -- what get_window(("tukey", alpha),
    # nperseg, fftbins=True) returns and scipy.signal.spectrogram multiplies by ('tukey_periodic' in
    # scipy>=1.15) -- with scipy's own operations in scipy's order, so the array is bit-identical
    # (tests/frontends/test_spectrogram.py compares it with scipy's). Written out because importing
    # scipy.signal (which imports scipy.stats) costs about a CPU-second in every process that runs a
    # spectrogram preset, and nothing else of a run needs it.
    m = nperseg + 1  # periodic: the symmetric window one sample longer, its last sample dropped
    if alpha <= 0:
        return np.ones(nperseg, dtype=np.float64)
    if alpha >= 1.0:  # scipy's Hann window; no preset uses it
        from scipy.signal import get_window

        return np.asarray(get_window(("tukey", alpha), nperseg, fftbins=True), dtype=np.float64)
    n = np.arange(0, m, dtype=np.float64)
    width = int(math.floor(alpha * (m - 1) / 2.0))
    n1, n2, n3 = n[0:width + 1], n[width + 1:m - width - 1], n[m - width - 1:]
    w1 = 0.5 * (1 + np.cos(np.pi * (-1 + 2.0 * n1 / alpha / (m - 1))))
    w2 = np.ones(n2.shape)
    w3 = 0.5 * (1 + np.cos(np.pi * (-2.0 / alpha + 1 + 2.0 * n3 / alpha / (m - 1))))
    return np.concatenate((w1, w2, w3))[:-1]


def tukey_window(nperseg: int, alpha: float = 0.25) -> np.ndarray:
    """Periodic Tukey window ``[nperseg]`` float64 (scipy's default spectrogram window)."""
    return _tukey_periodic(float(alpha), int(nperseg))


@functools.lru_cache(maxsize=16)
def _bin_factors(nfft: int, scale: float) -> np.ndarray:
    """Per rfft bin: ``scale``, doubled for the bins a one-sided PSD doubles (all but DC and, for an
    even ``nfft``, Nyquist). ``x * (2 * scale)`` equals scipy's ``(x * scale) * 2`` bit for bit (a
    factor 2 is exact in binary floating point), so one multiplication does both steps."""
    f = np.full(nfft // 2 + 1, 2.0 * scale)
    f[0] = scale
    if nfft % 2 == 0:
        f[-1] = scale
    return f


def num_frames(n_samples: int, nperseg: int, noverlap: int) -> int:
    """Number of spectrogram columns: ``(N - noverlap) // (nperseg - noverlap)`` (0 if N < nperseg)."""
    if n_samples < nperseg:
        return 0
    return (n_samples - noverlap) // (nperseg - noverlap)


def scipy_spectrogram(
    x: torch.Tensor,
    fs: float,
    nperseg: int = 512,
    noverlap: int | None = None,
    nfft: int | None = None,
    window_alpha: float = 0.25,
) -> torch.Tensor:
    """PSD spectrogram equal to ``scipy.signal.spectrogram(x, fs, nperseg=..., noverlap=...)[2]``.

    Args:
        x: ``[..., N]`` real waveform; computed in its dtype (pass float64 to match scipy on
            float64 input). Any device.
        fs: sample rate in Hz (the density scaling depends on it).
        nperseg: segment length (samples).
        noverlap: overlap (samples); scipy's default ``nperseg // 8`` when ``None``.
        nfft: FFT length, ``nperseg`` when ``None``.
        window_alpha: Tukey shape parameter.

    Returns:
        ``[..., nfft//2 + 1, T]`` power spectral density in units²/Hz, same dtype as ``x``;
        ``T = (N - noverlap) // (nperseg - noverlap)``.
    """
    if noverlap is None:
        noverlap = nperseg // 8
    if nfft is None:
        nfft = nperseg
    if x.shape[-1] < nperseg:
        raise ValueError(f"signal of {x.shape[-1]} samples is shorter than nperseg={nperseg}")
    step = nperseg - noverlap
    win_np = tukey_window(nperseg, window_alpha)
    win = torch.as_tensor(win_np, dtype=x.dtype, device=x.device)
    scale = 1.0 / (fs * float((win_np * win_np).sum()))
    seg = x.unfold(-1, nperseg, step)  # [..., T, nperseg]
    seg = torch.sub(seg, seg.mean(dim=-1, keepdim=True)).mul_(win)
    spec = torch.fft.rfft(seg, n=nfft, dim=-1)
    # conj(X)*X as scipy computes it: torch's vectorised complex product and its scalar tail (compiled
    # with FMA) round differently, so re*re + im*im would not give the same last bits everywhere
    factors = torch.as_tensor(_bin_factors(nfft, scale), dtype=x.dtype, device=x.device)
    power = (spec.conj() * spec).real * factors
    return power.transpose(-1, -2)
