"""The test fixtures themselves: the committed bundle, the weight rule, and the CI strictness hook."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

import shared
import weight_rule

pytest_plugins = ["pytester"]  # the strictness hook runs on probe files in-process

SCRIPT = shared.ROOT / "scripts" / "make_test_fixtures.py"
MANIFEST_FILES = shared.manifest_files()


def _script(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(SCRIPT), *args], capture_output=True, text=True, cwd=shared.ROOT)


def test_bundle_matches_its_manifest_and_size_limit():
    out = _script("--check", "--source", str(shared.FULL_ROOT))
    assert out.returncode == 0, out.stdout + out.stderr
    record = json.loads((shared.BUNDLE_ROOT / "MANIFEST.json").read_text())["files"]
    total = sum(p.stat().st_size for p in shared.BUNDLE_ROOT.rglob("*") if p.is_file())
    assert total <= 10 * 1024**2, f"the bundle is {total / 1e6:.1f} MB (limit 10 MB)"
    assert all(e["sources"] and e["kept"] for e in record.values())


def test_check_reports_a_modified_file(tmp_path):
    import shutil

    copy = tmp_path / "fixtures"
    shutil.copytree(shared.BUNDLE_ROOT, copy)
    (copy / "metrics" / "metrics_ezvsl_vggss.json").write_text("{}\n")
    (copy / "stray.txt").write_text("x")
    out = _script("--check", "--out", str(copy), "--source", str(tmp_path / "none"))
    assert out.returncode == 1
    assert "sha256 differs from MANIFEST.json: metrics/metrics_ezvsl_vggss.json" in out.stdout
    assert "not in MANIFEST.json: stray.txt" in out.stdout


@pytest.mark.parity
@shared.requires_full
@pytest.mark.slow
def test_bundle_regenerates_byte_for_byte(tmp_path):
    """The committed bundle is exactly what the script derives from the full set present."""
    out = _script("--source", str(shared.FULL_ROOT), "--out", str(tmp_path / "fx"))
    assert out.returncode == 0, out.stdout + out.stderr
    ours = json.loads((tmp_path / "fx" / "MANIFEST.json").read_text())
    committed = json.loads((shared.BUNDLE_ROOT / "MANIFEST.json").read_text())
    assert ours == committed


@pytest.mark.parity
@pytest.mark.slow
@pytest.mark.parametrize("rel", MANIFEST_FILES)
def test_weight_rule_reproduces_every_manifest_sha256(rel):
    m = shared.manifest(shared.BEST.root / rel)
    sd = weight_rule.state_dict(m)
    assert len(sd) == len(m["tensors"]) > 0
    bad = [t["key"] for t in m["tensors"] if weight_rule.sha256(sd[t["key"]]) != t["sha256"]]
    assert bad == []


@pytest.mark.parametrize("rel", MANIFEST_FILES)
def test_bundled_manifests_equal_the_full_ones(rel):
    if not shared.HAVE_FULL:
        pytest.skip(shared.NO_FULL_REASON)
    full, ours = shared.manifest(shared.FULL.root / rel), shared.manifest(shared.BUNDLE.root / rel)
    assert ours["checkpoint"] == full["checkpoint"]
    assert ours["tensors"] == [{k: t[k] for k in ("key", "shape", "dtype", "sha256")} for t in full["tensors"]]


# -- the strictness hook of tests/conftest.py -----------------------------------------------------
PROBE = textwrap.dedent("""
    import pytest

    @pytest.mark.parity
    def test_parity_skips():
        pytest.skip("no goldens here")

    @pytest.mark.metadata
    def test_metadata_skips():
        pytest.skip("no public files here")

    def test_plain_skips():
        pytest.skip("not a parity test")

    @pytest.mark.parity
    def test_parity_runs():
        assert True
