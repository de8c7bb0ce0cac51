"""``aclssl`` under the default protocol with negative audio (issue 21 item 6): silence, noise and
offscreen are scored like every model's, the report calibrates its universal threshold from its
own maps (docs/metrics.md §5) and draws it, and the compat protocol refuses it in one line.

One run: the first 2 clips of the fixture VGG-SS, 2 seeds, all negatives, the weight-rule
checkpoint in the release containers (``--checkpoint DIR`` holding all three parts). The same run
also answers the store's questions of ``test_aclssl_store.py`` (bytes per clip for VGG-SS, metrics as
at full precision): its raw maps are captured on their way into the store, so the model (a
ViT-B/16 at 352 px and BEATs) runs once for both modules' checks.
"""

from __future__ import annotations

import csv
import json

import numpy as np
import pytest

import store_bounds
from vssleval.cli import main
from vssleval.engine.store import HeatmapStore
from vssleval.engine.store.shards import EXTREMES_SUFFIX
from vssleval.metrics import calibrate_threshold
from vssleval.report.calibration import calibrate_run
from vssleval.report.runs import load_run
from vssleval.vocabulary import NEGATIVES
from test_aclssl_parity import DATA
from test_aclssl_store import BUDGET, VGGSS_CLIPS, VGGSS_SEEDS, bytes_per_clip

pytestmark = [pytest.mark.slow, pytest.mark.heavy(20)]  # the all-negatives run (after aclssl_run, which it reads)
SEEDS, CLIPS = 2, 2


@pytest.fixture(scope="module")
def checkpoint(release):
    """The session's substitute release (tests/models/conftest.py): DIR, its CLIPSeg part found in
    the Hugging Face cache beside it for as long as this module runs."""
    mp = pytest.MonkeyPatch()
    mp.setenv("HF_HOME", str(release / "hf"))
    yield release / "ckpt"
    mp.undo()


def _evaluate(checkpoint, out, *extra) -> int:
    return main(["evaluate", "--model", "aclssl", "--checkpoint", str(checkpoint), "--dataset", "vggss",
                 "--data-dir", str(DATA), "--limit", str(CLIPS), "--seeds", str(SEEDS), "--bootstrap", "0",
                 "--device", "cpu", "--out", str(out), *extra])


@pytest.fixture(scope="module")
def captured(checkpoint, aclssl_encodings, tmp_path_factory) -> tuple:
    """``(run folder, raw batches)``: the run, and the raw arrays the engine handed to the store.
    The 2 clips are positives of the session's ``aclssl_run``: the encoders hand back its encodings
    of their images and positive audio (``aclssl_encodings``, tests/models/conftest.py) and run on
    the silence, noise and offscreen inputs only."""
    out = tmp_path_factory.mktemp("aclssl-neg") / "run"
    mp = pytest.MonkeyPatch()
    aclssl_encodings(mp)
    capture = store_bounds.RawCapture(mp)
    try:
        assert _evaluate(checkpoint, out, "--neg", "all") == 0
    finally:
        mp.undo()
    return out, capture.batches


@pytest.fixture(scope="module")
def run(captured):
    return captured[0]


def _store_maxima(run_dir) -> dict[str, np.ndarray]:
    """Raw-map maxima per variant from the store, one per (seed, sample) in per_sample.csv's order
    (seed-major): the positive and silence maps are shared by the seeds. ACL-SSL's store keeps its
    maps resized to 224 and each raw 352 map's (max, min) beside them (docs/models.md §2.8): the
    maxima are those, not the resized maps' (which the bicubic resize lowers)."""
    shards = list(HeatmapStore.open(run_dir / "store").iter_shards())
    out = {}
    for v in ("positive",) + NEGATIVES:
        assert all(v + EXTREMES_SUFFIX in s for s in shards), v
        top = np.concatenate([np.asarray(s[v + EXTREMES_SUFFIX])[..., 0] for s in shards], axis=-1)
        top = top.astype(np.float64)  # [N] or [S, N]
        out[v] = np.tile(top, SEEDS) if top.ndim == 1 else top.reshape(-1)
    return out


def test_every_negative_is_scored(run):
    m = json.loads((run / "metrics.json").read_text())
    assert m["protocol"] == "vssleval" and m["run"]["model_name"] == "aclssl"
    assert m["n_seeds"] == SEEDS and m["n_samples"] == CLIPS
    for neg in NEGATIVES:
        for key in (f"pia_{neg}_adap", f"pia_{neg}_med", f"aoc_{neg}_adap", f"auroc_max_{neg}",
                    f"max_{neg}_median", f"ap_{neg}"):
            assert isinstance(m[key], float) and np.isfinite(m[key]), key
        assert 0 <= m[f"pia_{neg}_adap"] <= 1
    assert 0 <= m["auroc_max_neg"] <= 1
    # the noise and offscreen draws differ per seed: their maps are not the positive's
    maxima = _store_maxima(run)
    for neg in ("noise", "offscreen"):
        assert not np.array_equal(maxima[neg], maxima["positive"]), neg


