"""Audio file I/O and the waveform-level steps of the preprocessing presets.

Every function here works on plain numpy arrays (1-D ``[N]`` waveforms, amplitudes in [-1, 1]) so it
can run inside DataLoader workers without touching torch. The steps reproduce the reference
pipelines' arithmetic literally (integer sample offsets, repeat counts, circular rolls), because the
golden fixtures are bit-exact products of that arithmetic.

Two PCM16 scalings exist in the reference code and both are needed:

* ``"soundfile"``: ``int16 / 32768`` (soundfile, librosa, torchaudio's sox_io backend);
* ``"pyav"``: ``int16 / 32767`` (the PyAV reader ``audio_io.load_audio_av`` of EZ-VSL, SLAVC, FNAC).
"""

from __future__ import annotations

from dataclasses import dataclass
from fractions import Fraction
from math import gcd
from pathlib import Path

import numpy as np

from vssleval.errors import BadSampleError

SCALES = ("soundfile", "pyav")
CHANNEL_RULES = ("mean", "first")


@dataclass(frozen=True)
class AudioClip:
    """A decoded mono waveform.

    Attributes:
        samples: ``[N]`` float64 or float32 waveform (dtype chosen by the preset).
        sr: sample rate in Hz after any resampling.
        file_frames: length of the whole file in frames at its native rate (the reference code's
            "stream duration"; needed by the centring roll, which uses the *file* duration).
        file_sr: the file's native rate in Hz.
        path: where it was read from (for error messages).
    """

    samples: np.ndarray
    sr: int
    file_frames: int
    file_sr: int
    path: str

    @property
    def duration(self) -> Fraction:
        """Exact file duration in seconds (PyAV's ``stream.duration * time_base`` is a Fraction)."""
        return Fraction(self.file_frames, self.file_sr)


def _sample_id(path: Path) -> str:
    return path.stem


def read_audio(
    path: str | Path,
    *,
    scale: str = "soundfile",
    channels: str = "mean",
    dtype: str = "float64",
    sample_rate: int | None = None,
    start: str | float = 0.0,
    duration: float | None = None,
) -> AudioClip:
    """Read a wav file the way a preset says.

    Args:
        path: audio file (anything libsndfile reads).
        scale: ``"soundfile"`` (PCM16 / 32768) or ``"pyav"`` (int16 / 32767; other formats are first
            quantised to int16 as PyAV's ``s16`` resampler does).
        channels: ``"mean"`` (average of channels; for ``pyav`` the int16 down-mix
            ``floor((L+R)/2 + 0.5)`` of libswresample) or ``"first"`` (channel 0 only).
        dtype: ``"float64"`` or ``"float32"`` result (torchaudio's reader gives float32).
        sample_rate: resample to this rate with ``scipy.signal.resample_poly``; ``None`` keeps the
            file's native rate (what every reference pipeline does).
        start: start of the loaded window in seconds, or ``"center:<dur>"`` to start at
            ``max(D/2 - dur/2, 0)`` with D the file duration (PyAV reader of the native EZ family).
        duration: seconds to load (capped at the end of the file); ``None`` loads to the end.

    Returns:
        The mono clip; ``samples`` is ``[N]`` in ``dtype``.

    Raises:
        BadSampleError: unreadable, empty, or zero-length file, or NaN / infinite samples (the
            message names it).
    """
    import soundfile as sf

    path = Path(path)
    if scale not in SCALES:
        raise ValueError(f"unknown audio scale {scale!r}; expected one of {SCALES}")
    if channels not in CHANNEL_RULES:
        raise ValueError(f"unknown channel rule {channels!r}; expected one of {CHANNEL_RULES}")
    try:
        with sf.SoundFile(str(path)) as f:
            file_sr = int(f.samplerate)
            file_frames = int(f.frames)
            if file_frames <= 0:
                raise BadSampleError(_sample_id(path), path, "audio file has zero length",
                                     "re-extract the audio or drop the sample (--skip-bad)", kind="empty_audio")
            first, count = _window(file_frames, file_sr, start, duration)
            if first > 0:
                f.seek(first)
            raw_dtype = "int16" if scale == "pyav" else ("float32" if dtype == "float32" else "float64")
            data = f.read(frames=count, dtype=raw_dtype, always_2d=True)
            nonfinite = 0
            if raw_dtype != "int16":
                nonfinite = int(data.size - np.isfinite(data).sum())
            elif f.subtype in ("FLOAT", "DOUBLE"):  # the int16 conversion would hide NaN / inf
                f.seek(first)
                window = f.read(frames=count, dtype="float64", always_2d=True)
                nonfinite = int(window.size - np.isfinite(window).sum())
    except BadSampleError:
        raise
    except (RuntimeError, OSError, ValueError) as exc:  # soundfile raises LibsndfileError (a RuntimeError)
        raise BadSampleError(_sample_id(path), path, f"cannot read audio: {exc}",
                             "check that the file exists and is a complete wav", kind="unreadable_audio") from exc
    if data.shape[0] == 0:
        raise BadSampleError(_sample_id(path), path, "audio window is empty",
                             "the file is shorter than the requested start time", kind="empty_audio")
    if nonfinite:
        raise BadSampleError(_sample_id(path), path, f"audio holds {nonfinite} NaN or infinite sample(s)",
                             "re-export this clip; non-finite audio cannot be scored", kind="nonfinite_audio")
    x = _to_mono(data, scale, channels)
    x = x.astype(np.float32 if dtype == "float32" else np.float64, copy=False)
    sr = file_sr
    if sample_rate is not None and int(sample_rate) != file_sr:
        x = resample(x, file_sr, int(sample_rate))
        sr = int(sample_rate)
    return AudioClip(samples=x, sr=sr, file_frames=file_frames, file_sr=file_sr, path=str(path))


