"""Preset-driven preprocessing: raw wav/jpg -> the exact float32 model inputs.

Built from the ``audio:`` and ``image:`` blocks of a preset in ``configs/models/<name>.yaml``. Every
constant and every quirk is a named key of those blocks (schema below); the code has no per-model
branches. Objects are small, picklable and stateless, so DataLoader workers can hold them.

Audio chain (each step optional, in this fixed order)::

    read -> clip_on_read -> tile | pad -> center_roll -> center_window -> crop -> clip_after_crop
         -> waveform_norm -> front-end (spectrogram | mel | vggish) -> log/dB -> frame crop -> divide

Silence (zeros) and noise waveforms enter after the step named by ``negatives_enter_after`` (``tile``,
``center_window`` or ``crop``: where the reference generated them), with the length the positive has
there. Per-variant overrides (``variants: {silence|noise|offscreen: {...}}``) are deep-merged over
the base block, e.g. ``{frontend: {log: false}}`` for vssl_eval's non-logged EZ-family negatives.
Every key is explained in docs/models.md §3 (audio) and §4 (images).
"""

from __future__ import annotations

import copy
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Mapping

import numpy as np
import torch

from vssleval.data import audio as aio
from vssleval.errors import VsslevalError
from vssleval.frontends import image as imt
from vssleval.frontends.fbank import kaldi_fbank
from vssleval.frontends.mel import amplitude_to_db, mel_spectrogram
from vssleval.frontends.spectrogram import num_frames, scipy_spectrogram
from vssleval.frontends.threads import one_thread
from vssleval.frontends.vggish import vggish_examples
from vssleval.vocabulary import AUDIO_VARIANTS

VARIANTS = AUDIO_VARIANTS

_AUDIO_KEYS = {
    "read", "clip_on_read", "tile_s", "tile_truncate", "tile_repeat_from_positive", "center_roll",
    "center_window_s", "crop_s", "crop_rate", "clip_after_crop", "waveform_norm", "frontend", "pad_s",
    "negatives_enter_after", "noise_draws", "variants",
}
_READ_KEYS = {"scale", "channels", "dtype", "sample_rate", "model_rate", "start", "duration_s"}
_FRONTEND_KEYS = {
    "type", "nperseg", "noverlap", "window_alpha", "log", "log_offset", "n_fft", "hop_length",
    "n_mels", "normalized", "power", "db", "divide", "center_crop_frames", "add_channel_dim",
    "input_scale", "num_mel_bins", "mean", "std",
}
_NEG_STAGES = ("tile", "center_window", "crop")
# keys that do not change the tensor computed from a given waveform (used by shares_preprocessing)
_NON_NUMERIC = {"noise_draws", "variants"}


def _merge(base: Mapping, over: Mapping) -> dict:
    out = copy.deepcopy(dict(base))
    for k, v in over.items():
        out[k] = _merge(out[k], v) if isinstance(v, Mapping) and isinstance(out.get(k), Mapping) else copy.deepcopy(v)
    return out


def _check_keys(block: Mapping, allowed: set[str], where: str) -> None:
    if not isinstance(block, Mapping):  # e.g. `read: 5` in a YAML or a preset dict
        raise VsslevalError(f"preset {where} must be a mapping of {sorted(allowed)}, got {type(block).__name__} "
                            f"{block!r:.60}")
    unknown = set(block) - allowed
    if unknown:
        raise VsslevalError(f"unknown key(s) {sorted(unknown)} in preset {where}; allowed: {sorted(allowed)}")


@dataclass(frozen=True)
class PositiveInfo:
    """What the offscreen quirks need to know about the positive clip of the same sample.

    Attributes:
        length: samples of the positive after tiling (``sr * tile_s`` unless tiling is off);
            vssl_eval's EZ family tiles the offscreen clip ``int(sr*tile_s / length) + 1`` times,
            i.e. always twice, which leaves offscreen clips under half the window short.
        sr: the positive's sample rate (Hz) after reading.
    """

    length: int
    sr: int


