"""docs/extending.md's four recipes, done from outside the package: a model, a dataset, a protocol and
a metric are written into ``tmp_path`` and registered through the public mechanisms only (nothing
under ``vssleval/`` is edited), then run end to end on a tiny synthetic dataset."""

from __future__ import annotations

import csv
import doctest
import json
import re
import shutil

import numpy as np
import pytest
from shared import ROOT

import vssleval
from vssleval.data.synthetic import synth
from vssleval.metrics import PROTOCOLS
from vssleval.metrics import resampling as rs
from vssleval.metrics.catalog import Metric
from vssleval.metrics.protocols import Protocol, register
from vssleval.models import list_models, load_model_file

MODEL_PY = '''
import torch
import torch.nn.functional as F

from vssleval.models import VsslModel


class BandModel(VsslModel):
    """4x4 colour features against 3 bands of audio energy."""

    needs_checkpoint = False

    def encode_image(self, images):            # [B, 3, 224, 224] -> [B, 3, 4, 4]
        return F.normalize(F.adaptive_avg_pool2d(images, 4), dim=1)

    def encode_audio(self, audio):             # [B, 1, 257, T] -> [B, 3]
        bands = audio.mean(dim=-1).flatten(1)[:, :255].reshape(len(audio), 3, 85).mean(-1)
        return F.normalize(bands, dim=1)

    def similarity(self, visual, audio):       # -> [B, 4, 4]
        return torch.einsum("bchw,bc->bhw", visual, audio)
'''

MODEL_YAML = '''
name: bandmodel
presets:
  juanola2025:
    audio:
      read: {scale: soundfile, channels: mean, dtype: float64, sample_rate: 16000}
      tile_s: 10.0
      crop_s: [3.5, 6.5]
      negatives_enter_after: crop
      frontend: {type: spectrogram, nperseg: 512, noverlap: 353, window_alpha: 0.25, log: true, log_offset: 1.0e-7, divide: 12.0}
    image:
      ops:
        - to_tensor
        - resize_tensor: {size: [224, 224], antialias: false}
        - normalize: {mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225]}
    map: {raw: cosine, upsample: {positive: bilinear}}
'''

DOC = (ROOT / "docs" / "extending.md").read_text(encoding="utf-8")


def _doc_block(lang: str, section: str) -> str:
    """The first ``lang`` code block of docs/extending.md after the heading ``section``."""
    return re.search(rf"{re.escape(section)}.*?```{lang}\n(.*?)```", DOC, re.DOTALL).group(1)


DATASET_YAML = _doc_block("yaml", "## 2. A dataset")  # the doc's own example, run as written


