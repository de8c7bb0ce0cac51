"""D26: the sanity baselines run under every protocol on the embedded benchmark.

Under ``juanola2025`` the engine also computes the OGL object prior, which must get its own image
preprocessing (the baselines take no image: they receive a placeholder), so these runs need the
prior's ImageNet ResNet-18 weights: the fixtures' rule weights, else torchvision's file in the
torch hub cache; without either only the ``juanola2025`` cases are skipped, with the reason.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from vssleval.cli import main
from vssleval.data import load_dataset
from vssleval.engine.store import HeatmapStore
from vssleval.frontends.pipeline import ImagePipeline
from vssleval.models import build_model
from vssleval.models.registry import preset_block

BASELINES = ("center", "full", "random")
PROTOCOLS = ("vssleval", "juanola2025")


@pytest.fixture(scope="module")
def prior_weights(request):
    """The OGL prior's ImageNet ResNet-18 stand-in: the weight rule on the (bundled or full)
    manifest, so this runs on a bare clone as in CI."""
    return request.getfixturevalue("ogl_weights")


@pytest.mark.parametrize("protocol", [pytest.param(p, marks=pytest.mark.slow) if p == "juanola2025" else p
                                      for p in PROTOCOLS])  # juanola2025: the OGL prior's ResNet-18 on every sample
@pytest.mark.parametrize("baseline", BASELINES)
def test_baseline_runs_under_every_protocol(baseline, protocol, request, tmp_path, capsys):
    out = tmp_path / "run"
    argv = ["evaluate", "--model", baseline, "--dataset", "synthetic-vggss", "--protocol", protocol,
            "--limit", "8", "--seeds", "1", "--bootstrap", "0", "--device", "cpu", "--out", str(out)]
    weights = request.getfixturevalue("prior_weights") if protocol == "juanola2025" else None
    if weights is not None:
        argv += ["--ogl-weights", str(weights)]
    assert main(argv) == 0
    assert "Traceback" not in capsys.readouterr().err
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["n_samples"] == 8 and metrics["protocol"] == protocol
    store = HeatmapStore.open(out)
    positive = store.maps("positive")
    assert positive.shape == (8, 224, 224)
    # audio-agnostic: the silence map is the positive map, and the shards store it only once
    np.testing.assert_array_equal(store.maps("silence"), positive)
    shard_bytes = sum(store.shard_path(k).stat().st_size for k in store.shard_numbers())
    assert shard_bytes < 1.5 * positive.nbytes
    if protocol == "vssleval":
        return
    assert metrics["nonfinite_maps"] == 0
    # the prior saw the real images through its own juanola2025 preprocessing, not the placeholder
    prior = build_model("ogl", str(weights), preset="juanola2025")
    pipe = ImagePipeline(preset_block(prior.config, "juanola2025", "ogl")["image"])
    samples = load_dataset("synthetic-vggss", None).samples[:8]
    with torch.no_grad():
        expected = prior.encode_image(torch.stack([pipe.load(s.image_path) for s in samples])).numpy()
    ogl = store.maps("ogl")
    assert ogl.shape == (8, 7, 7)
    np.testing.assert_allclose(ogl, expected, rtol=1e-4, atol=1e-5)
    assert np.ptp(ogl.reshape(8, -1), axis=1).min() > 0  # a real saliency map, not a constant


def test_audio_agnostic_model_gets_no_negative_forwards(synthetic_set, tmp_path):
    """A model declaring ``audio_agnostic`` has its positive map reused for silence and every
    seed's noise and offscreen clip: one ``localize`` per batch, and a store equal (every member,
    every seed) to the one computed with a forward per audio input."""
    from engine_helpers import run, store_arrays
    from vssleval.engine.spec import RunSpec
    from vssleval.models.baselines import RandomMap

    class Counting(RandomMap):
        calls = 0

        def localize(self, visual, audio):
            type(self).calls += 1
            return super().localize(visual, audio)

    def model(agnostic: bool):
        m = build_model("random", preset="juanola2025")
        counting = Counting()
        counting.load_state_dict(m.state_dict())
        counting.name, counting.config, counting.map_rule = m.name, m.config, m.map_rule
        counting.audio_agnostic = agnostic
        return counting

    spec = RunSpec(model="random", dataset="synthetic-vggss", data_dir=str(synthetic_set("vggss", 6)), seeds=(1, 2, 3),
                   negatives=("silence", "noise", "offscreen"), batch_size=4, device="cpu")
    stores = {}
    for agnostic in (True, False):
        Counting.calls = 0
        run(spec, tmp_path / str(agnostic), model=model(agnostic))
        stores[agnostic] = store_arrays(tmp_path / str(agnostic) / "store")
        assert Counting.calls == (2 if agnostic else 2 * (2 + 2 * 3))  # 2 batches; positive, silence, S x 2
    assert sorted(stores[True]) == sorted(stores[False])
    for key, value in stores[False].items():
        np.testing.assert_array_equal(stores[True][key], value, err_msg=key)