class AudioPipeline:
    """The audio block of one preset.

    ``AudioPipeline(cfg).positive(path)`` etc. return float32 tensors ready for the model:
    ``[1, F, T]`` spectrograms (``F`` = 257 for all spectrogram/mel presets) or ``[E, 1, 96, 64]``
    VGGish examples. All intermediate arithmetic runs in the dtype the reference used (float64 for
    the scipy paths and VGGish, float32 for torchaudio's mel path); the cast to float32 is last.
    """

    def __init__(self, cfg: Mapping[str, Any]):
        cfg = dict(cfg or {})
        if not cfg:
            raise VsslevalError("preset has an empty audio block")
        _check_keys(cfg, _AUDIO_KEYS, "audio")
        _check_keys(cfg.get("read", {}), _READ_KEYS, "audio.read")
        _check_keys(cfg.get("frontend", {}), _FRONTEND_KEYS, "audio.frontend")
        variants = cfg.get("variants", {}) or {}
        _check_keys(variants, set(VARIANTS) - {"positive"}, "audio.variants")
        self.base = cfg
        self._cfg = {v: _merge(cfg, variants.get(v, {}) or {}) for v in VARIANTS}
        for v, c in self._cfg.items():
            _check_keys(c, _AUDIO_KEYS, f"audio.variants.{v}")
            _check_keys(c.get("frontend", {}), _FRONTEND_KEYS, f"audio.variants.{v}.frontend")
        stage = cfg.get("negatives_enter_after", "tile")
        if stage not in _NEG_STAGES:
            raise VsslevalError(f"audio.negatives_enter_after must be one of {_NEG_STAGES}, got {stage!r}")

    # ---- introspection ------------------------------------------------------------------------
    def config(self, variant: str = "positive") -> dict:
        """The effective (merged) config of a variant."""
        if variant not in self._cfg:
            raise VsslevalError(f"unknown audio variant {variant!r}; expected one of {VARIANTS}")
        return copy.deepcopy(self._cfg[variant])

    def cache_key(self, variant: str = "positive") -> str:
        """Canonical JSON of everything that shapes the tensor of ``variant`` (for feature caches)."""
        c = {k: v for k, v in self.config(variant).items() if k not in _NON_NUMERIC}
        return json.dumps(c, sort_keys=True)

    def shares_preprocessing(self, a: str, b: str = "positive") -> bool:
        """True when variants ``a`` and ``b`` turn the same file into the same tensor.

        The engine may then reuse, for an offscreen clip, the features it computed for that file as a
        positive (plvs/pssltie in vssl_eval; every native preset) instead of recomputing them.
        """
        return self.cache_key(a) == self.cache_key(b)

    @property
    def noise_draws(self) -> int:
        """How many N(0,1) waveforms of :meth:`noise_length` the reference drew per sample; the last
        one is used (vssl_eval's FNAC path draws twice and keeps the second)."""
        return int(self._cfg["noise"].get("noise_draws", 1))

    def noise_length(self, sr: int = 16000) -> int:
        """Samples of the silence/noise waveform for a positive at ``sr`` Hz."""
        c = self._cfg["noise"]
        stage = c.get("negatives_enter_after", "tile")
        if stage == "crop" and c.get("crop_s"):
            rate = c.get("crop_rate") or sr
            a, b = c["crop_s"]
            return int(rate * b) - int(rate * a)
        if stage == "center_window" and c.get("center_window_s"):
            return int(round(c["center_window_s"] * sr))
        if c.get("tile_s") is None and c.get("pad_s") is None:
            raise VsslevalError("audio preset needs tile_s or pad_s (or a crop/center window) to size negatives")
        return int(sr * (c["tile_s"] if c.get("tile_s") is not None else c["pad_s"]))

    def noise_prefix(self, sr: int = 16000) -> int:
        """How many leading samples of a noise waveform (:meth:`noise_length`) its model input reads.

        Fewer than :meth:`noise_length` when the waveform goes straight into a ``spectrogram``
        front-end that keeps a centre crop of frames (``center_crop_frames``) -- no centre window,
        crop or waveform normalisation after the negatives enter, any of which could read every
        sample: the samples after the last kept frame are never read. A caller may draw only this
        prefix and zero-fill the rest; the input is the same (tests/frontends).
        """
        n = self.noise_length(sr)
        f = self._cfg["noise"].get("frontend") or {}
        if not self._noise_straight_to_spectrogram() or not f.get("center_crop_frames"):
            return n
        nperseg = f.get("nperseg", 512)
        noverlap = f.get("noverlap") if f.get("noverlap") is not None else nperseg // 8
        return frames_window(n, nperseg, noverlap, int(f["center_crop_frames"]))[1]

    def output_sr(self, file_sr: int) -> int:
        """Rate the front-end sees for a file at ``file_sr`` Hz (the preset's rate, or native)."""
        return int(self.base.get("read", {}).get("sample_rate") or file_sr)

    # ---- variants -----------------------------------------------------------------------------
    def positive(self, path: str | Path) -> torch.Tensor:
        """Model input for the positive audio file ``path``."""
        return self.positive_with_info(path)[0]

    def positive_with_info(self, path: str | Path) -> tuple[torch.Tensor, PositiveInfo]:
        """:meth:`positive` plus the :class:`PositiveInfo` the offscreen quirks need."""
        wave, sr, info = self.waveform(path, "positive")
        return self.features(torch.from_numpy(wave), sr, "positive"), info

    def offscreen(self, path: str | Path, positive_info: PositiveInfo | None = None) -> torch.Tensor:
        """Model input for an offscreen clip ``path`` shown with a positive described by ``positive_info``."""
        wave, sr, _ = self.waveform(path, "offscreen", positive_info)
        return self.features(torch.from_numpy(wave), sr, "offscreen")

    def silence(self, sr: int = 16000) -> torch.Tensor:
        """Model input for digital silence of the positive's length at ``sr`` Hz."""
        dtype = np.float32 if self._cfg["silence"].get("read", {}).get("dtype") == "float32" else np.float64
        zeros = np.zeros(self.noise_length(sr), dtype=dtype)
        return self.features(torch.from_numpy(self._after_negatives_enter(zeros, sr, "silence")), sr, "silence")

    def noise(self, waveform: np.ndarray, sr: int = 16000) -> torch.Tensor:
        """Model input for a noise waveform ``[noise_length(sr)]`` (N(0,1) from the sampler; not clipped
        unless the preset says so). Cast to the preset's read dtype first (SSL-TIE: float32).

        ``[k, noise_length(sr)]`` waveforms give the ``k`` inputs stacked, the same tensor as
        ``torch.stack([noise(w) for w in waveform])``: the spectrogram front-end runs on all rows at
        once when no waveform step follows the negatives' entry (one batched FFT instead of ``k``
        calls, and no stacking copy), every other preset row by row.
        """
        n = self.noise_length(sr)
        w = np.asarray(waveform)
        if w.ndim == 2 and w.shape[1] == n:
            if not self._noise_rows_batch():
                return torch.stack([self.noise(row, sr) for row in w])
        elif w.ndim != 1 or len(w) != n:
            raise VsslevalError(f"noise waveform must have shape [{n}] (or [k, {n}]) for this preset at {sr} Hz, "
                                f"got {list(w.shape)}")
        dtype = np.float32 if self._cfg["noise"].get("read", {}).get("dtype") == "float32" else np.float64
        # no copy when already in that dtype: nothing after this point writes into the waveform
        w = self._after_negatives_enter(w.astype(dtype, copy=False), sr, "noise")
        return self.features(torch.from_numpy(w), sr, "noise")

    def _noise_rows_batch(self) -> bool:
        """Whether :meth:`noise` may run ``[k, n]`` noise waveforms through the front-end at once: a
        ``spectrogram`` front-end (batched rows equal single ones bit for bit, tests/frontends) and no
        waveform step after the negatives enter (those work on one clip)."""
        return self._noise_straight_to_spectrogram() and not self._cfg["noise"].get("clip_after_crop")

    def _noise_straight_to_spectrogram(self) -> bool:
        """Whether a noise waveform goes straight into a ``spectrogram`` front-end: no centre window,
        crop or waveform normalisation after the negatives enter (:meth:`noise_prefix`,
        :meth:`_noise_rows_batch`)."""
        c = self._cfg["noise"]
        stage = c.get("negatives_enter_after", "tile")
        later = {"tile": ("center_window_s", "crop_s"), "center_window": ("crop_s",), "crop": ()}[stage]
        return ((c.get("frontend") or {}).get("type") == "spectrogram" and not any(c.get(k) for k in later)
                and c.get("waveform_norm") in (None, "none"))

    # ---- the two halves: waveform (numpy, workers) and features (torch, any device) -----------
    def waveform(self, path: str | Path, variant: str = "positive",
                 positive_info: PositiveInfo | None = None) -> tuple[np.ndarray, int, PositiveInfo]:
        """Read and prepare the waveform of a file for ``variant`` (``positive`` or ``offscreen``).

        Returns:
            ``(wave [N], sr, info)``: the waveform that enters the front-end, its rate in Hz, and
            this clip's own :class:`PositiveInfo`.
        """
        c = self._cfg[variant]
        if c.get("tile_repeat_from_positive") and positive_info is None:
            raise VsslevalError("this preset tiles offscreen clips with the positive's length: pass positive_info")
        r = c.get("read", {})
        clip = aio.read_audio(
            path, scale=r.get("scale", "soundfile"), channels=r.get("channels", "mean"),
            dtype=r.get("dtype", "float64"), sample_rate=r.get("sample_rate"),
            start=r.get("start", 0.0), duration=r.get("duration_s"),
        )
        x, sr = clip.samples, clip.sr
        info = PositiveInfo(length=len(x), sr=sr)
        if c.get("clip_on_read"):
            x = aio.clip(x)
        if c.get("tile_s") is not None:
            ref = None
            if c.get("tile_repeat_from_positive"):
                ref = positive_info.length
            x = aio.tile(x, int(sr * c["tile_s"]), ref_length=ref, truncate=c.get("tile_truncate", True))
            info = PositiveInfo(length=len(x), sr=sr)
        elif c.get("pad_s") is not None:  # ACL-SSL: the first pad_s seconds, zeros appended when shorter
            x = pad_end(x, int(sr * c["pad_s"]))
            info = PositiveInfo(length=len(x), sr=sr)
        if c.get("center_roll"):
            x = aio.center_roll(x, sr, c["tile_s"], clip.duration)
        x = self._from_center_window(x, sr, c)
        return x, sr, info

    def _from_center_window(self, x: np.ndarray, sr: int, c: Mapping) -> np.ndarray:
        if c.get("center_window_s"):
            x = aio.center_window(x, int(round(c["center_window_s"] * sr)))
        return self._from_crop(x, sr, c)

    def _from_crop(self, x: np.ndarray, sr: int, c: Mapping) -> np.ndarray:
        if c.get("crop_s"):
            a, b = c["crop_s"]
            x = aio.crop(x, a, b, c.get("crop_rate") or sr)
        return self._after_crop(x, c)

    @staticmethod
    def _after_crop(x: np.ndarray, c: Mapping) -> np.ndarray:
        if c.get("clip_after_crop"):
            x = aio.clip(x)
        if c.get("waveform_norm") == "minmax":
            x = aio.minmax_normalize(x)
        elif c.get("waveform_norm") not in (None, "none"):
            raise VsslevalError(f"unknown audio.waveform_norm {c.get('waveform_norm')!r}")
        return x

    def _after_negatives_enter(self, x: np.ndarray, sr: int, variant: str) -> np.ndarray:
        c = self._cfg[variant]
        stage = c.get("negatives_enter_after", "tile")
        if stage == "tile":
            return self._from_center_window(x, sr, c)
        if stage == "center_window":
            return self._from_crop(x, sr, c)
        return self._after_crop(x, c)

    @one_thread  # small tensors: intra-op threads cost more than they save (frontends/threads.py)
    def features(self, wave: torch.Tensor, sr: int, variant: str = "positive") -> torch.Tensor:
        """Front-end of ``variant`` on prepared waveforms.

        Args:
            wave: ``[N]`` or ``[B, N]`` waveform (float64 or float32, as prepared); any device.
            sr: sample rate in Hz.

        Returns:
            float32 ``[(B,) 1, F, T]`` or ``[(B,) E, 1, 96, 64]`` model input.
        """
        f = self._cfg[variant].get("frontend", {})
        kind = f.get("type")
        if kind == "spectrogram":
            nperseg = f.get("nperseg", 512)
            noverlap = f.get("noverlap") if f.get("noverlap") is not None else nperseg // 8
            if f.get("center_crop_frames"):
                # frames are independent, so computing only those the crop keeps is exact (3x less work
                # for vssl_eval's EZ family: 200 of 671 frames)
                wave = _frames_window(wave, nperseg, noverlap, int(f["center_crop_frames"]))
            s = scipy_spectrogram(wave, fs=sr, nperseg=nperseg, noverlap=noverlap,
                                  window_alpha=f.get("window_alpha", 0.25))
            if f.get("log", False):
                s = torch.log(s + f.get("log_offset", 1e-7))
            s = s.unsqueeze(-3)
        elif kind == "mel":
            s = mel_spectrogram(wave, sample_rate=sr, n_fft=f.get("n_fft", 512), hop_length=f.get("hop_length", 239),
                                n_mels=f.get("n_mels", 257), normalized=f.get("normalized", True),
                                power=f.get("power", 2.0))
            if f.get("db", False):
                s = amplitude_to_db(s)
            s = s.unsqueeze(-3)
        elif kind == "vggish":
            s = vggish_examples(wave).unsqueeze(-3)  # [..., E, 1, 96, 64]
        elif kind == "kaldi_fbank":  # BEATs: fbank of the waveform x input_scale, then (x - mean) / std
            s = kaldi_fbank(wave * f.get("input_scale", 1.0), sample_rate=sr,
                            num_mel_bins=int(f.get("num_mel_bins", 128)))
            s = (s - f.get("mean", 0.0)) / f.get("std", 1.0)
        else:
            raise VsslevalError(f"unknown audio.frontend.type {kind!r}; expected spectrogram, mel, vggish or kaldi_fbank")
        if f.get("center_crop_frames"):
            s = center_crop_frames(s, int(f["center_crop_frames"]))
        if f.get("divide"):
            s = s / f["divide"]
        return s.to(torch.float32)


