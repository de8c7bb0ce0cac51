"""Mel power spectrogram and dB conversion with torchaudio's semantics, without torchaudio.

Reproduces ``torchaudio.transforms.MelSpectrogram(sample_rate, n_fft, hop_length, n_mels,
normalized=True)`` with its defaults (win_length = n_fft, periodic Hann window, ``center=True`` with
reflect padding, power 2, f_min 0, f_max = sr // 2, HTK mel scale, no filter-bank norm) and
``AmplitudeToDB()`` (power: ``10·log10(max(x, 1e-10))``, ref 1, no top_db), as SSL-TIE uses them.

The filter bank is built with torchaudio's float32 arithmetic (python-float mel edges, float32
``linspace`` and slopes) so float32 inputs give the same numbers as the library.
Facts: docs/models.md §3.5.
"""

from __future__ import annotations

import functools
import math

import torch


def hz_to_mel_htk(f: float) -> float:
    """HTK mel of a frequency in Hz: ``2595·log10(1 + f/700)``."""
    return 2595.0 * math.log10(1.0 + f / 700.0)


def mel_to_hz_htk(m: torch.Tensor) -> torch.Tensor:
    """Inverse of :func:`hz_to_mel_htk`, elementwise on a tensor."""
    return 700.0 * (10.0 ** (m / 2595.0) - 1.0)


@functools.lru_cache(maxsize=16)
def _fbank_cpu(n_freqs: int, f_min: float, f_max: float, n_mels: int, sample_rate: int,
               dtype: torch.dtype) -> torch.Tensor:
    freqs = torch.linspace(0, sample_rate // 2, n_freqs, dtype=dtype)
    m_pts = torch.linspace(hz_to_mel_htk(f_min), hz_to_mel_htk(f_max), n_mels + 2, dtype=dtype)
    f_pts = mel_to_hz_htk(m_pts)
    f_diff = f_pts[1:] - f_pts[:-1]  # [n_mels + 1]
    slopes = f_pts.unsqueeze(0) - freqs.unsqueeze(1)  # [n_freqs, n_mels + 2]
    down = (-1.0 * slopes[:, :-2]) / f_diff[:-1]
    up = slopes[:, 2:] / f_diff[1:]
    return torch.clamp(torch.minimum(down, up), min=0.0)


def mel_filterbank(n_freqs: int, n_mels: int, sample_rate: int, f_min: float = 0.0,
                   f_max: float | None = None, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Triangular HTK filter bank ``[n_freqs, n_mels]`` (torchaudio ``melscale_fbanks``, norm None).

    Built in ``dtype``: float32 reproduces torchaudio's bank bit for bit; float64 is the exact
    definition (used when the waveform is float64).

    With more mel bands than useful FFT bins some columns are all zero (28 of 257 at 16 kHz with
    n_fft 512); that is the reference behaviour and is kept.
    """
    if f_max is None:
        f_max = float(sample_rate // 2)
    return _fbank_cpu(int(n_freqs), float(f_min), float(f_max), int(n_mels), int(sample_rate), dtype).clone()


def mel_spectrogram(
    x: torch.Tensor,
    sample_rate: int,
    n_fft: int = 512,
    hop_length: int = 239,
    n_mels: int = 257,
    normalized: bool = True,
    power: float = 2.0,
) -> torch.Tensor:
    """torchaudio-equivalent mel power spectrogram.

    Args:
        x: ``[..., N]`` waveform (float32 to match the reference bit for bit; float64 allowed).
        sample_rate: Hz (used by the filter bank only).

    Returns:
        ``[..., n_mels, 1 + N // hop_length]`` mel power, dtype of ``x``.
    """
    shape = x.shape
    flat = x.reshape(-1, shape[-1])
    window = torch.hann_window(n_fft, periodic=True, dtype=x.dtype, device=x.device)
    spec = torch.stft(flat, n_fft=n_fft, hop_length=hop_length, win_length=n_fft, window=window,
                      center=True, pad_mode="reflect", normalized=False, onesided=True,
                      return_complex=True)
    if normalized:
        spec = spec / window.pow(2.0).sum().sqrt()
    if power == 1.0:
        spec = spec.abs()
    else:
        spec = spec.abs().pow(power)
    fb = mel_filterbank(n_fft // 2 + 1, n_mels, sample_rate, dtype=x.dtype).to(device=x.device)
    mel = torch.matmul(spec.transpose(-1, -2), fb).transpose(-1, -2)
    return mel.reshape(shape[:-1] + mel.shape[-2:])


def amplitude_to_db(x: torch.Tensor, amin: float = 1e-10, multiplier: float = 10.0) -> torch.Tensor:
    """``AmplitudeToDB()`` of a power spectrogram: ``multiplier·log10(clamp(x, min=amin))`` (ref 1)."""
    return multiplier * torch.log10(torch.clamp(x, min=amin))
