"""native presets: raw fixture files -> the inputs of each model's own repository test pipeline."""

import numpy as np
import pytest
from frontend_helpers import preset, rel

from shared import DATA_VGGSS, NATIVE, require
from vssleval.frontends.pipeline import from_preset


@pytest.mark.parametrize("model", ["ezvsl", "slavc", "lvs", "sslalign", "ssltie", "sacl"])
def test_native_inputs(model):
    z = np.load(require(NATIVE / f"{model}.npz"))
    ap, ip = from_preset(preset(model, "native"))
    ids = [str(i) for i in z["ids"]]
    audio = np.stack([ap.positive(DATA_VGGSS / "audio" / f"{i}.wav").numpy() for i in ids])
    image = np.stack([ip.load(DATA_VGGSS / "frames" / f"{i}.jpg").numpy() for i in ids])
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


def test_sacl_waveform_matches_h5_rows():
    z = np.load(require(NATIVE / "sacl.npz"))
    ap, _ = from_preset(preset("sacl", "native"))
    for k, i in enumerate(z["ids"]):
        wave, sr, _ = ap.waveform(DATA_VGGSS / "audio" / f"{i}.wav")
        assert sr == 16000 and np.array_equal(wave, z["waveform48k"][k])