def test_per_sample_maxima_are_the_stored_maps(run):
    with open(run / "per_sample.csv", newline="", encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == SEEDS * CLIPS
    maxima = _store_maxima(run)
    for v, values in maxima.items():
        assert [float(r[f"max_{v}"]) for r in rows] == values.tolist(), v


def test_the_report_calibrates_the_threshold_from_the_maps(run, tmp_path):
    """The default protocol's rule (youden on positive vs pooled negative maxima) recomputed from the
    stored maps is the report's threshold, and report.md prints it for aclssl."""
    maxima = _store_maxima(run)
    expected = calibrate_threshold(maxima["positive"], np.concatenate([maxima[n] for n in NEGATIVES]))
    got = calibrate_run(load_run(run))
    assert got["rule"] == expected["rule"] == "youden"
    for key in ("threshold", "tpr", "fpr", "balanced_accuracy", "auroc"):
        assert got[key] == pytest.approx(expected[key], abs=1e-12), key
    lo, hi = min(v.min() for v in maxima.values()), max(v.max() for v in maxima.values())
    assert lo - 1.0 <= got["threshold"] <= hi + 1.0  # a midpoint of the observed maxima (or one past them)

    rep = tmp_path / "report"
    assert main(["report", str(run), "--out", str(rep), "--overlays", "2", "--sweep-samples", "0"]) == 0
    for name in ("report.md", "summary.csv", "leaderboard.md", "leaderboard.csv", "leaderboard.tex",
                 "maxima.png", "maxima.pdf", "roc.png", "roc.pdf", "threshold_sweep.png", "threshold_sweep.pdf",
                 "overlays/aclssl.png"):
        assert (rep / name).is_file() and (rep / name).stat().st_size > 0, name
    md = (rep / "report.md").read_text()
    t = f"{expected['threshold']:.4g}" if expected["tpr"] > expected["fpr"] else "none"
    assert f"| aclssl | vggss | calibrated | {t} |" in md
    assert "![overlays aclssl](overlays/aclssl.png)" in md
    with open(rep / "summary.csv", newline="", encoding="utf-8") as fh:
        summary = {r["key"]: r for r in csv.DictReader(fh) if r["model"] == "aclssl"}
    for neg in NEGATIVES:
        assert float(summary[f"pia_{neg}_adap"]["mean"]) == pytest.approx(
            json.loads((run / "metrics.json").read_text())[f"pia_{neg}_adap"], abs=1e-12)
    with open(rep / "leaderboard.csv", newline="", encoding="utf-8") as fh:
        assert [r["model"] for r in csv.DictReader(fh)] == ["aclssl"]


def test_the_compat_protocol_is_refused_in_one_line(checkpoint, run, tmp_path, capsys):
    """vssl_eval has no ACL-SSL path: evaluate and rescore under juanola2025 stop with one line that
    names the reason, before writing anything."""
    out = tmp_path / "compat"
    assert _evaluate(checkpoint, out, "--protocol", "juanola2025") == 2
    again = tmp_path / "rescored"
    assert main(["rescore", str(run), "--out", str(again), "--protocol", "juanola2025"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 2 and "Traceback" not in "".join(err)
    for line in err:
        assert line.startswith("vssleval: error: protocol juanola2025 needs the model's universal thresholds")
        assert "aclssl" in line and "--protocol vssleval" in line
    assert not out.exists() and not again.exists()


@pytest.mark.slow
def test_the_run_fits_the_vggss_budget_and_scores_as_full_precision(captured, tmp_path):
    """The store of the run: bytes per clip from the shard files, extrapolated to VGG-SS with 10
    seeds, within 10 GB; metrics as at full precision (``test_aclssl_store.py``'s bounds)."""
    run_dir, batches = captured
    store = HeatmapStore.open(run_dir)
    assert store.config["store_maps"] == {"size": 224, "op": "bicubic", "negatives": "float12"}
    assert batches[0]["positive"].shape == (2, 352, 352)  # the raw maps, before the store
    per_clip = bytes_per_clip(store, n_seeds=VGGSS_SEEDS)
    assert per_clip * VGGSS_CLIPS <= BUDGET
    for protocol in ("vssleval", "native"):
        measured = store_bounds.compare_with_full_precision(store, batches, tmp_path, protocol)
        print(f"\n{protocol}: largest changes {measured['metrics']} (metrics), {measured['records']} (per sample); "
              f"every order of confidences kept: {measured['order_kept']}")
    raw_per_clip = bytes_per_clip(measured["full_store"], n_seeds=VGGSS_SEEDS)
    print(f"aclssl store: {per_clip:,.0f} bytes per clip with {VGGSS_SEEDS} seeds -> "
          f"{per_clip * VGGSS_CLIPS / 1e9:.2f} GB for {VGGSS_CLIPS} clips (raw float32 maps at 352: "
          f"{raw_per_clip:,.0f} bytes per clip -> {raw_per_clip * VGGSS_CLIPS / 1e9:.1f} GB)")
    assert raw_per_clip * VGGSS_CLIPS > 5 * BUDGET  # what map.store is for
