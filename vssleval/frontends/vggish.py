"""VGGish log-mel examples (torchvggish ``waveform_to_examples``) in torch, batched, GPU-capable.

Definition (16 kHz input): frames of 400 samples (25 ms) every 160 samples (10 ms), no padding;
periodic Hann window ``0.5 - 0.5·cos(2πn/400)``; magnitude ``|rfft(·, 512)|`` (not power); a
64-band triangular HTK mel matrix (``1127·ln(1 + f/700)``) between 125 and 7500 Hz, unnormalised,
with the DC row zeroed; ``log(mel + 0.01)``; then non-overlapping examples of 96 frames (0.96 s),
an incomplete tail dropped. A 3-s clip gives 298 frames, i.e. ``[3, 96, 64]``.
Facts: docs/models.md §3.6.
"""

from __future__ import annotations

import functools

import numpy as np
import torch

SAMPLE_RATE = 16000
WINDOW_S = 0.025
HOP_S = 0.010
NUM_MEL = 64
MEL_LO_HZ = 125.0
MEL_HI_HZ = 7500.0
LOG_OFFSET = 0.01
EXAMPLE_S = 0.96


def _hz_to_mel(f):
    return 1127.0 * np.log(1.0 + f / 700.0)


@functools.lru_cache(maxsize=4)
def vggish_mel_matrix(num_spectrogram_bins: int = 257, sample_rate: int = SAMPLE_RATE,
                      num_mel: int = NUM_MEL, lo_hz: float = MEL_LO_HZ,
                      hi_hz: float = MEL_HI_HZ) -> np.ndarray:
    """``[num_spectrogram_bins, num_mel]`` float64 VGGish mel weight matrix (DC row zero)."""
    nyquist = sample_rate / 2.0
    bins_mel = _hz_to_mel(np.linspace(0.0, nyquist, num_spectrogram_bins))
    edges = np.linspace(_hz_to_mel(lo_hz), _hz_to_mel(hi_hz), num_mel + 2)
    lower, center, upper = edges[:-2], edges[1:-1], edges[2:]
    rising = (bins_mel[:, None] - lower) / (center - lower)
    falling = (upper - bins_mel[:, None]) / (upper - center)
    weights = np.maximum(0.0, np.minimum(rising, falling))
    weights[0, :] = 0.0
    return weights


def vggish_examples(x: torch.Tensor) -> torch.Tensor:
    """Log-mel examples of a 16 kHz waveform.

    Args:
        x: ``[..., N]`` waveform at 16 kHz (float32 waveforms are promoted to float64 as in the
            numpy reference, where the float64 window promotes the frames).

    Returns:
        ``[..., E, 96, 64]`` float64 log-mel examples, ``E = (F - 96) // 96 + 1`` with
        ``F = 1 + (N - 400) // 160`` frames.
    """
    win_len = int(round(SAMPLE_RATE * WINDOW_S))
    hop = int(round(SAMPLE_RATE * HOP_S))
    n_fft = 2 ** int(np.ceil(np.log(win_len) / np.log(2.0)))
    ex_len = int(round(EXAMPLE_S / HOP_S))
    if x.shape[-1] < win_len:
        raise ValueError(f"waveform of {x.shape[-1]} samples is shorter than one VGGish frame ({win_len})")
    xd = x.to(torch.float64)
    n = torch.arange(win_len, dtype=torch.float64, device=x.device)
    window = 0.5 - 0.5 * torch.cos(2.0 * np.pi / win_len * n)
    frames = xd.unfold(-1, win_len, hop)  # [..., F, 400]
    mag = torch.fft.rfft(frames * window, n=n_fft, dim=-1).abs()
    fb = torch.as_tensor(vggish_mel_matrix(n_fft // 2 + 1), dtype=torch.float64, device=x.device)
    logmel = torch.log(torch.matmul(mag, fb) + LOG_OFFSET)  # [..., F, 64]
    if logmel.shape[-2] < ex_len:
        raise ValueError(f"{logmel.shape[-2]} frames are fewer than one VGGish example ({ex_len})")
    return logmel.unfold(-2, ex_len, ex_len).transpose(-1, -2)