def pad_end(x: np.ndarray, length: int) -> np.ndarray:
    """The first ``length`` samples of ``x``, zero-padded at the end when shorter."""
    if len(x) >= length:
        return x[:length]
    return np.concatenate([x, np.zeros(length - len(x), dtype=x.dtype)])


def _frames_window(wave: torch.Tensor, nperseg: int, noverlap: int, frames: int) -> torch.Tensor:
    """The samples of the ``frames`` spectrogram columns a :func:`center_crop_frames` keeps.

    Column j covers samples ``[j*step, j*step + nperseg)``; the crop keeps columns
    ``off .. off+frames-1`` with ``off = int(round((T - frames) / 2))``. Shorter signals (which
    the crop zero-pads) are returned whole.
    """
    start, end = frames_window(wave.shape[-1], nperseg, noverlap, frames)
    return wave[..., start:end]


def frames_window(n: int, nperseg: int, noverlap: int, frames: int) -> tuple[int, int]:
    """``(start, end)``: the samples of an ``n``-sample signal that the ``frames`` centre
    spectrogram columns read (``(0, n)`` when the signal has no more columns than that)."""
    step = nperseg - noverlap
    t = num_frames(n, nperseg, noverlap)
    if t <= frames:
        return 0, n
    off = int(round((t - frames) / 2.0))
    return off * step, (off + frames - 1) * step + nperseg


