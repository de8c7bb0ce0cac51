"""The Python API (docs/api.md): one code path with the CLI, in-memory models, Results, errors."""

from __future__ import annotations

import gc
import json
import math
import tempfile

import numpy as np
import pytest
import torch
import torch.nn.functional as F

import vssleval
from vssleval.cli import main
from vssleval.models import VsslModel

# the embedded benchmark, 8 records x 1 seed: a few seconds a run
SMALL = dict(seeds=1, limit=8, bootstrap=0, verbose=False)
TINY_PRESET = {
    "audio": {"read": {"scale": "soundfile", "channels": "mean", "dtype": "float64", "sample_rate": 16000},
              "tile_s": 10.0, "crop_s": [3.5, 6.5], "negatives_enter_after": "crop",
              "frontend": {"type": "spectrogram", "nperseg": 512, "noverlap": 353, "window_alpha": 0.25,
                           "log": True, "log_offset": 1.0e-7, "divide": 12.0}},
    "image": {"ops": ["to_tensor", {"resize_tensor": {"size": [224, 224], "antialias": False}},
                      {"normalize": {"mean": [0.485, 0.456, 0.406], "std": [0.229, 0.224, 0.225]}}]},
    "map": {"raw": "cosine", "upsample": {"positive": "bilinear"}},
}


class ColourBands(VsslModel):
    """7x7 colour features against 3-band audio energy (no weights to load)."""

    needs_checkpoint = False

    def __init__(self):
        super().__init__()
        self.scale = torch.nn.Parameter(torch.ones(1))

    def encode_image(self, images):
        return F.normalize(F.adaptive_avg_pool2d(images, 7), dim=1) * self.scale

    def encode_audio(self, audio):
        bands = audio.mean(dim=-1).flatten(1)[:, :255].reshape(len(audio), 3, 85).mean(-1)
        return F.normalize(bands, dim=1)

    def similarity(self, visual, audio):
        return torch.einsum("bchw,bc->bhw", visual, audio)


@pytest.fixture(scope="module")
def api_run(tmp_path_factory):
    """synth-ezvsl through the API (in memory) and through the CLI, same arguments."""
    root = tmp_path_factory.mktemp("api")
    model = vssleval.load_model("synth-ezvsl")
    res = vssleval.evaluate(model, "synthetic-is3", out=root / "api", **SMALL)
    rc = main(["evaluate", "--model", "synth-ezvsl", "--dataset", "synthetic-is3", "--seeds", "1",
               "--limit", "8", "--bootstrap", "0", "--out", str(root / "cli")])
    assert rc == 0
    return model, res, root


def test_api_and_cli_give_the_same_maps_and_metrics(api_run):
    _, res, root = api_run
    cli = vssleval.Results.open(root / "cli")
    np.testing.assert_array_equal(res.maps("positive"), cli.maps("positive"))
    np.testing.assert_array_equal(res.maps("noise"), cli.maps("noise"))
    for key in ("ciou", "auc", "ciou_adap", "pia_silence_med", "pia_noise_med", "pia_offscreen_med", "ap"):
        assert res.metrics[key] == cli.metrics[key], key
    # the in-memory model is identified by its weights; the CLI's by its checkpoint file
    assert len(res.config["weights_sha256"]) == 64 and "weights_sha256" not in cli.config
    assert res.metrics == json.loads((root / "api" / "metrics.json").read_text())


def test_results_hold_maps_rows_and_metrics(api_run):
    _, res, _ = api_run
    assert math.isfinite(res.metrics["ciou"]) and 0.0 <= res.metrics["ciou"] <= 1.0
    assert res.maps("positive").shape == (8, 7, 7) and res.maps("positive").dtype == np.float32
    assert res.maps("silence").shape == (8, 7, 7)
    assert res.maps("offscreen").shape == (1, 8, 7, 7)
    assert len(res.ids) == 8 and len(res.per_sample) == 8
    row = res.per_sample[0]
    assert row["sample_id"] == res.ids[0] and isinstance(row["max_positive"], float)
    assert row["max_positive"] == pytest.approx(float(res.maps("positive")[0].max()), abs=1e-6)
    with pytest.raises(vssleval.VsslevalError, match="unknown map variant"):
        res.maps("loud")
    with pytest.raises(vssleval.VsslevalError, match="no 'ogl' maps"):
        res.maps("ogl")  # the clean protocol computes no object prior


