"""Audio I/O and waveform steps: scaling, channel rules, resampling, tiling, rolls, bad files."""

import numpy as np
import pytest
import soundfile as sf
from fractions import Fraction

from vssleval.data import audio as aio
from vssleval.data.image import load_rgb
from vssleval.errors import BadSampleError


def write(path, data, sr=16000):
    sf.write(str(path), data, sr, subtype="PCM_16")
    return path


def test_scalings(tmp_path):
    ints = np.array([0, 1, -1, 32767, -32768, 1000], dtype=np.int16)
    p = write(tmp_path / "a.wav", ints)
    sfx = aio.read_audio(p, scale="soundfile").samples
    av = aio.read_audio(p, scale="pyav").samples
    assert np.array_equal(sfx, ints / 32768.0)
    assert np.array_equal(av, ints / 32767.0)  # PyAV path: int16 / 32767, so -32768 exceeds -1
    assert av.min() < -1.0 and aio.clip(av).min() == -1.0
    assert aio.read_audio(p, dtype="float32").samples.dtype == np.float32


def test_stereo_channel_rules(tmp_path):
    left = np.array([100, 3, -3, 7], dtype=np.int16)
    right = np.array([200, 4, -4, 0], dtype=np.int16)
    p = write(tmp_path / "s.wav", np.stack([left, right], 1))
    first = aio.read_audio(p, channels="first").samples
    mean = aio.read_audio(p, channels="mean").samples
    av = aio.read_audio(p, scale="pyav", channels="mean").samples
    assert np.array_equal(first, left / 32768.0)
    assert np.allclose(mean, (left + right.astype(float)) / 2 / 32768.0)
    # libswresample down-mix rounds half up in int16: floor((L+R)/2 + 0.5)
    assert np.array_equal(av * 32767.0, np.array([150, 4, -3, 4], dtype=float))


def test_resampling_other_rates(tmp_path):
    x = (np.sin(np.arange(22050) / 10.0) * 8000).astype(np.int16)
    p = write(tmp_path / "r.wav", x, sr=22050)
    native = aio.read_audio(p)
    assert native.sr == 22050 and len(native.samples) == 22050
    res = aio.read_audio(p, sample_rate=16000)
    assert res.sr == 16000 and len(res.samples) == 16000 and res.file_sr == 22050


def test_zero_length_and_unreadable_name_the_file(tmp_path):
    p = write(tmp_path / "empty_clip.wav", np.zeros(0, dtype=np.int16))
    with pytest.raises(BadSampleError, match="empty_clip"):
        aio.read_audio(p)
    bad = tmp_path / "broken.wav"
    bad.write_bytes(b"RIFF\x00\x00")
    with pytest.raises(BadSampleError, match="broken.wav"):
        aio.read_audio(bad)
    with pytest.raises(BadSampleError, match="missing.jpg"):
        load_rgb(tmp_path / "missing.jpg")


def test_tiling_and_offscreen_repeat_quirk():
    x = np.arange(3.0)
    assert np.array_equal(aio.tile(x, 7), [0, 1, 2, 0, 1, 2, 0])
    assert np.array_equal(aio.tile(np.arange(10.0), 4), np.arange(4.0))  # long clips: first samples
    # vssl_eval offscreen: repeat count from the positive's length (10) -> 2 repeats -> stays short
    assert len(aio.tile(x, 10, ref_length=10)) == 6
    assert len(aio.tile(x, 10, truncate=False)) == 12


def test_window_center_roll_and_crop(tmp_path):
    p = write(tmp_path / "w.wav", (np.arange(100000) % 30000).astype(np.int16))  # 6.25 s
    c = aio.read_audio(p, scale="pyav", start="center:3", duration=3.0)
    assert len(c.samples) == 48000 and c.samples[0] * 32767 == (int((6.25 / 2 - 1.5) * 16000) % 30000)
    assert c.duration == Fraction(100000, 16000)
    x = np.arange(160000.0)
    rolled = aio.center_roll(x, 16000, 10.0, Fraction(100000, 16000))
    assert rolled[80000] == 50000  # the file centre lands at 5 s
    assert len(aio.crop(x, 3.5, 6.5, 16000)) == 48000
    assert np.array_equal(aio.center_window(np.arange(100.0), 10), np.arange(45.0, 55.0))
    y = aio.minmax_normalize(np.array([1.0, 3.0], dtype=np.float32))
    assert y.dtype == np.float32 and y[0] == -1.0
