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

SCRIPT = shared.ROOT / "scripts" / "make_test_fixtures.py"
MANIFEST_FILES = [f"manifests/{n}.json" for n in ("ezvsl", "slavc", "fnac", "lvs", "sslalign", "ssltie", "ogl_resnet18")] + [
    f"native/manifests/{n}.json" for n in ("ezvsl", "slavc", "lvs", "sslalign", "ssltie", "sacl_frame", "sacl_sound")]


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


def _probe(tmp_path: Path, **env: str) -> subprocess.CompletedProcess:
    """Run a tiny test file under this suite's root conftest (copied beside it)."""
    (tmp_path / "conftest.py").write_text((shared.ROOT / "tests" / "conftest.py").read_text())
    (tmp_path / "test_probe.py").write_text(PROBE)
    environ = {k: v for k, v in os.environ.items() if not k.startswith("VSSLEVAL_")}
    environ.update(env, PYTHONPATH=str(shared.ROOT / "tests"))
    return subprocess.run([sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-q", "-rA", "-o",
                           "markers=parity\nmetadata", str(tmp_path)],
                          capture_output=True, text=True, cwd=tmp_path, env=environ)


def test_hook_lets_skips_pass_by_default(tmp_path):
    out = _probe(tmp_path)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "1 passed, 3 skipped" in out.stdout


def test_hook_fails_skipped_parity_tests_in_ci_mode(tmp_path):
    # stand-ins that satisfy the start-up check (a checksum list, one public file)
    (tmp_path / "full").mkdir()
    (tmp_path / "full" / "SHA256SUMS").write_text("")
    (tmp_path / "meta").mkdir()
    (tmp_path / "meta" / "vggss.json").write_text("[]")
    probe = tmp_path / "probe"
    probe.mkdir()
    out = _probe(probe, VSSLEVAL_REQUIRE_FULL_FIXTURES="1", VSSLEVAL_FIXTURES=str(tmp_path / "full"),
                 VSSLEVAL_METADATA=str(tmp_path / "meta"))
    assert out.returncode == 1, out.stdout + out.stderr
    assert "2 failed, 1 passed, 1 skipped" in out.stdout
    assert "parity test skipped under VSSLEVAL_REQUIRE_FULL_FIXTURES=1 (it must run in CI): no goldens here" in out.stdout
    assert "metadata test skipped under VSSLEVAL_REQUIRE_FULL_FIXTURES=1" in out.stdout


def test_hook_refuses_ci_mode_without_the_full_set(tmp_path):
    out = _probe(tmp_path, VSSLEVAL_REQUIRE_FULL_FIXTURES="1", VSSLEVAL_FIXTURES=str(tmp_path / "nothing"),
                 VSSLEVAL_METADATA=str(tmp_path / "nothing"))
    assert out.returncode != 0
    assert "VSSLEVAL_REQUIRE_FULL_FIXTURES=1 but missing: the full fixture set" in out.stdout + out.stderr
    assert "the public annotation files" in out.stdout + out.stderr