def test_stateful_metrics_give_the_runs_metrics(api_run):
    """vssleval.metrics.Localization fed the run's maps and ground truth in a loop gives every number
    of its metrics.json (docs/metrics.md §6.3)."""
    from vssleval.data.types import scene_groups
    from vssleval.engine.store.shards import unpack_gt
    from vssleval.metrics import Localization

    _, res, _ = api_run
    m, cfg = res.metrics, res.config
    metric = Localization(negatives=cfg["negatives"], thresholds=m["thresholds"], upsample=m["upsample"],
                          seed=cfg["seeds"][0])
    start = 0
    for shard in res.store.iter_shards():
        gt, n = unpack_gt(shard["gt"]), len(shard["ids"])
        for lo in range(0, n, 3):  # batches of 3, as a loader would give them
            rows, ids = slice(lo, lo + 3), list(range(start + lo, start + min(lo + 3, n)))
            maps = {"positive": torch.from_numpy(shard["positive"][rows]), "silence": shard["silence"][rows],
                    "noise": shard["noise"][0][rows], "offscreen": shard["offscreen"][0][rows]}
            metric.update(maps, gt[rows], ids=ids, groups=scene_groups(shard["groups"][rows]))
        start += n
    got = metric.compute()
    assert got["n_samples"] == 8 and "iiou" in got and "auroc_max_neg" in got
    differ = [k for k in got if k != "versions" and json.dumps(got[k]) != json.dumps(m[k])]
    assert differ == []


def test_results_open_the_run_folder_or_its_store(api_run):
    _, res, root = api_run
    for path in (root / "api", root / "api" / "store"):
        again = vssleval.Results.open(path)
        assert again.out == root / "api" and again.metrics == res.metrics


def test_load_model_remembers_name_preset_and_checkpoint(api_run):
    model, _, _ = api_run
    assert (model.name, model.preset_name, model.checkpoint) == ("synth-ezvsl", "juanola2025", None)
    native = vssleval.load_model("center", preset="native")
    assert native.preset_name == "native"


def test_unregistered_model_with_a_preset_dict(tmp_path):
    res = vssleval.evaluate(ColourBands(), "synthetic-vggss", preset=TINY_PRESET, neg="silence",
                            out=tmp_path / "run", **SMALL)
    assert res.config["model_name"] == "colourbands" and res.config["preset"] == "custom"
    assert res.config["negatives"] == ["silence"]
    # cosine maps of unit vectors: every value in [-1, 1]
    assert np.abs(res.maps("positive")).max() <= 1.0 + 1e-6
    with pytest.raises(vssleval.VsslevalError, match="no 'noise' maps"):
        res.maps("noise")


def test_infer_stores_maps_without_metrics(tmp_path):
    res = vssleval.infer("center", "synthetic-is3", seeds=1, limit=4, out=tmp_path / "maps", verbose=False)
    assert res.metrics is None and res.per_sample == []
    # the center baseline is audio-agnostic: every variant gives the same map
    np.testing.assert_array_equal(res.maps("positive"), res.maps("silence"))


def test_report_and_rescore(api_run, tmp_path):
    _, res, _ = api_run
    path = vssleval.report(res.out, out=tmp_path / "report", verbose=False)
    assert path == tmp_path / "report" / "report.md" and "synth-ezvsl" in path.read_text()
    again = vssleval.rescore(res.out, tmp_path / "rescored", bootstrap=0, verbose=False)
    assert again.metrics["ciou"] == res.metrics["ciou"]
    np.testing.assert_array_equal(again.maps("positive"), res.maps("positive"))


def test_module_names_do_not_hide_the_functions():
    import vssleval.evaluate  # noqa: F401  (Python would bind vssleval.evaluate to the module)
    import vssleval.infer  # noqa: F401
    import vssleval.report.tables  # noqa: F401
    from vssleval import api
    from vssleval.report import tables

    assert (vssleval.evaluate, vssleval.infer, vssleval.report) == (api.evaluate, api.infer, api.report)
    assert callable(tables.headline)  # the report package's modules are imported as usual


# -- bad input -----------------------------------------------------------------------------------
class NoAudio(VsslModel):
    needs_checkpoint = False

    def encode_image(self, images):
        return images


