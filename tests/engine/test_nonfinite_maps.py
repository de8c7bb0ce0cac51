"""D2: non-finite maps stop the run after the store is written (exit non-zero, each variant and its
count named, the store kept), unless --allow-nonfinite / allow_nonfinite=True, which scores them
under the documented rule and shows the count on the console and at the top of report.md. The
flag is recorded in the run's configuration but is not part of its identity."""

from __future__ import annotations

import json
import textwrap

import pytest
import torch

import vssleval
from shared import ROOT
from engine_helpers import IDENTITY_PLUGIN_YAML
from vssleval.cli import main
from vssleval.engine.store import COMPLETE_FILE, HeatmapStore
from vssleval.errors import VsslevalError

FAST = ["--dataset", "synthetic-vggss", "--limit", "8", "--seeds", "1", "--device", "cpu"]

PLUGIN = '''
import torch

from vssleval.models.baselines import CenterPrior


class FirstMapInf(CenterPrior):
    """The centre prior at 7 x 7 whose first map of every localize call is +inf everywhere."""

    def localize(self, visual, audio):
        maps = super().localize(visual, audio).clone()
        maps[0] = float("inf")
        return maps
'''
PLUGIN_YAML = IDENTITY_PLUGIN_YAML


@pytest.fixture(scope="module")
def nan_checkpoint(tmp_path_factory):
    """The shipped synth-ezvsl checkpoint with every float weight set to NaN."""
    obj = torch.load(ROOT / "checkpoints" / "synth-ezvsl.pth", map_location="cpu", weights_only=True)

    def spoil(x):
        if isinstance(x, dict):
            return {k: spoil(v) for k, v in x.items()}
        return torch.full_like(x, float("nan")) if torch.is_tensor(x) and x.is_floating_point() else x

    path = tmp_path_factory.mktemp("nan") / "synth-ezvsl-nan.pth"
    torch.save(spoil(obj), path)
    return path


@pytest.fixture(scope="module")
def nan_run(nan_checkpoint, tmp_path_factory):
    """An evaluate run on all-NaN weights, refused; (exit code, stderr, run folder)."""
    out = tmp_path_factory.mktemp("runs") / "nan"
    argv = ["evaluate", "--model", "synth-ezvsl", "--checkpoint", str(nan_checkpoint), *FAST, "--bootstrap", "0",
            "--out", str(out)]
    return argv, out


def test_nan_weights_stop_the_run_and_keep_the_store(nan_run, capsys):
    argv, out = nan_run
    code = main(argv)
    captured = capsys.readouterr()
    assert code == 2 and "Traceback" not in captured.err
    assert ("the model produced non-finite (NaN or inf) maps: 32 maps (positive 8 of 8, silence 8 of 8, "
            "noise 8 of 8, offscreen 8 of 8)") in captured.err
    assert "--allow-nonfinite" in captured.err and f"{out / 'store'} is kept for inspection" in captured.err
    assert (out / "store" / COMPLETE_FILE).is_file()  # the store is complete and kept ...
    assert not (out / "metrics.json").exists() and not (out / "report.md").exists()  # ... no plausible numbers
    assert HeatmapStore.open(out).config["allow_nonfinite"] is False

    # the store is rescored with the flag: no model runs, the count on the console and atop report.md
    code = main(["report", "--from-store", str(out), "--out", str(out), "--bootstrap", "0", "--allow-nonfinite"])
    console = capsys.readouterr().out
    warning = ("WARNING: 32 maps (positive 8 of 8, silence 8 of 8, noise 8 of 8, offscreen 8 of 8) are non-finite "
               "(NaN or inf), each scored as the worst case (--allow-nonfinite)")
    assert code == 0 and warning in console
    report = (out / "report.md").read_text()
    assert report.splitlines()[2] == f"> **{warning}**"
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["run"]["allow_nonfinite"] is True
    assert metrics["nonfinite_positive"] == 8 and metrics["nonfinite_noise"] == 8
    assert metrics["ciou"] == 0.0  # worst case: a non-finite positive map never localizes

    # not part of the run's identity: the same run resumes with the flag and is scored
    code = main([*argv, "--resume", "--allow-nonfinite"])
    assert code == 0 and warning in capsys.readouterr().out
    assert HeatmapStore.open(out).config["allow_nonfinite"] is True


def test_report_from_store_refuses_too_without_the_flag(nan_run, capsys, tmp_path):
    argv, out = nan_run
    if not (out / "store" / COMPLETE_FILE).is_file():
        main(argv)
    code = main(["report", "--from-store", str(out), "--out", str(tmp_path / "again"), "--bootstrap", "0"])
    err = capsys.readouterr().err
    assert code == 2 and "positive 8 of 8" in err and "--allow-nonfinite" in err
    assert not (tmp_path / "again" / "metrics.json").exists()
    code = main(["report", str(out), "--out", str(tmp_path / "cmp"), "--allow-nonfinite"])
    assert code == 2 and "--allow-nonfinite only applies with --from-store" in capsys.readouterr().err


def test_plugin_with_some_inf_maps_counts_each_variant(tmp_path, capsys):
    (tmp_path / "inf_plugin.py").write_text(textwrap.dedent(PLUGIN))
    (tmp_path / "inf_plugin.yaml").write_text(PLUGIN_YAML)
    model = f"{tmp_path / 'inf_plugin.py'}:FirstMapInf"
    with pytest.raises(VsslevalError, match=r"4 maps \(positive 1 of 8, silence 1 of 8, noise 1 of 8, "
                                            r"offscreen 1 of 8\)"):
        vssleval.evaluate(model, "synthetic-vggss", seeds=1, limit=8, bootstrap=0, out=tmp_path / "a", verbose=False)
    res = vssleval.evaluate(model, "synthetic-vggss", seeds=1, limit=8, bootstrap=0, out=tmp_path / "b",
                            verbose=False, allow_nonfinite=True)
    assert res.metrics["nonfinite_positive"] == 1 and res.metrics["nonfinite_silence"] == 1
    assert res.config["allow_nonfinite"] is True
    assert "> **WARNING: 4 maps (positive 1 of 8" in (tmp_path / "b" / "report.md").read_text()
    again = vssleval.rescore(tmp_path / "b", tmp_path / "c", bootstrap=0, allow_nonfinite=True, verbose=False)
    assert again.metrics["ciou"] == res.metrics["ciou"]
    with pytest.raises(VsslevalError, match="positive 1 of 8"):
        vssleval.rescore(tmp_path / "b", tmp_path / "d", bootstrap=0, verbose=False)
    # infer stores maps only: a warning with the count, no refusal
    code = main(["infer", "--model-file", model, *FAST, "--overlays", "0", "--out", str(tmp_path / "maps")])
    assert code == 0 and "WARNING: 4 maps (positive 1 of 8" in capsys.readouterr().out
