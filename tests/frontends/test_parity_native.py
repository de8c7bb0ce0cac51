"""native presets: raw fixture files -> the inputs of each model's own repository test pipeline.

Full set: the 8 stored input arrays per model. Bundle: its VGG-SS samples against the per-row sha256
(``golden_inputs.native_inputs`` keeps only rows that match bit for bit and allows SACL one miss),
deselected when the full set is present (``shared.bundle_only``).
"""

import numpy as np
import pytest
from frontend_helpers import preset, rel

import shared
from golden_inputs import native_inputs, row_sha
from shared import require
from vssleval.frontends.pipeline import from_preset

pytestmark = pytest.mark.parity
NATIVE = shared.native_models()


@shared.bundle_only  # test_native_inputs compares the 8 clips of the full set
@pytest.mark.parametrize("model", NATIVE)
def test_bundle_native_inputs(model):
    x = native_inputs(shared.BUNDLE, model)
    assert len(x["rows"]) >= (3 if model == "sacl" else 4)
    assert x["audio_input"].dtype == x["image_input"].dtype == np.float32


@shared.bundle_only  # test_sacl_waveform_matches_h5_rows compares the 8 clips of the full set
def test_bundle_sacl_waveform():
    z = np.load(require(shared.BUNDLE.native / "sacl.npz"))
    ap, _ = from_preset(preset("sacl", "native"))
    ids = [str(i) for i in z["ids"]]
    present = [i for i in ids if (shared.BUNDLE.data_vggss / "audio" / f"{i}.wav").is_file()]
    assert len(present) == 4
    for i in present:
        wave, sr, _ = ap.waveform(shared.BUNDLE.data_vggss / "audio" / f"{i}.wav")
        assert sr == 16000 and row_sha(wave) == str(z["sha256_rows_waveform48k"][ids.index(i)])


@shared.requires_full
@pytest.mark.parametrize("model", NATIVE)
def test_native_inputs(model):
    z = np.load(require(shared.FULL.native / f"{model}.npz"))
    data = shared.FULL.data_vggss
    ap, ip = from_preset(preset(model, "native"))
    ids = [str(i) for i in z["ids"]]
    audio = np.stack([ap.positive(data / "audio" / f"{i}.wav").numpy() for i in ids])
    image = np.stack([ip.load(data / "frames" / f"{i}.jpg").numpy() for i in ids])
    assert audio.dtype == image.dtype == np.float32
    assert audio.shape == z["audio_input"].shape
    assert np.array_equal(audio, z["audio_input"]), rel(audio, z["audio_input"])
    exact = [np.array_equal(image[k], z["image_input"][k]) for k in range(len(ids))]
    if model != "sacl":
        assert all(exact), [rel(image[k], z["image_input"][k]) for k in range(len(ids))]
    else:
        # OpenCV's cubic resize runs through Intel IPP, whose internal rounding we model but cannot
        # copy: 1 uint8 value of the 8 frames lands on the other side of an exact .5 tie (sample 0).
        assert sum(exact) >= 7
        assert max(rel(image[k], z["image_input"][k]) for k in range(len(ids))) < 0.02


@shared.requires_full
def test_sacl_waveform_matches_h5_rows():
    z = np.load(require(shared.FULL.native / "sacl.npz"))
    ap, _ = from_preset(preset("sacl", "native"))
    for k, i in enumerate(z["ids"]):
        wave, sr, _ = ap.waveform(shared.FULL.data_vggss / "audio" / f"{i}.wav")
        assert sr == 16000 and np.array_equal(wave, z["waveform48k"][k])
