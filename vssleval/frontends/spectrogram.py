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

import numpy as np
import torch


@functools.lru_cache(maxsize=16)
def _window_np(kind: str, alpha: float, nperseg: int) -> np.ndarray:
    # scipy builds the default window itself; using its get_window keeps the array bit-identical
    # to what scipy.signal.spectrogram multiplies by (periodic Tukey, 'tukey_periodic' in scipy>=1.15).
    from scipy.signal import get_window

    return np.asarray(get_window((kind, alpha), nperseg, fftbins=True), dtype=np.float64)


def tukey_window(nperseg: int, alpha: float = 0.25) -> np.ndarray:
    """Periodic Tukey window ``[nperseg]`` float64 (scipy's default spectrogram window)."""
    return _window_np("tukey", float(alpha), int(nperseg))


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
    seg = seg - seg.mean(dim=-1, keepdim=True)
    spec = torch.fft.rfft(seg * win, n=nfft, dim=-1)
    power = (spec.conj() * spec).real * scale
    if nfft % 2 == 0:
        power[..., 1:-1] *= 2
    else:
        power[..., 1:] *= 2
    return power.transpose(-1, -2)
