"""``scripts/bench_aclssl.py``: its plan (``--dry-run``) and its arguments, without running a model.

The timings themselves are not tested (speed claims live in the script's output and
docs/performance.md §7); what is tested is that the children it would start are the runs the issue
names, spelled with flags the real CLI accepts.
"""

from __future__ import annotations

import importlib.util
import shlex
from pathlib import Path

import pytest

from vssleval.cli import build_parser

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "bench_aclssl.py"


@pytest.fixture(scope="module")
def bench():
    spec = importlib.util.spec_from_file_location("bench_aclssl_under_test", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _plan(bench, capsys, *argv) -> dict[str, list[str]]:
    assert bench.main(["--dry-run", *argv]) == 0
    out = capsys.readouterr().out.splitlines()
    assert "synthetic VGG-SS" in out[0] and "load average" in out[0]
    return {line.split(":", 1)[0]: line.split(": ", 1)[1] for line in out[1:]}


def _evaluate_args(command: str):
    words = shlex.split(command)
    return build_parser().parse_args(words[words.index("evaluate"):])


def test_the_plan_runs_the_issues_three_evaluations_and_the_memory_batch(bench, capsys):
    plan = _plan(bench, capsys, "--clips", "3", "--device", "cpu")
    assert list(plan) == ["baseline", "positive", "all", "memory"]
    pos, alln = _evaluate_args(plan["positive"]), _evaluate_args(plan["all"])
    default_batch = build_parser().parse_args(["evaluate"]).batch_size
    for a in (pos, alln):
        assert (a.model, a.dataset, a.device, a.bootstrap, a.batch_size) == ("aclssl", "vggss", "cpu", 0, default_batch)
        assert a.data_dir == alln.data_dir and a.checkpoint == alln.checkpoint
    assert (pos.neg, pos.seeds, pos.noise_bank) == ("none", "1", 0)
    assert (alln.neg, alln.seeds, alln.noise_bank) == ("all", "10", 4)
    assert "--baseline-child" in plan["baseline"] and "--memory-child --memory-batch 32" in plan["memory"]
    assert f"--checkpoint {pos.checkpoint} --data {pos.data_dir}" in plan["baseline"]


def test_the_official_code_is_timed_only_when_both_options_are_given(bench, capsys, tmp_path):
    plan = _plan(bench, capsys, "--official-src", str(tmp_path / "src"), "--official-python", "/py",
                 "--memory-batch", "0", "--seeds", "2", "--noise-bank", "1")
    assert list(plan) == ["baseline", "official", "positive", "all"]
    words = shlex.split(plan["official"])
    assert words[0] == "/py" and words[3] == "1"  # the thread count pinned for the harness
    assert words[4].endswith("scripts/reference/aclssl.py") and Path(words[4]).is_file()
    assert words[words.index("--src") + 1] == str(tmp_path / "src")
    assert (_evaluate_args(plan["all"]).seeds, _evaluate_args(plan["all"]).noise_bank) == ("2", 1)
    with pytest.raises(SystemExit):
        bench.parse_args(["--official-src", str(tmp_path)])
    with pytest.raises(SystemExit):
        bench.parse_args(["--clips", "1"])  # no offscreen clip to draw
    with pytest.raises(SystemExit):
        bench.parse_args(["--keep", str(tmp_path)])  # an existing folder is never written into