def rate_census(paths) -> dict[int, int]:
    """``{native sample rate: number of files}`` of audio files, from their headers (unreadable
    headers are left out: the dataset checks report them)."""
    import soundfile as sf

    counts: dict[int, int] = {}
    for p in paths:
        try:
            sr = int(sf.info(str(p)).samplerate)
        except (RuntimeError, OSError, ValueError):
            continue
        counts[sr] = counts.get(sr, 0) + 1
    return dict(sorted(counts.items()))


def _window(file_frames: int, sr: int, start: str | float, duration: float | None) -> tuple[int, int]:
    """First frame and frame count of the loaded window, with PyAV's float arithmetic.

    The PyAV reader computes ``first = int(start * sr)`` and ``count = int(min(dur, D - start) * sr)``
    where D is an exact Fraction and ``start`` a float; we evaluate the same expressions.
    """
    dur_file = Fraction(file_frames, sr)
    if isinstance(start, str):
        if not start.startswith("center:"):
            raise ValueError(f"bad window start {start!r}; expected seconds or 'center:<dur>'")
        half = float(start.split(":", 1)[1]) / 2.0
        start_s = max(dur_file / 2 - half, 0)  # Fraction - float -> float, as in the reference
    else:
        start_s = float(start)
    first = int(start_s * sr)
    if duration is None:
        return first, max(file_frames - first, 0)
    span = min(duration, dur_file - start_s)
    count = int(span * sr)
    return first, max(min(count, file_frames - first), 0)


def _to_mono(data: np.ndarray, scale: str, channels: str) -> np.ndarray:
    """``[N, C]`` raw samples -> ``[N]`` waveform in [-1, 1] with the preset's channel rule."""
    if scale == "pyav":
        ints = data.astype(np.int64)
        if channels == "first" or ints.shape[1] == 1:
            mono = ints[:, 0]
        else:
            # libswresample's s16 down-mix rounds half up: floor(mean + 0.5)
            mono = np.floor(ints.mean(axis=1) + 0.5).astype(np.int64)
        return mono.astype(np.float64) / 32767.0
    if channels == "first" or data.shape[1] == 1:
        return data[:, 0]
    return data.mean(axis=1, dtype=data.dtype)


def resample(x: np.ndarray, sr_in: int, sr_out: int) -> np.ndarray:
    """Polyphase resampling ``[N] -> [ceil(N*sr_out/sr_in)]`` (``scipy.signal.resample_poly``)."""
    from scipy.signal import resample_poly

    g = gcd(sr_in, sr_out)
    return resample_poly(x, sr_out // g, sr_in // g).astype(x.dtype, copy=False)


def tile(x: np.ndarray, length: int, *, ref_length: int | None = None, truncate: bool = True) -> np.ndarray:
    """Repeat a short clip to reach ``length`` samples, as the reference loaders do.

    If ``len(x) < length`` the clip is tiled ``int(length / ref) + 1`` times, where ``ref`` is
    ``len(x)`` or, for vssl_eval's offscreen quirk, the *positive's* length (``ref_length``), which can
    leave the result shorter than ``length``. With ``truncate`` the result is cut to ``length``.
    """
    n = len(x)
    if n == 0:
        raise ValueError("cannot tile an empty waveform")
    if n < length:
        ref = n if ref_length is None else ref_length
        x = np.tile(x, int(length / ref) + 1)
    return x[:length] if truncate else x


def center_roll(x: np.ndarray, sr: int, window_s: float, file_duration: Fraction) -> np.ndarray:
    """Circular roll that moves the file's centre to the centre of a ``window_s`` buffer.

    ``shift = int(sr * window_s / 2) - int(D / 2 * sr)`` with D the file duration (exact Fraction,
    as PyAV's ``stream.duration * time_base``); 0 for a clip of exactly ``window_s`` seconds.
    """
    shift = int(sr * window_s / 2) - int(file_duration / 2 * sr)
    return np.roll(x, shift)


def center_window(x: np.ndarray, length: int) -> np.ndarray:
    """Centre ``length`` samples: ``x[int(N/2) - length//2 : ... + length]`` (SACL's extraction)."""
    start = int(len(x) / 2) - length // 2
    if start < 0:
        raise ValueError(f"waveform of {len(x)} samples is shorter than the window of {length}")
    return x[start:start + length]


def crop(x: np.ndarray, start_s: float, end_s: float, rate: int) -> np.ndarray:
    """``x[int(rate*start_s) : int(rate*end_s)]``; ``rate`` may be a hard-coded 16000 (vssl_eval LVS)."""
    return x[int(rate * start_s):int(rate * end_s)]


def clip(x: np.ndarray, lo: float = -1.0, hi: float = 1.0) -> np.ndarray:
    """Clip amplitudes to ``[lo, hi]`` (keeps dtype)."""
    return np.clip(x, lo, hi)


def minmax_normalize(x: np.ndarray, eps: float = 1e-3) -> np.ndarray:
    """SACL's ``normalize_audio``: ``x -= min; x /= (max + eps); x -= 0.5; x *= 2`` in place order.

    The arithmetic stays in the waveform's dtype (float32 for librosa-read audio), step by step.
    """
    x = x - x.min()
    x = x / (x.max() + x.dtype.type(eps))
    x = x - x.dtype.type(0.5)
    return x * x.dtype.type(2)
