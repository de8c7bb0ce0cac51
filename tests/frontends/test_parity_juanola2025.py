"""juanola2025 presets: raw fixture files -> exactly the inputs of the official vssl_eval run."""

import numpy as np
import pytest
from frontend_helpers import preset, rel, sha

from shared import DATA_IS3, DATA_VGGSS, GOLDEN_MODELS, require
from vssleval.frontends.pipeline import AudioPipeline, ImagePipeline

PIPELINES = {"p10s": "ezvsl", "pfnac3s": "fnac", "plvs": "lvs", "pssltie": "ssltie"}
LAYOUT = {"vggss": (DATA_VGGSS, "audio", "frames"), "is3": (DATA_IS3, "audio_wav", "images")}


@pytest.fixture(scope="module", params=["vggss", "is3"])
def golden(request):
    z = np.load(require(GOLDEN_MODELS / f"inputs_{request.param}.npz"))
    return request.param, {k: z[k] for k in z.files}


def test_image_bit_exact(golden):
    st, g = golden
    root, _, idir = LAYOUT[st]
    names = [n.rsplit(".", 1)[0] for n in g["names_p10s"]]
    keys = {ImagePipeline(preset(m, "juanola2025")["image"]).cache_key()
            for m in ("ezvsl", "slavc", "fnac", "lvs", "sslalign", "ssltie")}
    assert len(keys) == 1  # vssl_eval feeds every model the same image tensor (shareable)
    ip = ImagePipeline(preset("ezvsl", "juanola2025")["image"])
    img = np.stack([ip.load(root / idir / f"{n}.jpg").numpy() for n in names])
    assert img.dtype == np.float32 and img.shape == g["image"].shape
    assert sha(img) == str(g["sha256_image"]), rel(img, g["image"])


@pytest.mark.parametrize("pipe", list(PIPELINES))
def test_audio_variants(golden, pipe):
    st, g = golden
    root, adir, _ = LAYOUT[st]
    models = [m for p, m in PIPELINES.items() if p == pipe] + (["slavc"] if pipe == "p10s" else []) + (
        ["sslalign"] if pipe == "plvs" else [])
    cfgs = [preset(m, "juanola2025")["audio"] for m in models]
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
