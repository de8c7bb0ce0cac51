"""juanola2025 presets: raw fixture files -> exactly the inputs of the official vssl_eval run.

Full set: all 24 samples per test set, every variant (the stored sha256 of the whole stacks, noise
and offscreen included). Bundle: its samples' image, positive and silence inputs against the
per-row sha256 (noise and offscreen need all 24 rows and the offscreen clips: full set only); with
the full set the bundle's check is deselected (``shared.bundle_only``).
"""

import numpy as np
import pytest
from frontend_helpers import preset, rel, sha

import shared
from golden_inputs import juanola_inputs
from shared import require
from vssleval.frontends.pipeline import AudioPipeline, ImagePipeline

pytestmark = pytest.mark.parity
PIPELINES = {"p10s": "ezvsl", "pfnac3s": "fnac", "plvs": "lvs", "pssltie": "ssltie"}
LAYOUT = {"vggss": ("audio", "frames"), "is3": ("audio_wav", "images")}
MODELS = shared.juanola_models()


def _models_of(pipe: str) -> list:
    return [PIPELINES[pipe]] + (["slavc"] if pipe == "p10s" else []) + (["sslalign"] if pipe == "plvs" else [])


@shared.bundle_only  # the full set's tests below compare all 24 rows of the same inputs
@pytest.mark.parametrize("st", ["vggss", "is3"])
def test_bundle_inputs_bit_exact(st):
    """Every juanola2025 front-end rebuilds the bundle's rows of the golden inputs bit for bit
    (``juanola_inputs`` checks each row's sha256), and models sharing a pipeline share its config."""
    assert len({ImagePipeline(preset(m, "juanola2025")["image"]).cache_key() for m in MODELS}) == 1
    for pipe in PIPELINES:
        cfgs = [preset(m, "juanola2025")["audio"] for m in _models_of(pipe)]
        assert all(c == cfgs[0] for c in cfgs), "models sharing a vssl_eval pipeline must share the audio block"
    x = juanola_inputs(shared.BUNDLE, st)
    assert len(x["rows"]) == 4 and x["image"].dtype == np.float32
    if st == "vggss":  # a 224 frame and resized ones are among them
        assert x["image"].shape == (4, 3, 224, 224)


@pytest.fixture(scope="module", params=["vggss", "is3"])
def golden(request):
    if not shared.HAVE_FULL:
        pytest.skip(shared.NO_FULL_REASON)
    z = np.load(require(shared.FULL.models / f"inputs_{request.param}.npz"))
    return request.param, {k: z[k] for k in z.files}


def test_image_bit_exact(golden):
    st, g = golden
    _, idir = LAYOUT[st]
    root = shared.FULL.data(st)
    names = [n.rsplit(".", 1)[0] for n in g["names_p10s"]]
    keys = {ImagePipeline(preset(m, "juanola2025")["image"]).cache_key() for m in MODELS}
    assert len(keys) == 1  # vssl_eval feeds every model the same image tensor (shareable)
    ip = ImagePipeline(preset("ezvsl", "juanola2025")["image"])
    img = np.stack([ip.load(root / idir / f"{n}.jpg").numpy() for n in names])
    assert img.dtype == np.float32 and img.shape == g["image"].shape
    assert sha(img) == str(g["sha256_image"]), rel(img, g["image"])


@pytest.mark.parametrize("pipe", list(PIPELINES))
def test_audio_variants(golden, pipe):
    st, g = golden
    adir, _ = LAYOUT[st]
    root = shared.FULL.data(st)
    cfgs = [preset(m, "juanola2025")["audio"] for m in _models_of(pipe)]
    assert all(c == cfgs[0] for c in cfgs), "models sharing a vssl_eval pipeline must share the audio block"
    ap = AudioPipeline(cfgs[0])
    names = [n.rsplit(".", 1)[0] for n in g["names_" + pipe]]
    pos, noise, off, sil = [], [], [], []
    for i, n in enumerate(names):
        t, info = ap.positive_with_info(root / adir / f"{n}.wav")
        pos.append(t.numpy())
        # fixtures README section 3: np.random.seed(1234*1000 + i) right before sample i is read
        np.random.seed(int(g["noise_seeds_" + pipe][i]))
        for _ in range(ap.noise_draws):
            w = np.random.normal(0, 1, ap.noise_length(info.sr))
        noise.append(ap.noise(w, info.sr).numpy())
        off.append(ap.offscreen(root / adir / str(g["offscreen_files_" + pipe][i]), info).numpy())
        sil.append(ap.silence(info.sr).numpy())
    pos, noise, off, sil = map(np.stack, (pos, noise, off, sil))
    assert pos.dtype == np.float32 and pos.shape == g["spec_pos_" + pipe].shape
    assert sha(pos) == str(g[f"sha256_spec_pos_{pipe}"]), rel(pos, g["spec_pos_" + pipe])
    assert sha(sil) == str(g[f"sha256_spec_silence_{pipe}"]), rel(sil, g["spec_silence_" + pipe])
    assert sha(noise) == str(g[f"sha256_spec_noise_{pipe}"])
    assert sha(off) == str(g[f"sha256_spec_offscreen_{pipe}"])
    # reuse rule: plvs/pssltie offscreen inputs are the positives of the offscreen files
    assert ap.shares_preprocessing("offscreen") == (pipe in ("plvs", "pssltie"))
    if ap.shares_preprocessing("offscreen"):
        assert np.array_equal(off, g["spec_pos_" + pipe][g["offscreen_index_" + pipe]])