def test_incomplete_model_is_refused_before_any_data_is_read(tmp_path):
    with pytest.raises(vssleval.VsslevalError, match=r"lacks encode_audio, localize \(or similarity\)"):
        vssleval.evaluate(NoAudio(), "vggss", data_dir=tmp_path / "missing", preset=TINY_PRESET)
    with pytest.raises(vssleval.VsslevalError, match="lacks encode_image, encode_audio, localize;"):
        vssleval.evaluate(torch.nn.Linear(2, 2), "vggss", data_dir=tmp_path / "missing", preset=TINY_PRESET)
    with pytest.raises(vssleval.VsslevalError, match="torch.nn.Module"):
        vssleval.evaluate(object(), "synthetic-is3")


def test_unregistered_model_without_preset_is_refused():
    with pytest.raises(vssleval.VsslevalError, match="has no preset"):
        vssleval.evaluate(ColourBands(), "synthetic-is3")


def test_api_errors_carry_the_cli_messages(capsys):
    with pytest.raises(vssleval.VsslevalError) as api_error:
        vssleval.load_model("no-such-model")
    assert main(["evaluate", "--model", "no-such-model"]) == 2
    assert capsys.readouterr().err.strip() == f"vssleval: error: {api_error.value}"
    with pytest.raises(vssleval.VsslevalError) as api_error:
        vssleval.evaluate("synth-ezvsl", "synthetic-is3", limit=0)
    assert main(["evaluate", "--model", "synth-ezvsl", "--dataset", "synthetic-is3", "--limit", "0"]) == 2
    assert capsys.readouterr().err.strip() == f"vssleval: error: {api_error.value}"


@pytest.mark.parametrize("kwargs, message", [
    (dict(model="synth-ezvsl", preset={"audio": {}}), "choose one of its presets by name"),
    (dict(model=ColourBands(), preset=TINY_PRESET, checkpoint="x.pth"), "already holds its weights"),
    (dict(model="synth-ezvsl", seeds=[]), "at least one seed"),
    (dict(model="synth-ezvsl", neg="loud"), "--neg 'loud'"),
    (dict(model="synth-ezvsl", protocol="juanola2025", neg="silence"), "scores all three negatives"),
])
def test_bad_arguments_are_clear_errors(kwargs, message):
    with pytest.raises(vssleval.VsslevalError, match=message):
        vssleval.evaluate(dataset="synthetic-is3", **kwargs)


def test_registered_baseline_in_memory_runs(tmp_path):
    """A model from load_model needs no front-end blocks of its own (the baselines have none)."""
    res = vssleval.evaluate(vssleval.load_model("center"), "synthetic-is3", out=tmp_path / "run", **SMALL)
    assert res.config["model_name"] == "center" and 0.0 <= res.metrics["auc"] <= 1.0


def test_unscorable_protocol_is_refused_before_inference(tmp_path):
    """synth-ezvsl has no universal thresholds: --protocol juanola2025 is refused before any map."""
    with pytest.raises(vssleval.VsslevalError, match="needs the model's universal thresholds"):
        vssleval.evaluate("synth-ezvsl", "synthetic-is3", protocol="juanola2025", out=tmp_path / "run", **SMALL)
    assert not (tmp_path / "run").exists()


def test_a_run_without_out_lives_as_long_as_its_results(tmp_path, monkeypatch, capsys):
    """out=None: a temporary folder, readable while the Results lives, removed once it is gone
    (docs/api.md), and said so in one line."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))  # where mkdtemp makes the run folder
    res = vssleval.evaluate("center", "synthetic-is3", seeds=1, limit=4, bootstrap=0)
    folder = res.out
    assert folder.parent == tmp_path and (folder / "metrics.json").is_file()
    assert f"temporary run folder {folder}: removed when this Results is deleted" in capsys.readouterr().out
    assert res.maps("positive").shape[0] == 4  # the maps stay readable while `res` lives
    del res
    gc.collect()
    assert not folder.exists() and list(tmp_path.glob("vssleval-run-*")) == []


class Broken(ColourBands):
    def encode_audio(self, audio):
        raise RuntimeError("broken audio encoder")


def test_a_failed_run_without_out_leaves_no_folder(tmp_path, monkeypatch):
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    with pytest.raises(Exception, match="broken audio encoder"):
        vssleval.infer(Broken(), "synthetic-vggss", preset=TINY_PRESET, seeds=1, limit=2, verbose=False)
    assert list(tmp_path.glob("vssleval-run-*")) == []


def test_a_run_with_out_keeps_its_folder(tmp_path):
    res = vssleval.infer("center", "synthetic-is3", seeds=1, limit=2, out=tmp_path / "kept", verbose=False)
    del res
    gc.collect()
    assert (tmp_path / "kept" / "store").is_dir()