""")


def _probe(tmp_path: Path, pytester, monkeypatch, extra: str = "", **env: str) -> subprocess.CompletedProcess:
    """Run a tiny test file (``PROBE`` + ``extra``) under this suite's root conftest (copied beside it),
    in this process (pytester, its own session; ``sys.modules`` restored afterwards): a pytest
    subprocess would spend seconds importing torch again. The environment is the probe's alone
    (no ``VSSLEVAL_*`` but ``env``), and ``shared``, which reads it at import, is imported afresh."""
    (tmp_path / "conftest.py").write_text((shared.ROOT / "tests" / "conftest.py").read_text())
    (tmp_path / "test_probe.py").write_text(PROBE + extra)
    for key in [k for k in os.environ if k.startswith("VSSLEVAL_") or k.startswith("PYTEST_XDIST")]:
        monkeypatch.delenv(key)
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delitem(sys.modules, "shared")
    monkeypatch.chdir(tmp_path)
    result = pytester.runpytest_inprocess("-p", "no:cacheprovider", "-q", "-rA", "-o",
                                          "markers=parity\nmetadata\nbundle_only", "--rootdir", str(tmp_path),
                                          str(tmp_path))
    out = "\n".join(result.outlines)
    return subprocess.CompletedProcess([], int(result.ret), out, "\n".join(result.errlines))


#: a ``bundle_only`` parity check: it runs on a bare clone and is deselected (never skipped) when the
#: full set is present, since the full set replaces the bundle (docs/testing.md)
BUNDLE_TWIN = "\n@pytest.mark.parity\n@pytest.mark.bundle_only\ndef test_bundle_twin():\n    assert True\n"


def test_hook_lets_skips_pass_by_default(tmp_path, pytester, monkeypatch):
    out = _probe(tmp_path, pytester, monkeypatch, extra=BUNDLE_TWIN, VSSLEVAL_FIXTURES=str(tmp_path / "nothing"))
    assert out.returncode == 0, out.stdout + out.stderr
    assert "2 passed, 3 skipped" in out.stdout  # the bundle twin runs


def _stand_ins(tmp_path):
    """A full set and public files that satisfy the start-up check (a checksum list, one public
    file) under ``tmp_path/full`` and ``tmp_path/meta``; returns the empty probe folder."""
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "SHA256SUMS").write_text("")
    (tmp_path / "meta").mkdir()
    (tmp_path / "meta" / "vggss.json").write_text("[]")
    probe = tmp_path / "probe"
    probe.mkdir()
    return probe


def test_hook_fails_skipped_parity_tests_in_ci_mode(tmp_path, pytester, monkeypatch):
    probe = _stand_ins(tmp_path)
    out = _probe(probe, pytester, monkeypatch, extra=BUNDLE_TWIN, VSSLEVAL_REQUIRE_FULL_FIXTURES="1", VSSLEVAL_FIXTURES=str(tmp_path / "full"),
                 VSSLEVAL_METADATA=str(tmp_path / "meta"))
    assert out.returncode == 1, out.stdout + out.stderr
    assert "2 failed, 1 passed, 1 skipped, 1 deselected" in out.stdout  # the bundle twin deselected
    assert "parity test skipped under VSSLEVAL_REQUIRE_FULL_FIXTURES=1 (it must run in CI): no goldens here" in out.stdout
    assert "metadata test skipped under VSSLEVAL_REQUIRE_FULL_FIXTURES=1" in out.stdout


def test_hook_refuses_ci_mode_without_the_full_set(tmp_path, pytester, monkeypatch):
    out = _probe(tmp_path, pytester, monkeypatch, VSSLEVAL_REQUIRE_FULL_FIXTURES="1", VSSLEVAL_FIXTURES=str(tmp_path / "nothing"),
                 VSSLEVAL_METADATA=str(tmp_path / "nothing"))
    assert out.returncode != 0
    assert "VSSLEVAL_REQUIRE_FULL_FIXTURES=1 but missing: the full fixture set" in out.stdout + out.stderr
    assert "the public annotation files" in out.stdout + out.stderr


def test_model_lists_are_read_from_the_fixtures():
    """The one model list of the parity tests is the fixtures' (no hand-written list to keep)."""
    for fx in (shared.BUNDLE, shared.FX):
        metrics = {p.stem.removeprefix("metrics_").rsplit("_", 1)[0] for p in fx.metrics.glob("metrics_*_vggss.json")}
        assert set(shared.juanola_models(fx)) == metrics and len(metrics) >= 6
        assert set(shared.native_models(fx)) == {p.stem.removesuffix("_vggss") for p in fx.native_metrics.glob("*_vggss.json")}
        assert "ogl_resnet18" not in shared.juanola_models(fx)  # the OGL prior's weights: a manifest, no run
    assert len(shared.manifest_files(shared.BUNDLE)) == len(shared.manifest_files()) == 14


# -- what the suite's determinism rests on (tests/conftest.py) --------------------------------------
def test_hypothesis_is_derandomized_and_timing_free():
    """Fixed examples, no example database, no deadline, no too-slow health check: a property test
    gives the same verdict on every run, however loaded the machine (docs/testing.md)."""
    from hypothesis import HealthCheck, settings

    profile = settings.default
    if os.environ.get("VSSLEVAL_HYPOTHESIS"):
        pytest.skip("a Hypothesis profile was chosen by VSSLEVAL_HYPOTHESIS")
    assert profile.derandomize and profile.database is None and profile.deadline is None
    assert HealthCheck.too_slow in profile.suppress_health_check


@pytest.mark.parametrize("draw_first", [False, True])
def test_each_test_starts_from_the_same_global_random_state(draw_first):
    """Whatever ran before (here: the first case draws, the second must not see it), a test's
    unseeded draws are those of seed 0."""
    import random

    import numpy as np
    import torch

    assert random.random() == random.Random(0).random()
    assert np.random.random() == np.random.RandomState(0).random_sample()
    assert torch.equal(torch.rand(3), torch.rand(3, generator=torch.Generator().manual_seed(0)))
    if draw_first:
        np.random.seed(1)
        torch.rand(100)
