"""The model inputs of the golden runs, for either fixture root (see ``shared.py``).

The full set stores the exact float32 inputs (``models/inputs_<set>.npz``, ``native/<model>.npz``).
The bundle stores only their per-row sha256: here the inputs of the bundle's samples are rebuilt from
the bundle's raw files by the project's front-ends and every row is checked against that sha256
before use, so a model test fed them is fed the golden inputs, bit for bit.
"""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

import numpy as np
import yaml

from shared import ROOT, Fixtures, require

#: pipeline of the golden run -> a model whose juanola2025 preset builds it
PIPELINE_MODEL = {"p10s": "ezvsl", "pfnac3s": "fnac", "plvs": "lvs", "pssltie": "ssltie"}
LAYOUT = {"vggss": ("audio", "frames"), "is3": ("audio_wav", "images")}


def preset(model: str, name: str) -> dict:
    with open(ROOT / "configs" / "models" / f"{model}.yaml") as f:
        return yaml.safe_load(f)["presets"][name]


def row_sha(a: np.ndarray) -> str:
    return hashlib.sha256(np.ascontiguousarray(a).tobytes()).hexdigest()


def _load(path: Path) -> dict[str, np.ndarray]:
    with np.load(require(path)) as z:
        return {k: z[k] for k in z.files}


def bundle_ids(fx: Fixtures, testset: str) -> list[str]:
    """Sample ids of a fixture root's data folder, in annotation order."""
    from vssleval.data.registry import load_dataset

    return [s.id for s in load_dataset(testset, require(fx.data(testset)))]


@functools.lru_cache(maxsize=None)
def juanola_inputs(fx: Fixtures, testset: str) -> dict[str, np.ndarray]:
    """``rows`` (indices into the golden run's 24 samples), ``image`` and, per pipeline ``p``,
    ``spec_pos_<p>`` / ``spec_silence_<p>`` for those rows (cached; do not mutate)."""
    stored = _load(fx.models / f"inputs_{testset}.npz")
    if fx.full:
        return {"rows": np.arange(len(stored["image"])), **stored}
    from vssleval.frontends.pipeline import AudioPipeline, ImagePipeline

    names = [str(n).rsplit(".", 1)[0] for n in stored["names_p10s"]]
    ids = bundle_ids(fx, testset)
    rows = np.array([names.index(i) for i in ids])
    adir, idir = LAYOUT[testset]
    root = fx.data(testset)
    ip = ImagePipeline(preset("ezvsl", "juanola2025")["image"])
    out = {"rows": rows, "image": np.stack([ip.load(root / idir / f"{i}.jpg").numpy() for i in ids])}
    for p, model in PIPELINE_MODEL.items():
        ap = AudioPipeline(preset(model, "juanola2025")["audio"])
        pos, sil = [], []
        for i in ids:
            t, info = ap.positive_with_info(root / adir / f"{i}.wav")
            pos.append(t.numpy())
            sil.append(ap.silence(info.sr).numpy())
        out[f"spec_pos_{p}"], out[f"spec_silence_{p}"] = np.stack(pos), np.stack(sil)
    for key, arr in out.items():
        if key != "rows":
            want = stored[f"sha256_rows_{key}"][rows]
            bad = [ids[k] for k in range(len(ids)) if row_sha(arr[k]) != str(want[k])]
            assert not bad, f"{testset} {key}: the front-end output differs from the golden input for {bad}"
    return out


@functools.lru_cache(maxsize=None)
def native_inputs(fx: Fixtures, model: str) -> dict[str, np.ndarray]:
    """``ids``, ``rows`` (indices into the native run's 8 samples), ``image_input``, ``audio_input``.

    Bundle: rebuilt by the model's ``native`` front-ends for the bundle's VGG-SS samples, keeping the
    rows whose both inputs match the golden sha256 (all of them, except SACL's first frame: OpenCV's
    cubic resize lands one uint8 value on the other side of a .5 tie there, see tests/frontends).
    """
    stored = _load(fx.native / f"{model}.npz")
    ids = [str(i) for i in stored["ids"]]
    if fx.full:
        return {"rows": np.arange(len(ids)), **stored}
    from vssleval.frontends.pipeline import from_preset

    ap, ip = from_preset(preset(model, "native"))
    bundle = set(bundle_ids(fx, "vggss"))  # read once, not once per id
    keep = [i for i in ids if i in bundle]
    root = fx.data_vggss
    audio = [ap.positive(root / "audio" / f"{i}.wav").numpy() for i in keep]
    image = [ip.load(root / "frames" / f"{i}.jpg").numpy() for i in keep]
    good = [k for k, i in enumerate(keep)
            if row_sha(audio[k]) == str(stored["sha256_rows_audio_input"][ids.index(i)])
            and row_sha(image[k]) == str(stored["sha256_rows_image_input"][ids.index(i)])]
    assert len(good) >= len(keep) - (model == "sacl"), f"{model}: native front-end inputs differ from the golden ones"
    return {"ids": np.array([keep[k] for k in good]), "rows": np.array([ids.index(keep[k]) for k in good]),
            "image_input": np.stack([image[k] for k in good]), "audio_input": np.stack([audio[k] for k in good])}


def native_map224(raw: np.ndarray, rule, testset: str) -> np.ndarray:
    """The native preset's 224 map of raw maps ``[n, h, w]``: ``map.upsample.positive`` (per test
    set) then ``map.normalize``, as ``rule`` (a :class:`vssleval.models.maps.MapRule`) says; ``[n, 224, 224]``."""
    from vssleval.metrics.upsample import minmax_normalize, upsample

    up = upsample(raw, rule.upsample_op("positive", testset))
    if rule.normalize == "minmax":
        return minmax_normalize(up)
    if rule.normalize == "fixed_range":  # SLAVC's own test: (x + 1/tau) / (2/tau)
        return (up + 1 / rule.tau) / (2 / rule.tau)
    return up
