"""vssleval.frontends: raw files -> exact model input tensors, driven by preset YAML.

Entry points (``vssleval.frontends.pipeline``)::

    audio, image = from_preset(model_yaml["presets"]["juanola2025"])   # or AudioPipeline(cfg["audio"])

    image.load(path) -> Tensor float32 [3, 224, 224]
    image.cache_key() -> str                    # equal keys => equal tensors (share across models)

    audio.positive(path) -> Tensor float32       # [1, F, T] spectrogram / mel, or [E, 1, 96, 64] VGGish
    audio.positive_with_info(path) -> (Tensor, PositiveInfo)
    audio.offscreen(path, positive_info) -> Tensor   # positive_info needed by vssl_eval's EZ-family quirk
    audio.silence(sr=16000) -> Tensor
    audio.noise(waveform[noise_length(sr)], sr=16000) -> Tensor
    audio.noise_length(sr) -> int;  audio.noise_draws -> int   # FNAC/vssl_eval keeps its 2nd draw
    audio.shares_preprocessing("offscreen", "positive") -> bool  # reuse the positive features of a file
    audio.cache_key(variant) -> str

    # split form for a batched engine: numpy waveform in DataLoader workers, front-end on any device
    audio.waveform(path, variant, positive_info=None) -> (np.ndarray [N], sr, PositiveInfo)
    audio.features(Tensor [B, N] or [N], sr, variant) -> Tensor float32

Objects hold only plain config dicts, so they pickle into DataLoader workers. Variants are
``positive``, ``silence``, ``noise``, ``offscreen``; per-variant quirks are YAML overrides
(``presets.<p>.audio.variants``). The numerical building blocks, each verified against its
reference definition in ``tests/frontends``:

* ``spectrogram.scipy_spectrogram``: ``scipy.signal.spectrogram`` PSD defaults, batched, float64;
* ``mel.mel_spectrogram`` / ``mel.amplitude_to_db``: torchaudio ``MelSpectrogram`` / ``AmplitudeToDB``;
* ``vggish.vggish_examples``: torchvggish ``waveform_to_examples``;
* ``image``: ToTensor, tensor bicubic resize (antialias off), PIL resizes/crops, OpenCV cubic (IPP model).

The facts behind every step are in docs/models.md §3 and §4.
"""
