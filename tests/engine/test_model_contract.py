"""D15-D17: every model output is checked against the contract on every batch, before the shard is
written (vssleval/engine/contract.py): a clear error naming the method, the expected and the
received shape or type; the store never holds maps that do not line up with its ids."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest
import torch

import vssleval
from engine_helpers import IDENTITY_PLUGIN_YAML
from vssleval.cli import main
from vssleval.engine.contract import check_output, check_scores
from vssleval.engine.store import COMPLETE_FILE, HeatmapStore
from vssleval.errors import VsslevalError

PLUGINS = '''
import numpy as np
import torch

from vssleval.models.baselines import CenterPrior


class _Spoilt(CenterPrior):
    """The centre prior at 7 x 7 with one output spoilt (``spoil``); ``after`` good localize calls first."""

    after = 0

    def __init__(self, size=7, sigma=0.25):
        super().__init__(size, sigma)
        self.calls = 0

    def localize(self, visual, audio):
        maps = super().localize(visual, audio)
        self.calls += 1
        return maps if self.calls <= self.after else self.spoil(maps)

    def spoil(self, maps):
        return maps


class TooFew(_Spoilt):
    def spoil(self, maps):
        return maps[:-1]


class TooMany(_Spoilt):
    def spoil(self, maps):
        return torch.cat([maps, maps[:1]])


class Channels(_Spoilt):
    def spoil(self, maps):
        return maps[:, None].expand(-1, 3, -1, -1)


class Flat(_Spoilt):
    def spoil(self, maps):
        return maps.mean(dim=(1, 2))


class AsNumpy(_Spoilt):
    def spoil(self, maps):
        return maps.numpy()


class AsList(_Spoilt):
    def spoil(self, maps):
        return list(maps)


class Empty(_Spoilt):
    def spoil(self, maps):
        return maps[:, :0, :0]


class NoWidth(_Spoilt):
    def spoil(self, maps):
        return maps[:, :, :0]


class OnMeta(_Spoilt):
    def spoil(self, maps):
        return maps.to("meta")


class Sparse(_Spoilt):
    def spoil(self, maps):
        return maps.to_sparse()


class Raising(CenterPrior):
    def localize(self, visual, audio):
        raise RuntimeError("out of memory (simulated)")


class InitRaising(CenterPrior):
    def __init__(self, size=7, sigma=0.25):
        raise ValueError("no such backbone")


class LaterBatch(TooFew):
    after = 1  # batch 0 is fine (its positive map; audio-agnostic: silence reuses it), batch 1 returns one map too few


class ShortAudio(CenterPrior):
    def encode_audio(self, audio):
        return super().encode_audio(audio)[:-1]


class ShortImage(CenterPrior):
    def encode_image(self, images):
        return super().encode_image(images)[1:]


class Plain(CenterPrior):
    """No confidence hook."""


class WithConfidence(CenterPrior):
    """The optional hook: one score per pair (here the pair's position in its batch, / 10)."""

    def confidence(self, visual, audio):
        return torch.arange(max(len(visual), len(audio)), dtype=torch.float32) / 10


class ConfidencePerPixel(WithConfidence):
    def confidence(self, visual, audio):
        return super().confidence(visual, audio)[:, None]
'''

# the confidence hook is called only where an evaluator reads it: name one for the VGG-SS layout
PRESET_YAML = IDENTITY_PLUGIN_YAML + "native_evaluator_by_layout: {vggss: aclssl_extended}\n"


@pytest.fixture(scope="module")
def plugins(tmp_path_factory):
    folder = tmp_path_factory.mktemp("plugins")
    (folder / "contract_plugins.py").write_text(textwrap.dedent(PLUGINS))
    (folder / "contract_plugins.yaml").write_text(PRESET_YAML)
    return lambda cls: f"{folder / 'contract_plugins.py'}:{cls}"


def _run(capsys, command, model, out, *extra) -> tuple[int, str]:
    code = main([command, "--model-file", model, "--dataset", "synthetic-vggss", "--limit", "8", "--seeds", "1",
                 "--neg", "silence", "--device", "cpu", "--out", str(out), *extra]
                + (["--bootstrap", "0"] if command == "evaluate" else ["--overlays", "0"]))
    err = capsys.readouterr().err
    assert "Traceback" not in err
    return code, err


@pytest.mark.parametrize("cls, received", [
    ("TooFew", "a torch.float32 tensor of shape [7, 7, 7]"),
    ("TooMany", "a torch.float32 tensor of shape [9, 7, 7]"),
    ("Channels", "a torch.float32 tensor of shape [8, 3, 7, 7]"),
    ("Flat", "a torch.float32 tensor of shape [8]"),
    ("AsNumpy", "a numpy.ndarray of shape (8, 7, 7)"),
    ("AsList", "a list of 8 items"),
])
@pytest.mark.parametrize("command", ["evaluate", "infer"])
def test_bad_maps_stop_the_run_before_any_shard(plugins, capsys, tmp_path, command, cls, received):
    code, err = _run(capsys, command, plugins(cls), tmp_path / "run")
    assert code == 2
    assert f"model '{cls.lower()}': localize returned {received}; expected a floating-point torch.Tensor " \
           "[B, h, w] with B = 8" in err
    assert not list((tmp_path / "run" / "store").glob("shard-*.npz"))
    assert not (tmp_path / "run" / "store" / COMPLETE_FILE).exists()
    assert not (tmp_path / "run" / "metrics.json").exists()


def test_numpy_and_list_are_refused_by_name_with_the_fix(plugins, capsys, tmp_path):
    _, err = _run(capsys, "infer", plugins("AsNumpy"), tmp_path / "a")
    assert "numpy.ndarray" in err and "torch.from_numpy" in err
    _, err = _run(capsys, "infer", plugins("AsList"), tmp_path / "b")
    assert "a list of 8 items" in err and "torch.stack" in err


def test_every_batch_is_checked_not_only_the_first(plugins, capsys, tmp_path):
    out = tmp_path / "run"
    code, err = _run(capsys, "evaluate", plugins("LaterBatch"), out, "--batch-size", "4")
    assert code == 2 and "localize returned a torch.float32 tensor of shape [3, 7, 7]" in err and "B = 4" in err
    shards = sorted(p.name for p in (out / "store").glob("shard-*.npz"))
    assert shards == ["shard-000000.npz"]  # the good first batch is kept; the bad second never written
    assert not (out / "store" / COMPLETE_FILE).exists()


@pytest.mark.parametrize("cls, method, received", [
    ("ShortAudio", "encode_audio", "a torch.float32 tensor of shape [7, 0]"),
    ("ShortImage", "encode_image", "a torch.float32 tensor of shape [7]"),
])
def test_features_must_keep_the_batch_axis(plugins, capsys, tmp_path, cls, method, received):
    code, err = _run(capsys, "infer", plugins(cls), tmp_path / "run")
    assert code == 2
    assert f"{method} returned {received}; expected a torch.Tensor whose first axis is the batch size B = 8" in err


def test_in_memory_model_goes_through_the_same_check(tmp_path):
    model = vssleval.load_model("synth-ezvsl")
    model.localize = lambda visual, audio: [m for m in torch.zeros(len(visual), 7, 7)]
    with pytest.raises(VsslevalError, match=r"model 'synth-ezvsl': localize returned a list of 8 items"):
        vssleval.infer(model, "synthetic-vggss", limit=8, seeds=1, neg="silence", out=tmp_path / "run",
                       verbose=False)
    assert not list((tmp_path / "run" / "store").glob("shard-*.npz"))


@pytest.mark.slow
def test_the_confidence_hook_is_stored_for_the_positive_pairs(plugins, capsys, tmp_path):
    """A model with ``confidence(visual, audio)`` gets a float32 ``confidence`` member per sample
    (called once per batch, on the positive pairs); a model without it gets none."""
    code, _ = _run(capsys, "infer", plugins("WithConfidence"), tmp_path / "with", "--batch-size", "5")
    assert code == 0
    store = HeatmapStore.open(tmp_path / "with" / "store")
    shards = list(store.iter_shards())
    conf = np.concatenate([s["confidence"] for s in shards])
    assert conf.dtype == np.float32 and "confidence" in store.members()
    np.testing.assert_array_equal(conf, np.array([0, 1, 2, 3, 4, 0, 1, 2], np.float32) / 10)
    code, _ = _run(capsys, "infer", plugins("Plain"), tmp_path / "without")
    assert code == 0 and "confidence" not in HeatmapStore.open(tmp_path / "without" / "store").members()


@pytest.mark.slow
def test_a_confidence_that_is_not_one_score_per_pair_stops_the_run(plugins, capsys, tmp_path):
    code, err = _run(capsys, "infer", plugins("ConfidencePerPixel"), tmp_path / "run")
    assert code == 2
    line = next(l for l in err.splitlines() if "vssleval: error:" in l)
    assert ("model 'confidenceperpixel': confidence returned a torch.float32 tensor of shape [8, 1]; expected a "
            "floating-point torch.Tensor [8]") in line
    assert not list((tmp_path / "run" / "store").glob("shard-*.npz"))


def test_scores_check():
    scores = torch.zeros(3, dtype=torch.float64)
    assert check_scores(scores, model="m", method="confidence", batch=3) is scores
    for bad in (torch.zeros(3, dtype=torch.int64), torch.zeros(2), torch.zeros(3).to("meta"), np.zeros(3)):
        with pytest.raises(VsslevalError, match=r"model 'm': confidence returned .*expected a floating-point "
                                                r"torch.Tensor \[3\]"):
            check_scores(bad, model="m", method="confidence", batch=3)


# -- the check itself ----------------------------------------------------------------------------
def test_one_map_size_per_run():
    maps = torch.zeros(4, 7, 7)
    assert check_output(maps, model="m", method="localize", batch=4, map_size=(7, 7)) is maps
    with pytest.raises(VsslevalError, match=r"shape \[4, 5, 5\]; expected a floating-point torch.Tensor "
                                            r"\[4, 7, 7\] .*the size of the first, 7 x 7"):
        check_output(torch.zeros(4, 5, 5), model="m", method="localize", batch=4, map_size=(7, 7))


def test_integer_maps_and_scalars_are_refused():
    with pytest.raises(VsslevalError, match=r"localize returned a torch.int64 tensor of shape \[2, 7, 7\]"):
        check_output(torch.zeros(2, 7, 7, dtype=torch.int64), model="m", method="localize", batch=2)
    with pytest.raises(VsslevalError, match=r"encode_image returned a torch.float32 tensor of shape \[\]"):
        check_output(torch.tensor(1.0), model="m", method="encode_image", batch=1)
    with pytest.raises(VsslevalError, match=r"encode_audio returned a dict of 1 items"):
        check_output({"a": torch.zeros(2)}, model="m", method="encode_audio", batch=2)
    # features may have any dtype and rank as long as the batch comes first (the random baseline: int64 [B])
    feats = torch.zeros(2, dtype=torch.int64)
    assert check_output(feats, model="m", method="encode_image", batch=2) is feats
    np.testing.assert_array_equal(check_output(torch.ones(3, 2, 5), model="m", method="encode_audio", batch=3), 1)


# -- degenerate maps (issue 19): refused before anything is stored ---------------------------------
@pytest.mark.parametrize("cls, received", [
    ("Empty", "a torch.float32 tensor of shape [8, 0, 0]"),
    ("NoWidth", "a torch.float32 tensor of shape [8, 7, 0]"),
    ("OnMeta", "a torch.float32 tensor on the meta device of shape [8, 7, 7]"),
    ("Sparse", "a torch.float32 tensor with layout torch.sparse_coo of shape [8, 7, 7]"),
])
def test_degenerate_maps_stop_the_run_before_any_shard(plugins, capsys, tmp_path, cls, received):
    """A [B, 0, 0] map used to pass the contract: the store was marked COMPLETE and scoring then
    failed with a traceback. Maps without pixels or without values are refused on the first call."""
    code, err = _run(capsys, "evaluate", plugins(cls), tmp_path / "run")
    assert code == 2
    line = next(l for l in err.splitlines() if "vssleval: error:" in l)
    assert f"model '{cls.lower()}': localize returned {received}; expected a floating-point torch.Tensor " \
           "[B, h, w] with B = 8 and h, w >= 1" in line
    assert not list((tmp_path / "run" / "store").glob("shard-*.npz"))
    assert not (tmp_path / "run" / "store" / COMPLETE_FILE).exists()
    assert not (tmp_path / "run" / "metrics.json").exists()


def test_map_size_floor_is_one_pixel():
    """h, w >= 1: a 1 x 1 map is a legal (uninformative) map, upsampled to a constant; 0 is not."""
    one = torch.zeros(2, 1, 1)
    assert check_output(one, model="m", method="localize", batch=2) is one
    for shape in ((2, 0, 0), (2, 1, 0), (2, 0, 7)):
        with pytest.raises(VsslevalError, match=r"h, w >= 1"):
            check_output(torch.zeros(shape), model="m", method="localize", batch=2)
    with pytest.raises(VsslevalError, match=r"encode_image returned a torch.float32 tensor of shape \[2, 0, 7\]"):
        check_output(torch.zeros(2, 0, 7), model="ogl", method="encode_image", batch=2, is_map=True)


@pytest.mark.parametrize("cls, message", [
    ("Raising", "model 'raising': localize raised RuntimeError: out of memory (simulated) ({file}, line "),
    ("InitRaising",
     "model 'initraising' (file {file}): building it raised ValueError: no such backbone ({file}, line "),
])
def test_a_plugin_that_raises_is_one_line_naming_its_own_line(plugins, capsys, tmp_path, cls, message):
    """A plug-in's own exception (at build time or in a call) used to end in a raw traceback."""
    spec = plugins(cls)
    code, err = _run(capsys, "evaluate", spec, tmp_path / "run")
    assert code == 2
    line = next(l for l in err.splitlines() if "vssleval: error:" in l)
    assert message.format(file=spec.rsplit(":", 1)[0]) in line, line
    assert not list((tmp_path / "run" / "store").glob("shard-*.npz"))