def center_crop_frames(s: torch.Tensor, frames: int) -> torch.Tensor:
    """torchvision ``CenterCrop((F, frames))`` on ``[..., F, T]``: offset ``int(round((T - frames)/2))``;
    zero-pads (left ``(frames-T)//2``, right the rest) when ``T < frames``."""
    t = s.shape[-1]
    if t < frames:
        left = (frames - t) // 2
        s = torch.nn.functional.pad(s, (left, frames - t - left))
        return s
    off = int(round((t - frames) / 2.0))
    return s[..., off:off + frames]


# ------------------------------------------------------------------------------------------------
_IMAGE_OPS = {"resize_cv2_cubic", "resize_pil", "resize_pil_shorter", "center_crop_pil", "to_tensor",
              "resize_tensor", "normalize"}


class ImagePipeline:
    """The image block of one preset: an ordered list of ``ops``.

    Ops (each a one-key mapping or a bare name)::

        resize_cv2_cubic: [h, w]     uint8 OpenCV INTER_CUBIC (SACL's h5 frames)
        resize_pil: [h, w]           PIL bicubic (antialiased)
        resize_pil_shorter: s        shorter side -> s, PIL bicubic
        center_crop_pil: s           torchvision CenterCrop on PIL
        to_tensor                    uint8 -> float32 [3, H, W] in [0, 1]
        resize_tensor: {size: [h, w], antialias: false}   torch bicubic, align_corners=False
        normalize: {mean: [...], std: [...]}

    ``ImagePipeline(cfg).load(path)`` returns float32 ``[3, H, W]`` (224 x 224 in every preset).
    """

    def __init__(self, cfg: Mapping[str, Any]):
        cfg = dict(cfg or {})
        _check_keys(cfg, {"ops"}, "image")
        ops = cfg.get("ops")
        if not ops or not isinstance(ops, list):
            raise VsslevalError(f"preset image block needs a non-empty 'ops' list, got {ops!r:.60}")
        self.ops: list[tuple[str, Any]] = []
        for op in ops:
            if not isinstance(op, str) and not (isinstance(op, Mapping) and len(op) == 1):
                raise VsslevalError(f"preset image op {op!r:.60} must be a name or a one-key mapping "
                                    "{name: argument} (docs/models.md §4)")
            name, arg = (op, None) if isinstance(op, str) else next(iter(dict(op).items()))
            if name not in _IMAGE_OPS:
                raise VsslevalError(f"unknown image op {name!r}; allowed: {sorted(_IMAGE_OPS)}")
            self.ops.append((name, arg))
        self._cfg = cfg

    def cache_key(self) -> str:
        """Canonical JSON of the ops: equal keys mean equal tensors for the same file."""
        return json.dumps(self._cfg, sort_keys=True)

    def load(self, path: str | Path) -> torch.Tensor:
        """Read ``path`` and apply the ops; float32 ``[3, H, W]``."""
        from vssleval.data.image import load_rgb

        return self.apply(load_rgb(path))

    @one_thread  # as AudioPipeline.features
    def apply(self, img) -> torch.Tensor:
        """Apply the ops to an RGB PIL image."""
        from PIL import Image

        x = img
        for name, arg in self.ops:
            if name == "resize_cv2_cubic":
                x = Image.fromarray(imt.resize_cv2_cubic(np.asarray(x, dtype=np.uint8), tuple(arg)))
            elif name == "resize_pil":
                x = imt.resize_pil(x, tuple(arg))
            elif name == "resize_pil_shorter":
                x = imt.resize_pil_shorter(x, int(arg))
            elif name == "center_crop_pil":
                x = imt.center_crop_pil(x, int(arg))
            elif name == "to_tensor":
                x = imt.to_tensor(x)
            elif name == "resize_tensor":
                x = imt.resize_tensor_bicubic(x, tuple(arg["size"]), antialias=bool(arg.get("antialias", False)))
            elif name == "normalize":
                arg = arg or {}
                x = imt.normalize(x, arg.get("mean", imt.IMAGENET_MEAN), arg.get("std", imt.IMAGENET_STD))
        if not isinstance(x, torch.Tensor):
            raise VsslevalError("image ops must end with a tensor (add 'to_tensor')")
        return x.to(torch.float32)


def from_preset(preset: Mapping[str, Any]) -> tuple[AudioPipeline, ImagePipeline]:
    """Both pipelines from one preset mapping (``presets.<name>`` of a model YAML)."""
    return AudioPipeline(preset.get("audio", {})), ImagePipeline(preset.get("image", {}))