def peak_in_box(maps: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """1.0 where a map's peak pixel lies on the object, per sample (the recipe's new metric).

    ``maps``: [B, h, w] heatmaps at any size; ``gt``: [B, 224, 224] ground truth (> 0 on the object).

    >>> gt = np.zeros((2, 224, 224)); gt[:, :112, :112] = 1
    >>> maps = np.zeros((2, 2, 2)); maps[0, 0, 0] = 1; maps[1, 1, 1] = 1
    >>> peak_in_box(maps, gt).tolist()
    [1.0, 0.0]
    """
    maps = np.asarray(maps, np.float64)
    b, h, w = maps.shape
    rows, cols = np.divmod(maps.reshape(b, -1).argmax(1), w)
    r, c = ((rows + 0.5) * 224 / h).astype(int), ((cols + 0.5) * 224 / w).astype(int)
    return (np.asarray(gt)[np.arange(b), r, c] > 0).astype(np.float64)


class PeakProtocol(Protocol):
    """The recipe's protocol: mean positive-map maximum, plus the new metric ``peak_hit``."""

    name = "peak-demo"
    summary = "peak-demo (docs/extending.md)"
    negatives_required = ()
    metrics = (
        Metric("peak_hit", "peak on the object", "peak hit", True, "Peak demo",
               statistic=lambda ctx: rs.mean_of("peak_hit"), leaderboard=True, compare=True, interval=False),
        Metric("max_positive", "mean max positive", "max pos.", None, "Peak demo", interval=False),
    )

    def sample_records(self, maps, gt, ogl, setup):
        pos = np.asarray(maps["positive"], np.float64)
        # max_positive: report / compare read per_sample.csv only when it has this column
        return {"peak_hit": peak_in_box(pos, gt), "max_positive": pos.reshape(len(pos), -1).max(1)}

    def aggregate(self, seeds, setup, bootstrap):
        return {key: float(np.mean([s.records[key] for s in seeds])) for key in ("peak_hit", "max_positive")}


@pytest.fixture
def model(tmp_path):
    (tmp_path / "band_model.py").write_text(MODEL_PY)
    (tmp_path / "band_model.yaml").write_text(MODEL_YAML)
    return load_model_file(f"{tmp_path / 'band_model.py'}:BandModel")


@pytest.fixture
def dataset(tmp_path, monkeypatch):
    configs = tmp_path / "datasets"
    configs.mkdir()
    # the folder replaces configs/datasets: a shipped config the test also uses is copied beside the new one
    shutil.copy(ROOT / "configs" / "datasets" / "vggss.yaml", configs)
    (configs / "mydata.yaml").write_text(DATASET_YAML)
    monkeypatch.setenv("VSSLEVAL_DATASET_CONFIGS", str(configs))
    root = synth("vggss", 6, 5, tmp_path / "data")
    (root / "frames").rename(root / "pictures")  # the layout option is what finds them
    return root


@pytest.fixture
def protocol():
    proto = register(PeakProtocol())
    yield proto
    PROTOCOLS.pop(proto.name)  # registered for this test only: the shipped list stays three


def test_the_new_metric_function_passes_its_doctest():
    (test,) = doctest.DocTestFinder().find(peak_in_box, globs={"np": np, "peak_in_box": peak_in_box})
    result = doctest.DocTestRunner().run(test)
    assert result.attempted == 3 and result.failed == 0


def test_the_docs_protocol_block_scores_and_rescores_a_run(tmp_path):
    block = _doc_block("python", "## 3. A protocol")
    namespace: dict = {}
    exec(compile(block, "docs/extending.md", "exec"), namespace)  # noqa: S102 - the doc's own block
    try:
        assert isinstance(PROTOCOLS["peak-demo"], namespace["PeakProtocol"])
        run = vssleval.evaluate("random", "synthetic-vggss", protocol="peak-demo", seeds=1, limit=4, bootstrap=0,
                                out=tmp_path / "run", verbose=False)
        with open(tmp_path / "run" / "per_sample.csv", newline="") as fh:
            peaks = [float(row["max_positive"]) for row in csv.DictReader(fh)]
        assert len(peaks) == 4 and run.metrics["max_positive"] == pytest.approx(np.mean(peaks))
        again = vssleval.rescore(tmp_path / "run", tmp_path / "again", verbose=False)
        assert again.metrics["max_positive"] == run.metrics["max_positive"]
    finally:
        PROTOCOLS.pop("peak-demo", None)


def test_a_model_from_a_file_is_registered_with_its_yaml(model):
    assert model == "bandmodel" and "bandmodel" in list_models()
    net = vssleval.load_model(model)
    assert net.needs_checkpoint is False


def test_a_dataset_config_in_the_configs_folder_is_a_dataset(dataset):
    assert "mydata" in vssleval.list_datasets()
    with pytest.raises(vssleval.VsslevalError, match="image file is missing .*/frames/"):
        # the same folder under the shipped vggss config: its frames/ are not there
        vssleval.evaluate("random", "vggss", data_dir=dataset, seeds=1, out=dataset.parent / "bad", verbose=False)


@pytest.mark.slow  # two evaluations, a paired comparison and a report with figures: about 3 s
def test_model_dataset_protocol_and_metric_run_end_to_end(model, dataset, protocol, tmp_path):
    runs = []
    for name in (model, "random"):
        out = tmp_path / f"run-{name}"
        res = vssleval.evaluate(name, "mydata", data_dir=dataset, protocol="peak-demo", neg="silence", seeds=1,
                                bootstrap=0, out=out, verbose=False)
        runs.append(out)
        with open(out / "per_sample.csv", newline="") as fh:
            rows = list(csv.DictReader(fh))
        assert len(rows) == 6 and res.metrics["n_samples"] == 6
        assert res.metrics["protocol"] == "peak-demo"
        assert res.metrics["peak_hit"] == pytest.approx(np.mean([float(r["peak_hit"]) for r in rows]))
        assert "| peak on the object |" in (out / "report.md").read_text()
    metrics = json.loads((runs[0] / "metrics.json").read_text())
    assert metrics["run"]["model_name"] == "bandmodel" and metrics["run"]["dataset"] == "mydata"
    hits = [json.loads((run / "metrics.json").read_text())["peak_hit"] for run in runs]
    assert hits[0] != hits[1]  # the two models tell apart: the comparison below has a difference to show
    # the catalog row reaches compare and the leaderboard with no other change
    table = vssleval.compare(runs[0], runs[1], tmp_path / "cmp", bootstrap=50, verbose=False)
    with open(table, newline="") as fh:
        compared = {row["metric"]: row for row in csv.DictReader(fh)}
    assert list(compared) == ["peak_hit"]  # compare=True on that row only
    assert float(compared["peak_hit"]["diff"]) == pytest.approx(hits[1] - hits[0])
    vssleval.report(runs, tmp_path / "rep", verbose=False)
    board = (tmp_path / "rep" / "leaderboard.md").read_text()
    assert "| model | peak hit |" in board and "max pos." not in board  # leaderboard=True on peak_hit only
