"""In-memory encoders for the media files vssleval writes (synthetic benchmark, ``prepare``).

Both return bytes, so callers write them with :func:`vssleval.io_utils.write_bytes_atomic` and no
reader ever sees a half-written file.
"""

from __future__ import annotations

import io

import numpy as np
import soundfile as sf
from PIL import Image


def jpeg_bytes(rgb: np.ndarray, quality: int) -> bytes:
    """A JPEG of ``rgb`` (uint8 ``[H, W, 3]``) at Pillow ``quality`` (4:2:0 chroma, Pillow's default)."""
    buf = io.BytesIO()
    Image.fromarray(np.ascontiguousarray(rgb)).save(buf, format="JPEG", quality=int(quality))
    return buf.getvalue()


def pcm16_wav_bytes(x: np.ndarray, sr: int, scale: float) -> bytes:
    """A mono 16-bit PCM wav of the float waveform ``x`` (``[N]``, amplitudes in [-1, 1]).

    Rounding is done here, not by libsndfile (which may dither): ``round(clip(x, -1, 1) * scale)``
    clipped to the int16 range. ``scale`` 32768 inverts the ``int16 / 32768`` reading of soundfile
    and FFmpeg, so a decoded PCM16 signal is written back unchanged; the synthetic benchmark uses
    32767 (its files predate this module and must stay byte-identical).
    """
    pcm = np.clip(np.round(np.clip(np.asarray(x, dtype=np.float64), -1.0, 1.0) * scale), -32768, 32767)
    buf = io.BytesIO()
    sf.write(buf, pcm.astype(np.int16), int(sr), subtype="PCM_16", format="WAV")
    return buf.getvalue()
