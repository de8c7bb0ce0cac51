"""Kaldi-style log mel filter bank (``compute-fbank-feats``) in plain torch, without torchaudio.

This is the front-end of BEATs (ACL-SSL's audio tower): torchaudio's
``compliance.kaldi.fbank`` with ``num_mel_bins``, ``frame_length`` 25 ms and ``frame_shift`` 10 ms
set and every other argument at its default (docs/models.md §17.4):

* frames of 400 samples every 160 (16 kHz), ``snip_edges``: ``1 + (N - 400) // 160`` frames;
* no dither; per-frame DC removal; pre-emphasis 0.97 with the first sample replicated;
* the "povey" window (a symmetric Hann window raised to 0.85); zero-padding to 512;
* power spectrum, Kaldi's triangular mel banks (mel = 1127 ln(1 + f/700), 20 Hz to Nyquist,
  triangles in the mel domain, the Nyquist bin never weighted);
* ``log(max(energy, eps))`` with eps the float32 machine epsilon.

Arithmetic follows torchaudio's order in the waveform's dtype (float32 for BEATs), so float32
inputs give the library's numbers up to FFT rounding.
"""

from __future__ import annotations

import functools
import math

import torch

#: the log floor of torchaudio's kaldi fbank: float32 machine epsilon
LOG_FLOOR = torch.finfo(torch.float32).eps


def kaldi_mel(freq: torch.Tensor) -> torch.Tensor:
    """Kaldi's mel scale of a frequency in Hz: ``1127 ln(1 + f / 700)``."""
    return 1127.0 * (1.0 + freq / 700.0).log()


@functools.lru_cache(maxsize=8)
def _mel_banks_cpu(num_bins: int, n_fft: int, sample_rate: float, low_freq: float,
                   high_freq: float) -> torch.Tensor:
    num_fft_bins = n_fft // 2
    nyquist = 0.5 * sample_rate
    if high_freq <= 0.0:
        high_freq += nyquist
    fft_bin_width = sample_rate / n_fft
    mel_low = 1127.0 * math.log(1.0 + low_freq / 700.0)
    mel_high = 1127.0 * math.log(1.0 + high_freq / 700.0)
    delta = (mel_high - mel_low) / (num_bins + 1)
    b = torch.arange(num_bins).unsqueeze(1)
    left = mel_low + b * delta  # float32, as torchaudio builds them
    center = mel_low + (b + 1.0) * delta
    right = mel_low + (b + 2.0) * delta
    mel = kaldi_mel(fft_bin_width * torch.arange(num_fft_bins)).unsqueeze(0)
    up = (mel - left) / (center - left)
    down = (right - mel) / (right - center)
    banks = torch.max(torch.zeros(1), torch.min(up, down))  # [num_bins, num_fft_bins]
    return torch.nn.functional.pad(banks, (0, 1))  # the Nyquist bin has weight 0


def mel_banks(num_bins: int, n_fft: int = 512, sample_rate: float = 16000.0, low_freq: float = 20.0,
              high_freq: float = 0.0) -> torch.Tensor:
    """Kaldi triangular mel banks ``[num_bins, n_fft // 2 + 1]`` (float32); ``high_freq <= 0`` is
    counted from the Nyquist frequency, as in Kaldi."""
    return _mel_banks_cpu(int(num_bins), int(n_fft), float(sample_rate), float(low_freq), float(high_freq)).clone()


def povey_window(size: int, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """Kaldi's "povey" window: the symmetric Hann window raised to the power 0.85."""
    return torch.hann_window(size, periodic=False, dtype=dtype).pow(0.85)


def frame_signal(wave: torch.Tensor, size: int, shift: int) -> torch.Tensor:
    """``[..., N]`` -> ``[..., 1 + (N - size) // shift, size]`` frames (Kaldi ``snip_edges``)."""
    n = wave.shape[-1]
    if n < size:
        return wave.new_zeros(wave.shape[:-1] + (0, size))
    return wave.unfold(-1, size, shift)


def kaldi_fbank(wave: torch.Tensor, sample_rate: int = 16000, num_mel_bins: int = 23,
                frame_length_ms: float = 25.0, frame_shift_ms: float = 10.0,
                preemphasis: float = 0.97, low_freq: float = 20.0, high_freq: float = 0.0) -> torch.Tensor:
    """Log mel filter-bank energies of ``wave`` as torchaudio's ``kaldi.fbank`` computes them.

    Args:
        wave: ``[N]`` or ``[B, N]`` waveform in the caller's units (BEATs multiplies by 2**15 first).
        sample_rate: Hz.

    Returns:
        ``[frames, num_mel_bins]`` or ``[B, frames, num_mel_bins]``, dtype of ``wave``; frames =
        ``1 + (N - size) // shift`` with size/shift the frame length/shift in samples.
    """
    size = int(sample_rate * frame_length_ms * 0.001)
    shift = int(sample_rate * frame_shift_ms * 0.001)
    n_fft = 1 << (size - 1).bit_length()  # round_to_power_of_two
    frames = frame_signal(wave, size, shift)
    frames = frames - frames.mean(dim=-1, keepdim=True)  # remove_dc_offset
    if preemphasis != 0.0:
        previous = torch.cat([frames[..., :1], frames[..., :-1]], dim=-1)  # first sample replicated
        frames = frames - preemphasis * previous
    frames = frames * povey_window(size, frames.dtype).to(frames.device)
    frames = torch.nn.functional.pad(frames, (0, n_fft - size))
    power = torch.fft.rfft(frames).abs().pow(2.0)
    banks = mel_banks(num_mel_bins, n_fft, sample_rate, low_freq, high_freq).to(power.device, power.dtype)
    energies = torch.matmul(power, banks.T)
    return torch.clamp_min(energies, LOG_FLOOR).log()
